// What runnerctl prints, made from the agent's JSON results and events. Pure:
// every function returns text; times relative to "now" take it as a parameter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json/read.h"

namespace agent::cli {

// "<ts> <LEVEL padded to 5> [<taskId>] <message>\n"
std::string format_log_line(std::string_view ts, std::string_view level, std::string_view task_id,
                            std::string_view message);
// Every line of a `logs` event, each as format_log_line.
std::string format_log_event(json::Element event);

// Columns aligned on the widest cell, two spaces apart; no trailing spaces.
std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows);

// "io.kestra.plugin.core.runner.Process" -> "Process"; empty -> "-".
std::string runner_short_name(std::string_view runner);
// An execution's or task run's duration for humans: durationMs, else for one
// still running now - startedAt, else "-".
std::string run_duration(json::Element run, int64_t now_ms);
// "12s ago" from an ISO-8601 timestamp; the text itself if it does not parse.
std::string time_ago(std::string_view iso_ts, int64_t now_ms);

// `ps`: the table of a `list` result; with `with_tasks`, task runs indented
// under each execution.
std::string format_ps(json::Element list_result, bool with_tasks, int64_t now_ms);
// The summary `run` and `logs -f` print at the end:
// "execution <id> SUCCESS in 1.2s" and a line per task run.
std::string format_summary(json::Element execution, int64_t now_ms);
// `get`: an execution in detail.
std::string format_execution(json::Element execution, int64_t now_ms);
// `outputs`: vars, metrics and output files per task run.
std::string format_outputs(json::Element outputs);
// `stats`: the agent's counters, one per line.
std::string format_stats(json::Element stats);
// `hello`: versions.
std::string format_hello(json::Element hello);

// 1536 -> "1.5 KiB".
std::string human_bytes(int64_t bytes);

}  // namespace agent::cli
