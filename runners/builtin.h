#pragma once

#include "agent/runner/registry.h"

namespace runners {

// Registers every runner compiled into this build: the one table.
agent::Status register_builtin_runners(agent::runner::Registry& registry);

}  // namespace runners
