"""What the agent holds while a benchmark runs: a ballast of finished executions
(the agent's own state, resident in its heap) or thousands of running tasks.
Used by dispatch.py (--ballast-mib, --background) and scale.py."""

import json
import time

from benchlib import FINAL_STATES, BenchError, Conn, check_ok, encode, stats


def process_flow(flow_id, commands, interpreter=()):
    """A one-task flow on the Process runner. With an empty `interpreter` the
    commands are the argv themselves (no shell)."""
    return {
        "id": flow_id,
        "namespace": "bench",
        "tasks": [
            {
                "id": "t",
                "type": "io.kestra.plugin.scripts.shell.Commands",
                "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                "interpreter": list(interpreter),
                "commands": list(commands),
            }
        ],
    }


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmRSS for pid %d" % pid)


def submit_all(path, flows, deadline, final=True):
    """Pipelines one submit per flow on a new connection and returns the
    accepted execution ids; with `final`, waits until each has ended (any
    final state) on a watch opened first."""
    conn = Conn(path, deadline)
    if final:
        check_ok(conn.request({"id": "w", "op": "watch"}), "watch")
    conn.send_async([b"".join(encode({"id": i, "op": "submit", "flow": f})
                              for i, f in enumerate(flows))])
    ids, ended, answered = set(), set(), 0
    while answered < len(flows) or (final and not ids <= ended):
        for line in conn.batch():
            m = json.loads(line)
            if m.get("event") == "state" and "taskRunId" not in m:
                if m.get("state") in FINAL_STATES:
                    ended.add(m.get("executionId"))
            elif isinstance(m.get("id"), int):
                answered += 1
                ids.add(check_ok(m, "submit")["executionId"])
    conn.close()
    return sorted(ids)


def add_ballast(path, pid, target_mib, deadline, output_bytes=1 << 20):
    """Runs tasks that each leave `output_bytes` of outputs in the agent's
    state until the agent's RSS reaches target_mib. Returns (rss MiB, tasks)."""
    script = ("b=$(head -c %d /dev/zero | tr '\\0' x); "
              "printf '::{\"outputs\":{\"ballast\":\"%%s\"}}::\\n' \"$b\"" % output_bytes)
    tasks = 0
    while rss_mib(pid) < target_mib:
        if time.monotonic() > deadline:
            raise BenchError("ballast: RSS %.0f MiB after %d tasks, wanted %d MiB"
                             % (rss_mib(pid), tasks, target_mib))
        need = max(1, int((target_mib - rss_mib(pid)) * (1 << 20) / output_bytes) + 1)
        batch = min(need, 64)
        flows = [process_flow("ballast%d" % (tasks + i), [script], ["/bin/sh", "-c"])
                 for i in range(batch)]
        submit_all(path, flows, deadline)
        tasks += batch
    return rss_mib(pid), tasks


def running(path, deadline):
    conn = Conn(path, deadline)
    s = stats(conn, "s") or {}
    conn.close()
    return s.get("running", 0)


def start_background(path, count, deadline, program="/bin/sleep", args=("3600",)):
    """Submits `count` long-running tasks and waits until all of them run.
    Returns their execution ids."""
    flows = [process_flow("background%d" % i, [program, *args]) for i in range(count)]
    ids = submit_all(path, flows, deadline, final=False)
    while running(path, deadline) < count:
        if time.monotonic() > deadline:
            raise BenchError("background: %d of %d running" % (running(path, deadline), count))
        time.sleep(0.1)
    return ids


def stop_background(path, ids, deadline):
    """Cancels the executions and waits until nothing runs."""
    conn = Conn(path, deadline)
    conn.send_async([b"".join(encode({"id": i, "op": "cancel", "executionId": e})
                              for i, e in enumerate(ids))])
    answered = 0
    while answered < len(ids):
        for line in conn.batch():
            if isinstance(json.loads(line).get("id"), int):
                answered += 1
    conn.close()
    while running(path, deadline) > 0:
        if time.monotonic() > deadline:
            raise BenchError("background: still running after the cancels")
        time.sleep(0.1)
