#!/usr/bin/env python3
"""How long the agent takes to answer while it is loaded: a `stats` request
on its control socket every 20 ms, each timed from send to answer, until
SIGTERM or SIGINT; then one line:

    probe: N requests, p50 X ms, p99 Y ms, max Z ms

usage: ping_probe.py SOCKET
"""
import json
import signal
import socket
import sys
import time

stop = False


def on_signal(_signo, _frame):
    global stop
    stop = True


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    rtts = []
    n = 0
    while not stop:
        n += 1
        t0 = time.monotonic()
        s.sendall(json.dumps({"id": n, "op": "stats"}).encode() + b"\n")
        while True:
            line = f.readline()
            if not line:
                print("probe: the agent closed the connection", flush=True)
                return 1
            if json.loads(line).get("id") == n:
                break
        rtts.append((time.monotonic() - t0) * 1000.0)
        time.sleep(0.02)
    if not rtts:
        print("probe: 0 requests", flush=True)
        return 1
    rtts.sort()
    p = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))]
    print(f"probe: {len(rtts)} requests, p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, "
          f"max {rtts[-1]:.2f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
