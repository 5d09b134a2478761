#!/usr/bin/env python3
"""Container dispatch through runnerd (python3 standard library only).

    docker_dispatch.py --socket PATH [--n N] [--image IMAGE]
                       [--file-handling MOUNT|VOLUME] [--kestra-defaults]
                       [--timeout S]

The container counterpart of `dispatch.py --n N` (whose connection code it
reuses): sends `hello`, opens a `watch` on every execution, then pipelines N
`submit`s of a one-task flow

    {"id": "t", "type": "io.kestra.plugin.scripts.shell.Commands",
     "containerImage": IMAGE, "interpreter": [], "commands": ["true"],
     "taskRunner": {"type": "io.kestra.plugin.scripts.runner.docker.Docker",
                    "fileHandlingStrategy": "MOUNT", "resume": false,
                    "pullPolicy": "NEVER"}}

and waits until every execution has reported a final state. The agent queues
what exceeds its maxRunning, so maxRunning is the number of containers in
flight. With an empty interpreter the container's Cmd is exactly ["true"], and
with MOUNT, resume false and pullPolicy NEVER the runner's engine calls are
exactly bench_docker_raw's: create, start, logs and wait side by side, delete
(resume would add a container list, IF_NOT_PRESENT an image inspect, VOLUME an
archive upload and download). `--file-handling VOLUME` measures the runner's
default file handling; `--kestra-defaults` sends only the runner's `type`
(Kestra's defaults: VOLUME, resume, IF_NOT_PRESENT).

Prints one JSON line:
    {"tasks":N,"seconds":S,"tasks_per_s":R,"failed":F,"states":{...},
     "agent_max_running":M,"task_runner":{...},
     "steps_ms":{"create":{"n":N,"mean":M,"errors":E},"start":{...},"wait":{...},
                 "logs":{...},"delete":{...}},...}
`steps_ms` comes from the agent's `stats` read before and after the run: the
differences of its engine call counters (engineCallsCreate, engineCallUsCreate,
engineCallErrorsCreate, ...; each call timed from its request to its answer, a
log stream to its end), so each step of the agent's sequence can be put next to
bench_docker_raw's. Other kinds (inspect, list, pull, archive, other) appear
when the run made such calls.
`failed` counts refused submits and executions not ending in SUCCESS; for the
first few failed executions the agent's `error` and stored log lines go to
stderr. Exit status: 0 when all succeeded, 1 if any failed, 2 on connection or
protocol errors and timeouts.
"""

import argparse
import json
import sys
import time

from benchlib import (  # bench/benchlib.py, next to this file
    _FINAL_STATE_BYTES,
    BenchError,
    Conn,
    FINAL_STATES,
    agent_pid,
    check_ok,
    encode,
    proc_cpu,
    stats,
)

RUNNER_TYPE = "io.kestra.plugin.scripts.runner.docker.Docker"


def task_runner(args):
    if args.kestra_defaults:
        return {"type": RUNNER_TYPE}
    return {
        "type": RUNNER_TYPE,
        "fileHandlingStrategy": args.file_handling,
        "resume": False,
        "pullPolicy": "NEVER",
    }


def docker_flow(i, image, runner):
    return {
        "id": "d%d" % i,
        "namespace": "bench",
        "tasks": [
            {
                "id": "t",
                "type": "io.kestra.plugin.scripts.shell.Commands",
                "containerImage": image,
                "taskRunner": runner,
                "interpreter": [],
                "commands": ["true"],
            }
        ],
    }


STEPS = ("create", "start", "wait", "logs", "delete")
OTHER_KINDS = ("inspect", "list", "pull", "archive", "other")


def engine_steps(r0, r1):
    """Per kind of engine call, from two readings of the agent's runner
    counters: {"n": calls, "mean": ms per call, "errors": errors}. The five
    steps always (when the agent reports the counters), the other kinds only
    when they were called."""
    def delta(name):
        a, b = r0.get(name, 0), r1.get(name)
        return b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None

    steps = {}
    for kind in STEPS + OTHER_KINDS:
        k = kind.capitalize()
        n, us, errors = delta("engineCalls" + k), delta("engineCallUs" + k), delta("engineCallErrors" + k)
        if n is None or us is None:
            continue
        if kind in OTHER_KINDS and n == 0:
            continue
        steps[kind] = {"n": n, "mean": round(us / n / 1000.0, 3) if n else None, "errors": errors}
    return steps


def explain_failures(conn, eids, limit=3):
    """Prints the agent's error and the stored log of up to `limit` failed
    executions to stderr."""
    for k, eid in enumerate(eids[:limit]):
        try:
            ex = conn.request({"id": "get%d" % k, "op": "get", "executionId": eid})
            ex = ex.get("result", {}) if ex.get("ok") else {"error": json.dumps(ex.get("error"))}
            print("docker_dispatch: execution %s ended %s: %s" % (eid, ex.get("state"), ex.get("error")),
                  file=sys.stderr)
            for tr in ex.get("taskRuns", []):
                print("docker_dispatch:   task run %s %s exitCode %s error %s"
                      % (tr.get("id"), tr.get("state"), tr.get("exitCode"), tr.get("error")),
                      file=sys.stderr)
            rid = "logs%d" % k
            conn.send(encode({"id": rid, "op": "logs", "executionId": eid}))
            while True:
                m = json.loads(conn.line())
                if m.get("id") != rid:
                    continue
                if "ok" in m:
                    if not m["ok"]:
                        break
                    continue
                if m.get("event") == "end":
                    break
                for line in m.get("lines", []):
                    print("docker_dispatch:   log %s %s" % (line.get("level"), line.get("message")),
                          file=sys.stderr)
        except (BenchError, ValueError, KeyError) as e:
            print("docker_dispatch: could not read execution %s: %s" % (eid, e), file=sys.stderr)
    if len(eids) > limit:
        print("docker_dispatch: ... and %d more failed executions" % (len(eids) - limit), file=sys.stderr)


