#!/usr/bin/env python3
"""Thousands of concurrent sleeping tasks on one agent.

    scale.py --socket PATH --stamp BUILD/bench_stamp [--tasks N]

Submits N tasks (pipelined, one connection) that each run
`bench_stamp --until END`: they sleep until the same instant END, print the
clock and exit. Measures, on the agent's process alone (not its children):
  - how long until all N run, and the agent's fds and PSS (smaps_rollup) then,
    per task, against the idle agent before;
  - exit to result: from END (each task's printed clock) to the arrival of its
    execution's final state on a watch, p50/p99/max: the reap, the log, the
    store and the report of N exits at once;
  - the agent's loop lag over the whole run (stats.loopLag, its timer drift
    probe: the difference of two readings), p50/p99/max;
  - that every task succeeded and that fds return to where they were.
N is capped by the agent's RLIMIT_NOFILE (3 fds per running task: two pipes
and a pidfd); the JSON says when it was (`limited_by`).
"""

import argparse
import json
import os
import sys
import time

from benchlib import FINAL_STATES, BenchError, Conn, agent_pid, check_ok, encode, percentile, stats
from load import process_flow

FDS_PER_TASK = 3


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def children(pid):
    """The agent's child processes (its tasks, and its task reaper)."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                n += len(f.read().split())
        except OSError:
            pass
    return n


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise BenchError("no Pss in smaps_rollup")


def nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise BenchError("no open files limit")


def lag_quantiles(before, after):
    """p50/p99 (us) of the samples taken between two loopLag readings."""
    b = {str(le): c for le, c in before["buckets"]}
    rows, prev_le, prev_cum = [], 0.0, 0
    for le, cum in after["buckets"]:
        cum -= b.get(str(le), 0)
        hi = float(after["maxUs"]) if le == "+Inf" else float(le)
        rows.append((prev_le, hi, cum - prev_cum))
        prev_le, prev_cum = hi, cum
    total = prev_cum

    def q(x):
        rank, below = x * total, 0
        for lo, hi, n in rows:
            if n and below + n >= rank:
                return lo + (hi - lo) * (rank - below) / n
            below += n
        return 0.0

    return total, q(0.5), q(0.99)


def run(args):
    deadline = time.monotonic() + args.timeout
    conn = Conn(args.socket, deadline)
    pid = agent_pid(conn)
    s0 = stats(conn, "s0")
    limit = nofile(pid)
    # The second connection (stats while they run) is counted in the idle
    # figure, as the first is: fds_after compares the agent's own.
    probe = Conn(args.socket, deadline)
    fds0, pss0 = fd_count(pid), pss_kib(pid)
    base_children = children(pid)
    n = args.tasks
    limited_by = None
    fit = (limit - fds0 - 64) // FDS_PER_TASK
    if fit < n:
        n, limited_by = fit, "RLIMIT_NOFILE %d (%d fds per task)" % (limit, FDS_PER_TASK)
    if s0.get("maxRunning", 0) < n:
        raise BenchError("the agent's maxRunning %s is below %d" % (s0.get("maxRunning"), n))
    check_ok(conn.request({"id": "watch", "op": "watch"}), "watch")
    # Time to start them all before they end: generous, as starting slows
    # down with thousands already running (ext4 mkdir, fd table copies).
    lead_s = max(20.0, n / 80.0)
    end_ns = time.time_ns() + int(lead_s * 1e9)
    flow = process_flow("sleeper", [args.stamp, "--until", str(end_ns)])
    reqs = [encode({"id": i, "op": "submit", "flow": flow}) for i in range(n)]
    t0 = time.monotonic()
    conn.send_async([b"".join(reqs[i: i + 256]) for i in range(0, n, 256)])
    ids, arrived, states, all_running = [], {}, {}, None
    last_probe = 0.0
    fds1 = pss1 = None
    while len(arrived) < n:
        for line in conn.batch():
            m = json.loads(line)
            if isinstance(m.get("id"), int):
                ids.append(check_ok(m, "submit")["executionId"])
            elif (m.get("event") == "state" and "taskRunId" not in m
                  and m.get("state") in FINAL_STATES):
                arrived[m["executionId"]] = time.time_ns()
                states[m["state"]] = states.get(m["state"], 0) + 1
        now = time.monotonic()
        if all_running is None and time.time_ns() >= end_ns:
            raise BenchError("the tasks began to end %.0f s after the first submit, before all %d "
                             "were running (%d were): raise the lead" % (lead_s, n, children(pid) - base_children))
        if all_running is None and now - last_probe > 0.05:
            last_probe = now
            # stats.running also counts tasks still being prepared: count
            # the processes themselves.
            if children(pid) >= n + base_children:
                all_running = now - t0
                fds1, pss1 = fd_count(pid), pss_kib(pid)
                if time.time_ns() >= end_ns:
                    raise BenchError("the tasks ended before all were running: raise the lead")
    s1 = stats(probe, "s1")
    # Each task's exit instant, as it printed it.
    exit_to = []
    for k, eid in enumerate(ids):
        stamp = None
        conn.send(encode({"id": "l%d" % k, "op": "logs", "executionId": eid}))
        while True:
            m = json.loads(conn.line())
            if m.get("id") != "l%d" % k:
                continue
            if m.get("event") == "logs":
                for ln in m.get("lines", []):
                    if ln.get("message", "").strip().isdigit():
                        stamp = int(ln["message"])
            elif m.get("event") == "end" or ("ok" in m and not m["ok"]):
                break
        if stamp is not None and eid in arrived:
            exit_to.append((arrived[eid] - stamp) / 1e9)
    # Working directories and cgroups go just after the results: wait for
    # the descriptors to come back (30 s at most).
    until = time.monotonic() + 30
    fds2 = fd_count(pid)
    while fds2 != fds0 and time.monotonic() < until:
        time.sleep(0.1)
        fds2 = fd_count(pid)
    probe.close()
    conn.close()
    exit_to.sort()

    def pct(q):
        return round(percentile(exit_to, q) * 1e3, 3)

    samples, lag50, lag99 = lag_quantiles(s0["loopLag"], s1["loopLag"])
    out = {
        "tasks": n, "requested": args.tasks, "limited_by": limited_by, "nofile": limit,
        "states": states,
        "all_running_s": round(all_running, 3) if all_running else None,
        "agent_fds_idle": fds0, "agent_fds_running": fds1, "agent_fds_after": fds2,
        "fds_per_task": round((fds1 - fds0) / n, 3),
        "agent_pss_idle_kib": pss0, "agent_pss_running_kib": pss1,
        "pss_per_task_kib": round((pss1 - pss0) / n, 3),
        "exit_to_result_p50_ms": pct(0.5), "exit_to_result_p99_ms": pct(0.99),
        "exit_to_result_max_ms": pct(1.0), "stamps": len(exit_to),
        "loop_lag_samples": samples, "loop_lag_p50_ms": round(lag50 / 1e3, 3),
        "loop_lag_p99_ms": round(lag99 / 1e3, 3),
        "loop_lag_max_ms_since_start": round(s1["loopLag"]["maxUs"] / 1e3, 3),
    }
    print(json.dumps(out), flush=True)
    ok = states.get("SUCCESS", 0) == n and len(exit_to) == n and fds2 == fds0
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--stamp", required=True, help="path of bench_stamp")
    p.add_argument("--tasks", type=int, default=10000)
    p.add_argument("--timeout", type=float, default=900.0)
    args = p.parse_args()
    try:
        return run(args)
    except BenchError as e:
        print("scale: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
