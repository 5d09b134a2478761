// The process's own metrics: build information, open and allowed file
// descriptors, resident memory. Read from /proc/self at each scrape (memory
// files: no disk I/O).
#pragma once

#include "agent/metrics/registry.h"

namespace agent::metrics {

void write_process_metrics(Registry& registry);

}  // namespace agent::metrics