def run(args):
    n = args.n
    conn = Conn(args.socket, time.monotonic() + args.timeout, args.coalesce_ms / 1000.0)
    pid = agent_pid(conn)
    stats0 = stats(conn, "stats")
    check_ok(conn.request({"id": "watch", "op": "watch"}), "watch")

    runner = task_runner(args)
    reqs = [encode({"id": i, "op": "submit", "flow": docker_flow(i, args.image, runner)})
            for i in range(n)]
    chunks = [b"".join(reqs[i: i + 64]) for i in range(0, n, 64)]

    submitted = set()
    finals = {}  # executionId -> first final state seen
    states = {}
    failed_eids = []
    refused = 0
    completed = 0
    first_error = None

    def final(eid, state):
        nonlocal completed
        completed += 1
        states[state] = states.get(state, 0) + 1
        if state != "SUCCESS":
            failed_eids.append(eid)

    cpu0 = proc_cpu(pid) if pid else None
    t0 = time.monotonic()
    conn.send_async(chunks)
    while completed < n:
        if conn.send_error is not None:
            raise BenchError("sending submits failed: %s" % conn.send_error)
        for line in conn.batch():
            if b'"taskRunId"' in line:
                continue  # a task run's state, not the execution's
            if b'"event"' in line:
                if not any(s in line for s in _FINAL_STATE_BYTES):
                    continue
                m = json.loads(line)
                if m.get("event") != "state" or m.get("state") not in FINAL_STATES:
                    continue
                eid = m.get("executionId")
                if eid is None or eid in finals:
                    continue
                finals[eid] = m["state"]
                if eid in submitted:
                    final(eid, m["state"])
                continue
            m = json.loads(line)
            if not isinstance(m.get("id"), int):
                continue
            if m.get("ok"):
                eid = m["result"]["executionId"]
                submitted.add(eid)
                if eid in finals:
                    final(eid, finals[eid])
            else:
                refused += 1
                completed += 1
                if first_error is None:
                    first_error = m.get("error")
    seconds = time.monotonic() - t0
    cpu1 = proc_cpu(pid) if pid else None
    conn.send(encode({"id": "unwatch", "op": "unwatch", "stream": "watch"}))
    stats1 = stats(conn, "stats1")
    if failed_eids:
        explain_failures(conn, failed_eids)
    conn.close()

    failed = refused + len(failed_eids)
    out = {
        "tasks": n,
        "seconds": round(seconds, 6),
        "tasks_per_s": round(n / seconds, 2),
        "failed": failed,
        "refused": refused,
        "states": states,
        "image": args.image,
        "task_runner": runner,
    }
    if stats0 and "maxRunning" in stats0:
        out["agent_max_running"] = stats0["maxRunning"]
    if cpu0 and cpu1:
        out["agent_cpu_us_per_task"] = round((cpu1[0] - cpu0[0]) * 1e6 / n, 1)
    if stats0 and stats1:
        # The Docker runner's counters (docker_containers_created, ...), when
        # the agent reports them; absent before the runner's first use.
        r0, r1 = stats0.get("runners") or {}, stats1.get("runners") or {}
        for key in sorted(r1):
            a, b = r0.get(key, 0), r1.get(key)
            if key.startswith("docker") and isinstance(a, (int, float)) and isinstance(b, (int, float)):
                out[key] = b - a
        steps = engine_steps(r0, r1)
        if steps:
            out["steps_ms"] = steps
    if first_error is not None:
        print("docker_dispatch: first refused submit: %s" % json.dumps(first_error), file=sys.stderr)
    print(json.dumps(out), flush=True)
    return 0 if failed == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True, help="the agent's Unix socket")
    p.add_argument("-n", "--n", type=int, default=200, help="container tasks (default 200)")
    p.add_argument("--image", default="busybox", help="containerImage (default busybox)")
    p.add_argument("--file-handling", choices=("MOUNT", "VOLUME"), default="MOUNT",
                   help="the runner's fileHandlingStrategy (default MOUNT)")
    p.add_argument("--kestra-defaults", action="store_true",
                   help="send only the runner's type (VOLUME, resume, IF_NOT_PRESENT)")
    p.add_argument("--coalesce-ms", type=float, default=5.0,
                   help="after a short read, wait this long before reading again (default 5)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    args = p.parse_args()
    if args.n <= 0:
        p.error("--n must be positive")
    try:
        return run(args)
    except BenchError as e:
        print("docker_dispatch: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as e:
        print("docker_dispatch: unexpected message from the agent: %r" % (e,), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
