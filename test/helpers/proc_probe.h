// What the integration tests read of the processes they start, from /proc,
// and how they print a figure for the run's log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace test {

// The whole file ("" if it cannot be read).
std::string read_text(const std::string& path);
// How many lines a file has.
int lines_in(const std::string& path);
// utime + stime of a process, in clock ticks; -1 if it is gone.
int64_t cpu_ticks(pid_t pid);
// How many descriptors a process has open.
int fd_count(pid_t pid);
// Running: it exists and is not a zombie waiting to be reaped.
bool alive(pid_t pid);
// Waits until `pid` is no longer alive; false if it still is after `timeout`.
bool wait_dead(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// One "SUITE: NAME VALUE UNIT" line on stdout: the figures a run reports.
void figure(std::string_view suite, std::string_view name, double value, std::string_view unit);

}  // namespace test
