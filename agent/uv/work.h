// Runs blocking work on libuv's thread pool and a completion on the loop.
// `work` must touch nothing the loop owns; `after` runs on the loop thread.
#pragma once

#include <uv.h>

#include <functional>

namespace agent::uv {

void queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void()> after);

}  // namespace agent::uv
