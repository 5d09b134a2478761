// Tells the service manager what the agent is doing (systemd's Type=notify):
// READY=1 once its socket listens, STOPPING=1 when a graceful stop begins.
// Started by anything else ($NOTIFY_SOCKET unset), these send nothing.
#pragma once

#include <string_view>

#include "agent/common/result.h"

namespace agent::notify {

// The socket accepts clients and the state is loaded; `status` is shown by
// `systemctl status`.
Status ready(std::string_view status);
// A graceful stop began: no new clients, running tasks drain.
Status stopping(std::string_view status);

}  // namespace agent::notify
