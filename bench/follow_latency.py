#!/usr/bin/env python3
"""Live log latency: how long after a task prints a line a following client has it.

Submits one task that prints its own clock (`date +%s%N`) every 20 ms, follows
its logs over the socket, and reports the delay between the printed time and
the time the line arrives (same host, same clock). Prints one JSON line:
{"lines":N,"p50_ms":..,"p99_ms":..,"max_ms":..}.
"""
import argparse
import json
import socket
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--lines", type=int, default=200)
    args = ap.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(args.socket)
    f = s.makefile("rwb", buffering=0)

    def send(obj):
        f.write((json.dumps(obj) + "\n").encode())

    def read():
        line = f.readline()
        if not line:
            raise SystemExit("agent closed the connection")
        return json.loads(line)

    # A short pause first, so the follow is in place before the first line.
    script = "sleep 0.3; i=0; while [ $i -lt %d ]; do date +%%s%%N; sleep 0.02; i=$((i+1)); done" % args.lines
    flow = {"id": "latency", "namespace": "bench", "tasks": [{
        "id": "clock", "type": "io.kestra.plugin.scripts.shell.Commands",
        "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
        "commands": [script]}]}
    send({"id": 1, "op": "submit", "flow": flow})
    r = read()
    if not r.get("ok"):
        raise SystemExit("submit refused: %s" % r)
    send({"id": 2, "op": "logs", "executionId": r["result"]["executionId"], "follow": True})
    delays = []
    state = None
    while state is None:
        m = read()
        if m.get("id") != 2:
            continue
        if m.get("event") == "logs":
            now = time.time_ns()
            for line in m["lines"]:
                try:
                    delays.append((now - int(line["message"])) / 1e6)
                except ValueError:
                    pass
        elif m.get("event") == "end":
            state = m.get("state")
    delays.sort()
    pick = lambda q: round(delays[min(len(delays) - 1, int(q * len(delays)))], 2) if delays else None
    print(json.dumps({"lines": len(delays), "state": state, "p50_ms": pick(0.5),
                      "p99_ms": pick(0.99), "max_ms": round(delays[-1], 2) if delays else None}))
    if state != "SUCCESS" or len(delays) != args.lines:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
