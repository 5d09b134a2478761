#!/usr/bin/env python3
"""The agent's log ingest: T tasks writing B bytes of log text in all.

    log_ingest.py --socket PATH --bytes B [--tasks T] [--state-dir DIR]
                  [--no-verify] [--no-zstd] [--timeout S]

Sends `hello`, opens a `watch` on every execution, then pipelines T `submit`s
of a one-task flow (Process runner) running
    /bin/sh -c "yes '<LOG_LINE>' | head -c N"
where the N of the tasks add up to B: N = B // T, and the first B % T tasks
write one byte more (bench_pipe_zstd_raw BYTES T splits the same way, so the
two write the same bytes with the same commands). The clock runs from the first
submit until every execution has reported a final state on the watch stream;
the agent reports a final state only once the task's whole log is stored
(compressed, written and fdatasync'ed), so the rate is of stored log.

Then (not timed):
  * each execution's log is read back (`logs`, no follow) and checked: the
    messages, each followed by '\\n', must
    reproduce exactly the task's N bytes with the sha256 of the text generated
    here (a trailing partial line comes back as a line of its own), and the
    line numbers must run without a gap; --no-verify skips this;
  * with --state-dir, the agent's log files of these task runs
    (STATE_DIR/logs/<taskRunId>.log.zst) are summed: `stored_bytes`;
  * unless --no-zstd, the same text is compressed with the zstd CLI at level 1,
    one stream per task as the agent has one file per task run:
    `zstd1_bytes`, and `compression_vs_zstd1` = stored_bytes / zstd1_bytes.
    The agent stores more than the text: each line is a record with its
    timestamp and level (agent/logstream/line.h), in independent frames with
    an index (log_file.h); `logBytesIn` (the records' uncompressed size, from
    the agent's `stats`) shows how much more.

Prints one JSON line:
  {"bytes":B,"tasks":T,"seconds":S,"mb_s":R,"verified":true|false,"failed":F,...}
(MB = 1e6 bytes). Exit status: 0 on success, 1 if a task failed or the log did
not verify (the JSON line is still printed), 2 on usage, connection or protocol
errors and timeouts.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402  (bench/benchlib.py: the connection and its helpers)
    _FINAL_STATE_BYTES,
    FINAL_STATES,
    BenchError,
    Conn,
    agent_pid,
    check_ok,
    encode,
    proc_cpu,
    stats,
)

# Same text as bench/pipe_zstd_raw.c; `yes` writes it followed by '\n' forever.
LOG_LINE = "log line from the benchmark writer 0123456789 abcdefghij"


def log_script(nbytes):
    return "yes '%s' | head -c %d" % (LOG_LINE, nbytes)


def expected_text_digest(nbytes):
    """sha256 of the first nbytes of `yes LOG_LINE`, plus a final '\n' when the
    text does not end with one (the agent stores a trailing partial line as a
    line of its own, which the read-back ends with '\n'); and whether it
    added that '\n'."""
    line = (LOG_LINE + "\n").encode()
    block = line * ((1 << 20) // len(line))  # ~1 MiB of whole lines
    h = hashlib.sha256()
    full, rest = divmod(nbytes, len(block))
    for _ in range(full):
        h.update(block)
    h.update(block[:rest])
    extra_newline = nbytes > 0 and nbytes % len(line) != 0
    if extra_newline:
        h.update(b"\n")
    return h.hexdigest(), extra_newline


def shares(nbytes, tasks):
    """Bytes written by each task; they add up to nbytes."""
    base, extra = divmod(nbytes, tasks)
    return [base + (1 if i < extra else 0) for i in range(tasks)]


def flow(i, nbytes):
    return {
        "id": "logbench%d" % i,
        "namespace": "bench",
        "tasks": [
            {
                "id": "t",
                "type": "io.kestra.plugin.scripts.shell.Commands",
                "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                "interpreter": ["/bin/sh", "-c"],
                "commands": [log_script(nbytes)],
            }
        ],
    }


def run_tasks(conn, sizes):
    """Submits one execution per size; returns (seconds, {eid: size},
    {eid: final state}, {eid: [taskRunIds]}, refused, first_error)."""
    reqs = [encode({"id": i, "op": "submit", "flow": flow(i, n)}) for i, n in enumerate(sizes)]
    chunks = [b"".join(reqs[i: i + 256]) for i in range(0, len(reqs), 256)]
    size_of = {}  # executionId -> bytes its task writes
    finals = {}  # executionId -> first final state seen (also before its submit's reply)
    task_runs = {}  # executionId -> taskRunIds seen on the watch stream
    refused = 0
    first_error = None
    t0 = time.monotonic()
    conn.send_async(chunks)
    while len(size_of) + refused < len(sizes) or any(e not in finals for e in size_of):
        if conn.send_error is not None:
            raise BenchError("sending submits failed: %s" % conn.send_error)
        for line in conn.batch():
            if b'"event"' in line:
                if b'"taskRunId"' in line:
                    m = json.loads(line)
                    runs = task_runs.setdefault(m.get("executionId"), [])
                    if m.get("taskRunId") not in runs:
                        runs.append(m.get("taskRunId"))
                    continue
                if not any(s in line for s in _FINAL_STATE_BYTES):
                    continue
                m = json.loads(line)
                if m.get("event") == "state" and m.get("state") in FINAL_STATES:
                    finals.setdefault(m.get("executionId"), m["state"])
                continue
            m = json.loads(line)
            if not isinstance(m.get("id"), int):
                continue
            if m.get("ok"):
                size_of[m["result"]["executionId"]] = sizes[m["id"]]
            else:
                refused += 1
                if first_error is None:
                    first_error = m.get("error")
    seconds = time.monotonic() - t0
    return seconds, size_of, finals, task_runs, refused, first_error


def read_back(conn, eid, rid):
    """Reads an execution's stored log; returns (sha256 hex, bytes rebuilt with a
    '\\n' after each message, lines, seq contiguous, end state)."""
    conn.send(encode({"id": rid, "op": "logs", "executionId": eid}))
    h = hashlib.sha256()
    got = 0
    lines = 0
    next_seq = {}
    seq_ok = True
    rid_bytes = json.dumps(rid).encode()
    while True:
        line = conn.line()
        if rid_bytes not in line:
            continue  # the end of the watch, the unwatch reply
        m = json.loads(line)
        if m.get("id") != rid:
            continue
        if "ok" in m:
            check_ok(m, "logs")
            continue
        ev = m.get("event")
        if ev == "end":
            return h.hexdigest(), got, lines, seq_ok, m.get("state")
        if ev != "logs":
            continue
        batch = m.get("lines", [])
        if not batch:
            continue
        trid = m.get("taskRunId")
        want = next_seq.get(trid, 0)
        if batch[0].get("seq") != want or batch[-1].get("seq") != want + len(batch) - 1:
            seq_ok = False
        next_seq[trid] = want + len(batch)
        text = ("\n".join(x["message"] for x in batch) + "\n").encode()
        h.update(text)
        got += len(text)
        lines += len(batch)


def zstd1_size(nbytes):
    """Size of `zstd -1` of the task's text, or None without the zstd CLI."""
    if shutil.which("zstd") is None:
        return None
    cmd = "%s | zstd -1 -q -c" % log_script(nbytes)
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE)
    size = 0
    while True:
        b = p.stdout.read(1 << 16)
        if not b:
            break
        size += len(b)
    return size if p.wait() == 0 else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True, help="the agent's Unix socket")
    p.add_argument("--bytes", type=int, required=True, metavar="B",
                   help="log bytes written by all the tasks together")
    p.add_argument("--tasks", type=int, default=1, metavar="T", help="tasks (default 1)")
    p.add_argument("--state-dir", help="the agent's --state-dir: sum the stored log files")
    p.add_argument("--no-verify", action="store_true", help="do not read the logs back")
    p.add_argument("--no-zstd", action="store_true", help="do not run zstd -1 on the text")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds (default 1800)")
    args = p.parse_args()
    if args.bytes < 0 or args.tasks <= 0:
        p.error("--bytes must be >= 0 and --tasks > 0")
    try:
        return run(args)
    except BenchError as e:
        print("log_ingest: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as e:
        print("log_ingest: unexpected message from the agent: %r" % (e,), file=sys.stderr)
        return 2


def run(args):
    sizes = shares(args.bytes, args.tasks)
    conn = Conn(args.socket, time.monotonic() + args.timeout)
    pid = agent_pid(conn)
    check_ok(conn.request({"id": "watch", "op": "watch"}), "watch")
    stats0 = stats(conn, "stats0")

    cpu0 = proc_cpu(pid) if pid else None
    seconds, size_of, finals, task_runs, refused, first_error = run_tasks(conn, sizes)
    cpu1 = proc_cpu(pid) if pid else None
    conn.send(encode({"id": "unwatch", "op": "unwatch", "stream": "watch"}))
    stats1 = stats(conn, "stats1")

    states = {}
    for eid in size_of:
        states[finals[eid]] = states.get(finals[eid], 0) + 1
    failed = refused + sum(v for k, v in states.items() if k != "SUCCESS")
    out = {
        "bytes": args.bytes,
        "tasks": args.tasks,
        "seconds": round(seconds, 6),
        "mb_s": round(args.bytes / 1e6 / seconds, 1),
        "failed": failed,
        "states": states,
    }
    if stats0 and "maxRunning" in stats0:
        out["agent_max_running"] = stats0["maxRunning"]
    if cpu0 and cpu1:
        out["agent_cpu_s"] = round(cpu1[0] - cpu0[0], 3)
    if stats0 and stats1:
        for key in ("logBytesIn", "logBytesStored"):
            a, b = stats0.get(key), stats1.get(key)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                out[key] = b - a

    verified = None
    if not args.no_verify:
        v0 = time.monotonic()
        digests = {}  # bytes -> (sha256, extra newline)
        bad = 0
        lines = 0
        for k, (eid, nbytes) in enumerate(sorted(size_of.items())):
            if nbytes not in digests:
                digests[nbytes] = expected_text_digest(nbytes)
            expected, extra_newline = digests[nbytes]
            digest, got, n, seq_ok, end_state = read_back(conn, eid, "logs%d" % k)
            lines += n
            rebuilt = got - (1 if extra_newline else 0)
            if not (finals[eid] == "SUCCESS" and seq_ok and rebuilt == nbytes and
                    digest == expected):
                bad += 1
                if bad <= 3:
                    print("log_ingest: execution %s: state %s, end state %s, seq contiguous %s, "
                          "%d bytes rebuilt of %d, sha256 %s vs expected %s"
                          % (eid, finals[eid], end_state, seq_ok, rebuilt, nbytes, digest,
                             expected), file=sys.stderr)
        verified = bad == 0 and failed == 0 and len(size_of) == args.tasks
        out.update(verified=verified, log_lines=lines, verify_failed=bad,
                   verify_seconds=round(time.monotonic() - v0, 3))
    conn.close()

    if args.state_dir:
        stored = 0
        files = 0
        for eid in size_of:
            for trid in task_runs.get(eid, []):
                path = os.path.join(args.state_dir, "logs", "%s.log.zst" % trid)
                try:
                    stored += os.path.getsize(path)
                    files += 1
                except OSError:
                    pass
        out["stored_bytes"] = stored
        out["stored_files"] = files
        if files != len(size_of):
            print("log_ingest: found %d log files for %d executions under %s/logs"
                  % (files, len(size_of), args.state_dir), file=sys.stderr)
    if not args.no_zstd:
        per_size = {}
        for n in set(sizes):
            per_size[n] = zstd1_size(n)
        if all(v is not None for v in per_size.values()):
            out["zstd1_bytes"] = sum(per_size[n] for n in sizes)
            if out.get("stored_bytes") and out["zstd1_bytes"]:
                out["compression_vs_zstd1"] = round(out["stored_bytes"] / out["zstd1_bytes"], 2)

    if first_error is not None:
        print("log_ingest: first refused submit: %s" % json.dumps(first_error), file=sys.stderr)
    print(json.dumps(out), flush=True)
    return 0 if failed == 0 and verified is not False else 1


if __name__ == "__main__":
    sys.exit(main())
