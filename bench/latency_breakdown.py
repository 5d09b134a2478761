#!/usr/bin/env python3
"""Where one task's submit-to-result time goes on an idle agent.

    latency_breakdown.py --agent-log FILE --timeline FILE [--warmup N]

Joins the `LAT TAG NS` lines a probed agent wrote on stderr (see
latency_probe.patch) with the client's timeline (`latency.py --timeline`):
the instants of each task, in the order they happen, and the p50 and mean of
every step between two of them, in microseconds. Tasks run one at a time, so
the agent's lines are grouped by `1_submit_read`; the first N groups are
latency.py's warm-up tasks, which its timeline leaves out.
"""

import argparse
import statistics
import sys

AGENT_ORDER = ["1_submit_read", "2_submission_stored", "3_run_created_stored", "4_launch",
               "5_spawned", "7_exit_seen", "8a_run_ended", "8b_run_end_stored",
               "9_execution_final_stored"]


def agent_groups(path):
    groups = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or parts[0] != "LAT":
                continue
            _, tag, ns = parts
            if tag == AGENT_ORDER[0]:
                groups.append({})
            if groups:
                groups[-1].setdefault(tag, int(ns))
    return groups


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent-log", required=True)
    p.add_argument("--timeline", required=True)
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()
    groups = agent_groups(args.agent_log)
    with open(args.timeline) as f:
        client = [list(map(int, line.split())) for line in f if line.strip()]
    if len(groups) != args.warmup + len(client):
        print("latency_breakdown: %d probed submissions for %d warm-up and %d timed tasks"
              % (len(groups), args.warmup, len(client)), file=sys.stderr)
        return 2
    order = ["0_client_send"] + AGENT_ORDER[:5]
    if len(client[0]) == 3:
        order.append("6_task_printed")  # bench_stamp's clock as it exits
    order += AGENT_ORDER[5:] + ["Z_client_saw_result"]
    tasks = []
    for g, c in zip(groups[args.warmup:], client):
        t = dict(g)
        t["0_client_send"], t["Z_client_saw_result"] = c[0], c[1]
        if len(c) == 3:
            t["6_task_printed"] = c[2]
        tasks.append(t)
    print("%-26s -> %-26s %8s %8s" % ("from", "to", "p50 us", "mean us"))
    for a, b in zip(order, order[1:]):
        d = [(t[b] - t[a]) / 1e3 for t in tasks if a in t and b in t]
        if not d:
            print("%-26s -> %-26s  (no probe)" % (a, b))
            continue
        print("%-26s -> %-26s %8.1f %8.1f" % (a, b, statistics.median(d), statistics.mean(d)))
    total = [(t["Z_client_saw_result"] - t["0_client_send"]) / 1e3 for t in tasks]
    print("%-56s %8.1f %8.1f" % ("total, client send to client saw the result", statistics.median(total),
                                 statistics.mean(total)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
