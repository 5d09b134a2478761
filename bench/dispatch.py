#!/usr/bin/env python3
"""Benchmark client for runnerd (python3 standard library only).

Dispatch over the agent's Unix socket (proto/PROTOCOL.md, version 1):

    dispatch.py --socket PATH [--n N] [--window W] [--timeout S]
  Sends `hello`, opens a `watch` on every execution (no executionId), waits for
  both responses, then pipelines N `submit`s of a one-task flow running
  /bin/true and waits until every submitted execution has reported a final
  state (SUCCESS, WARNING, FAILED, KILLED) on the watch stream. Prints one JSON
  line:
    {"tasks":N,"seconds":S,"tasks_per_s":R,"failed":F,...}
  `failed` counts submits refused by the agent and executions whose final state
  is not SUCCESS.

Exit status: 0 on success, 1 if any task failed or verification failed (the
JSON line is still printed), 2 on usage, connection or protocol errors and
timeouts.

Reading and writing are concurrent: a sender thread writes the submits while
the main thread reads responses and events, so neither side can deadlock on a
full socket buffer.
"""

import argparse
import json
import sys
import threading
import time

import load  # bench/load.py
from benchlib import (  # bench/benchlib.py, next to this file; re-exported for the other clients
    FINAL_STATES,
    _FINAL_STATE_BYTES,
    BenchError,
    Conn,
    agent_pid,
    check_ok,
    encode,
    proc_cpu,
    stats,
)



def dispatch_flow(i):
    # With Kestra's Commands semantics, an empty `interpreter` and no
    # `beforeCommands` means the commands are the argv themselves (no shell):
    # ["/bin/true"] makes the agent posix_spawn /bin/true directly, which is
    # exactly the child bench_spawn_raw spawns, so the two rates compare the
    # agent's overhead only, not the cost of starting a shell.
    return {
        "id": "b%d" % i,
        "namespace": "bench",
        "tasks": [
            {
                "id": "t",
                "type": "io.kestra.plugin.scripts.shell.Commands",
                "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                "interpreter": [],
                "commands": ["/bin/true"],
            }
        ],
    }


def submit_chunks(reqs, window):
    """The submits as the sender writes them: one at a time behind the window's
    semaphore, else in batches of 256."""
    if window > 0:
        return reqs, threading.Semaphore(window)
    return [b"".join(reqs[i: i + 256]) for i in range(0, len(reqs), 256)], None


class Owners:
    """Which submitter's window an execution holds, for --clients with
    --window: its final state can arrive on the watch before its submit's
    answer reaches the submitter, so whichever comes second releases it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner = {}  # executionId -> Submitter
        self.ended = set()

    def answered(self, eid, submitter):
        with self.lock:
            if eid in self.ended:
                self.ended.discard(eid)
                return True
            self.owner[eid] = submitter
            return False

    def final(self, eid):
        with self.lock:
            s = self.owner.pop(eid, None)
            if s is None:
                self.ended.add(eid)
            return s


class Submitter(threading.Thread):
    """One of --clients connections: pipelines its share of the submits and
    reads their answers; the main connection's watch sees the results."""

    def __init__(self, path, deadline, reqs, window, main, owners):
        super().__init__(name="submitter", daemon=True)
        self.conn = Conn(path, deadline)
        self.reqs, self.window, self.main, self.owners = reqs, window, main, owners
        self.gate = None
        self.refused, self.first_error, self.failure = 0, None, None
        self.finished = False

    def run(self):
        try:
            chunks, gate = submit_chunks(self.reqs, self.window)
            self.gate = gate
            self.conn.send_async(chunks, gate)
            answered = 0
            while answered < len(self.reqs):
                for line in self.conn.batch():
                    m = json.loads(line)
                    if not isinstance(m.get("id"), int):
                        continue
                    answered += 1
                    if not m.get("ok"):
                        self.refused += 1
                        self.first_error = self.first_error or m.get("error")
                        self.release()
                    elif self.owners.answered(m["result"]["executionId"], self):
                        self.release()
        except (BenchError, OSError, ValueError) as e:
            self.failure = e
        self.finished = True
        self.conn.close()
        self.main.wake()

    def release(self):
        if self.gate is not None:
            self.gate.release()


def run_clients(conn, submitters, n, states):
    """The main connection's side of --clients: counts final states on its
    watch (every execution that ends now is one of the submitters') until
    each submit has ended or been refused. Returns the count."""
    owners = submitters[0].owners
    ended = 0
    while True:
        refused = sum(t.refused for t in submitters)
        for t in submitters:
            if t.failure is not None:
                raise BenchError("a client failed: %s" % t.failure)
        if ended + refused >= n and all(t.finished for t in submitters):
            return ended + refused
        for line in conn.batch():
            if b'"taskRunId"' in line or not any(s in line for s in _FINAL_STATE_BYTES):
                continue
            m = json.loads(line)
            if m.get("event") != "state" or m.get("state") not in FINAL_STATES:
                continue
            ended += 1
            states[m["state"]] = states.get(m["state"], 0) + 1
            owner = owners.final(m.get("executionId"))
            if owner is not None:
                owner.release()


