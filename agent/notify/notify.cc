#include "agent/notify/notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace agent::notify {

namespace {

// sd_notify: > 0 sent, 0 no $NOTIFY_SOCKET, < 0 a negative errno.
Status send(std::string_view state, std::string_view status) {
  std::string message(state);
  if (!status.empty()) {
    message += "\nSTATUS=";
    message += status;
  }
  int rc = sd_notify(0, message.c_str());
  if (rc < 0) return Error::from_errno(-rc, "notifying the service manager (" + std::string(state) + ")");
  return {};
}

}  // namespace

Status ready(std::string_view status) { return send("READY=1", status); }

Status stopping(std::string_view status) { return send("STOPPING=1", status); }

}  // namespace agent::notify
