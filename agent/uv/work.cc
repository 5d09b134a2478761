#include "agent/uv/work.h"

namespace agent::uv {

namespace {

struct WorkItem {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> after;
};

}  // namespace

void queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void()> after) {
  auto* item = new WorkItem{{}, std::move(work), std::move(after)};
  item->req.data = item;
  int rc = uv_queue_work(
      loop, &item->req, [](uv_work_t* req) noexcept { static_cast<WorkItem*>(req->data)->work(); },
      [](uv_work_t* req, int) noexcept {
        auto* it = static_cast<WorkItem*>(req->data);
        it->after();
        delete it;
      });
  if (rc != 0) {  // only fails for a null callback: run inline rather than lose it
    item->work();
    item->after();
    delete item;
  }
}

}  // namespace agent::uv
