#!/usr/bin/env python3
"""Per-task latency on an idle agent: one task at a time, each submitted only
once the previous one has its result.

    latency.py --socket PATH --program PATH [--n N] [--stamp]

Each task runs PROGRAM with no shell (Process runner, `interpreter: []`). For
each task the client records, on its own clock:
  submit_to_running  from sending the submit to the task run's RUNNING event;
  submit_to_result   from sending the submit to the execution's final state
                     (which the agent announces only once it is stored).
With --stamp, PROGRAM is bench_stamp, which prints the wall clock as it exits;
the stored line is read back afterwards and
  exit_to_result     from that instant to the final state's arrival
is added: what the agent takes to notice the exit, reap, store and report.
Prints one JSON line with p50/p99/max of each, in ms. With --timeline FILE,
also writes one line per counted task, `SEND_NS RESULT_NS [STAMP_NS]` on the
wall clock, which latency_breakdown.py lines up with a probed agent's.
"""

import argparse
import json
import sys
import time

from benchlib import FINAL_STATES, BenchError, Conn, agent_pid, check_ok, encode, percentile
from load import process_flow


def summary(name, xs):
    return {name + "_p50_ms": round(percentile(xs, 0.5) * 1e3, 3),
            name + "_p99_ms": round(percentile(xs, 0.99) * 1e3, 3),
            name + "_max_ms": round(max(xs) * 1e3, 3)}


def stamp_of(conn, eid, rid):
    """The number bench_stamp printed, from the execution's stored log."""
    conn.send(encode({"id": rid, "op": "logs", "executionId": eid}))
    stamp = None
    while True:
        m = json.loads(conn.line())
        if m.get("id") != rid:
            continue
        if "ok" in m:
            check_ok(m, "logs")
        elif m.get("event") == "logs":
            for line in m.get("lines", []):
                text = line.get("message", "").strip()
                if text.isdigit():
                    stamp = int(text)
        elif m.get("event") == "end":
            if stamp is None:
                raise BenchError("execution %s logged no stamp" % eid)
            return stamp


def run(args):
    deadline = time.monotonic() + args.timeout
    conn = Conn(args.socket, deadline)
    agent_pid(conn)
    check_ok(conn.request({"id": "watch", "op": "watch"}), "watch")
    flow = process_flow("latency", [args.program])
    running, result, ended_wall, sent_wall, ids = [], [], [], [], []
    failed = 0
    for i in range(args.warmup + args.n):
        msg = encode({"id": i, "op": "submit", "flow": flow})
        eid, t_run, t_end, early = None, None, None, []
        t0 = time.perf_counter()
        w0 = time.time_ns()
        conn.send(msg)
        while t_end is None:
            for line in conn.batch():
                now = time.perf_counter()
                m = json.loads(line)
                if m.get("id") == i and "ok" in m:
                    eid = check_ok(m, "submit")["executionId"]
                    for ev, at in early:  # events that came before the answer
                        if ev.get("executionId") == eid:
                            if ev.get("taskRunId") and ev.get("state") == "RUNNING":
                                t_run = at
                    continue
                if m.get("event") != "state":
                    continue
                if eid is None:
                    early.append((m, now))
                    continue
                if m.get("executionId") != eid:
                    continue
                if m.get("taskRunId") and m.get("state") == "RUNNING" and t_run is None:
                    t_run = now
                elif not m.get("taskRunId") and m.get("state") in FINAL_STATES:
                    t_end = now
                    wall = time.time_ns()
                    if m["state"] != "SUCCESS":
                        failed += 1
        if i < args.warmup:
            continue
        ids.append(eid)
        sent_wall.append(w0)
        result.append(t_end - t0)
        ended_wall.append(wall - int((time.perf_counter() - t_end) * 1e9))
        if t_run is not None:
            running.append(t_run - t0)
    out = {"tasks": args.n, "failed": failed, "program": args.program}
    out.update(summary("submit_to_running", running))
    out.update(summary("submit_to_result", result))
    stamps = []
    if args.stamp:
        stamps = [stamp_of(conn, e, "l%d" % k) for k, e in enumerate(ids)]
        exit_to = [(w - s) / 1e9 for s, w in zip(stamps, ended_wall)]
        out.update(summary("exit_to_result", exit_to))
    if args.timeline:
        with open(args.timeline, "w") as f:
            for k, (s, w) in enumerate(zip(sent_wall, ended_wall)):
                f.write("%d %d%s\n" % (s, w, " %d" % stamps[k] if stamps else ""))
    conn.close()
    print(json.dumps(out), flush=True)
    return 0 if failed == 0 and len(running) == args.n else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--program", required=True, help="what each task runs (no arguments)")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20, help="tasks run first and not counted")
    p.add_argument("--stamp", action="store_true", help="PROGRAM is bench_stamp")
    p.add_argument("--timeline", help="write each task's send and result instants here")
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args()
    try:
        return run(args)
    except BenchError as e:
        print("latency: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