def run_dispatch(args):
    n = args.n
    deadline = time.monotonic() + args.timeout
    conn = Conn(args.socket, deadline, args.coalesce_ms / 1000.0)
    pid = agent_pid(conn)
    stats0 = stats(conn, "stats")
    setup = {}
    if args.ballast_mib > 0:
        rss, tasks = load.add_ballast(args.socket, pid, args.ballast_mib, deadline)
        setup.update(agent_rss_mib=round(rss, 1), ballast_tasks=tasks)
    background = []
    if args.background > 0:
        background = load.start_background(args.socket, args.background, deadline)
        setup["background"] = len(background)
    check_ok(conn.request({"id": "watch", "op": "watch"}), "watch")

    reqs = [encode({"id": i, "op": "submit", "flow": dispatch_flow(i)}) for i in range(n)]
    submitters = []
    if args.clients > 1:
        # Each client its own share, its own window share, its own connection.
        conn.wakeable()
        owners = Owners()
        for c in range(args.clients):
            share = reqs[c::args.clients]
            window = max(1, args.window // args.clients) if args.window > 0 else 0
            submitters.append(Submitter(args.socket, deadline, share, window, conn, owners))
        chunks, gate = [], None
    else:
        chunks, gate = submit_chunks(reqs, args.window)

    submitted = set()  # executionIds accepted
    finals = {}  # executionId -> first final state seen
    states = {}
    refused = 0
    completed = 0
    first_error = None

    cpu0 = proc_cpu(pid) if pid else None
    client0 = time.process_time()
    t0 = time.monotonic()
    if submitters:
        for t in submitters:
            t.start()
        completed = run_clients(conn, submitters, n, states)
        for t in submitters:
            refused += t.refused
            first_error = first_error or t.first_error
    else:
        conn.send_async(chunks, gate)
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
                    completed += 1
                    states[m["state"]] = states.get(m["state"], 0) + 1
                    if gate is not None:
                        gate.release()
                continue
            m = json.loads(line)
            if not isinstance(m.get("id"), int):
                continue
            if m.get("ok"):
                eid = m["result"]["executionId"]
                submitted.add(eid)
                if eid in finals:
                    completed += 1
                    states[finals[eid]] = states.get(finals[eid], 0) + 1
                    if gate is not None:
                        gate.release()
            else:
                refused += 1
                completed += 1
                if first_error is None:
                    first_error = m.get("error")
                if gate is not None:
                    gate.release()
    seconds = time.monotonic() - t0
    client_cpu = time.process_time() - client0
    cpu1 = proc_cpu(pid) if pid else None
    conn.close()
    if background:
        load.stop_background(args.socket, background, deadline)

    failed = refused + sum(v for k, v in states.items() if k != "SUCCESS")
    out = {
        "tasks": n,
        "seconds": round(seconds, 6),
        "tasks_per_s": round(n / seconds, 1),
        "failed": failed,
        "refused": refused,
        "states": states,
        "window": args.window,
        "clients": args.clients,
        **setup,
        "client_cpu_us_per_task": round(client_cpu * 1e6 / n, 1),
    }
    if stats0 and "maxRunning" in stats0:
        out["agent_max_running"] = stats0["maxRunning"]
    if cpu0 and cpu1:
        out["agent_cpu_us_per_task"] = round((cpu1[0] - cpu0[0]) * 1e6 / n, 1)
        out["agent_children_cpu_us_per_task"] = round((cpu1[1] - cpu0[1]) * 1e6 / n, 1)
    if first_error is not None:
        print("dispatch: first refused submit: %s" % json.dumps(first_error), file=sys.stderr)
    print(json.dumps(out), flush=True)
    return 0 if failed == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True, help="the agent's Unix socket")
    p.add_argument("-n", "--n", type=int, default=10000, help="tasks to dispatch (default 10000)")
    p.add_argument(
        "--window",
        type=int,
        default=0,
        help="at most this many submitted executions not yet final (default 0: no limit, "
        "all N are pipelined and the agent queues them)",
    )
    p.add_argument("--coalesce-ms", type=float, default=5.0,
                   help="dispatch mode: after a short read, wait this long before reading "
                   "again so one wake-up handles many events (default 5; 0: off)")
    p.add_argument("--clients", type=int, default=1,
                   help="submit over this many connections, each its share of N (and of "
                   "--window); the results are watched on one more (default 1)")
    p.add_argument("--ballast-mib", type=int, default=0, metavar="M",
                   help="first run tasks that leave outputs in the agent's state until its "
                   "RSS reaches M MiB")
    p.add_argument("--background", type=int, default=0, metavar="B",
                   help="first start B tasks that sleep (the agent's maxRunning must leave "
                   "room: use --window); they are cancelled after the measurement")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    args = p.parse_args()
    if args.n <= 0:
        p.error("--n must be positive")
    try:
        return run_dispatch(args)
    except BenchError as e:
        print("dispatch: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as e:
        print("dispatch: unexpected message from the agent: %r" % (e,), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
