"""What every benchmark client of runnerd shares: one connection to the agent's
Unix socket (protocol version 1, proto/PROTOCOL.md) with a poll-driven line
reader that honours a deadline and a sender thread for bulk writes, and small
helpers around it. Python standard library only."""

import json
import os
import select
import socket
import threading
import time

FINAL_STATES = ("SUCCESS", "WARNING", "FAILED", "KILLED")
_FINAL_STATE_BYTES = tuple(s.encode() for s in FINAL_STATES)
CLIENT = "runnerd bench 0.2"


class BenchError(Exception):
    pass


def encode(msg):
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


def proc_cpu(pid):
    """(own user+sys, reaped children's user+sys) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2:].split()
        tick = os.sysconf("SC_CLK_TCK")
        # fields[0] is field 3 (state); utime/stime/cutime/cstime are 14..17.
        own = (int(fields[11]) + int(fields[12])) / tick
        children = (int(fields[13]) + int(fields[14])) / tick
        return own, children
    except (OSError, ValueError, IndexError):
        return None


def percentile(xs, q):
    """The q-quantile (0..1) of xs, nearest rank; None when xs is empty."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))] if xs else None


class Conn:
    """One connection: a blocking socket, a line reader driven by poll (so the
    reader can honour a deadline) and a sender thread for bulk writes."""

    def __init__(self, path, deadline, coalesce_s=0.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise BenchError("cannot connect to %s: %s" % (path, e))
        self.deadline = deadline
        self.poller = select.poll()
        self.poller.register(self.sock.fileno(), select.POLLIN)
        self.buf = bytearray(1 << 20)
        self.view = memoryview(self.buf)
        self.pending = []  # bytes received after the last '\n'
        self.lines = []
        self.pos = 0
        self.send_error = None
        self.sender = None
        # After a short read, wait this long before the next one so that one
        # wake-up handles many events: the client shares the CPUs with the
        # agent and its children, and a wake-up per event would cost more
        # client CPU than the agent spends per task.
        self.coalesce_s = coalesce_s
        self.last_short = False
        self.wake_r = self.wake_w = None

    def wakeable(self):
        """Lets another thread end a wait in read_lines() with wake()."""
        self.wake_r, self.wake_w = os.pipe()
        self.poller.register(self.wake_r, select.POLLIN)

    def wake(self):
        os.write(self.wake_w, b"w")

    def send(self, data):
        self.sock.sendall(data)

    def send_async(self, chunks, gate=None):
        """Writes every chunk from a thread. With `gate` (a semaphore), acquires
        it before each chunk."""

        def run():
            try:
                for chunk in chunks:
                    if gate is not None:
                        gate.acquire()
                    self.sock.sendall(chunk)
            except OSError as e:
                self.send_error = e

        self.sender = threading.Thread(target=run, name="sender", daemon=True)
        self.sender.start()

    def read_lines(self):
        """Waits for data and returns the complete lines received (possibly
        none), without their '\n'."""
        if self.last_short and self.coalesce_s > 0:
            time.sleep(self.coalesce_s)
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BenchError("timed out")
            ready = self.poller.poll(min(left, 0.1) * 1000)
            if any(fd == self.sock.fileno() for fd, _ in ready):
                break
            if ready:  # the wake-up pipe: let the caller look again
                os.read(self.wake_r, 4096)
            # 100 ms without a line: the caller looks again too (scale.py
            # counts the running tasks between batches; once all have started,
            # nothing comes until they end).
            return []
        # recv_into a reused buffer: recv(1 MiB), which allocates a fresh 1 MiB
        # object per call, cost about twice the client CPU per task here.
        n = self.sock.recv_into(self.buf)
        if n == 0:
            raise BenchError("the agent closed the connection")
        self.last_short = n < 65536
        data = bytes(self.view[:n])
        last = data.rfind(b"\n")
        if last < 0:
            self.pending.append(data)
            return []
        if self.pending:
            self.pending.append(data[: last + 1])
            whole = b"".join(self.pending)
        else:
            whole = data[: last + 1] if last + 1 < n else data
        self.pending = [data[last + 1:]] if last + 1 < n else []
        lines = whole.split(b"\n")
        lines.pop()  # empty string after the final '\n'
        return lines

    def batch(self):
        """The lines not yet returned by line(), else the next lines read."""
        if self.pos < len(self.lines):
            rest = self.lines[self.pos:]
            self.lines, self.pos = [], 0
            return rest
        return self.read_lines()

    def line(self):
        while self.pos >= len(self.lines):
            self.lines = self.read_lines()
            self.pos = 0
        line = self.lines[self.pos]
        self.pos += 1
        return line

    def request(self, msg):
        """Sends one request and returns its response, skipping lines of other
        ids (only used before any stream is busy)."""
        self.send(encode(msg))
        while True:
            m = json.loads(self.line())
            if m.get("id") == msg["id"] and "ok" in m:
                return m

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def check_ok(resp, what):
    if not resp.get("ok"):
        raise BenchError("%s refused: %s" % (what, json.dumps(resp.get("error"))))
    return resp.get("result", {})


def agent_pid(conn):
    hello = check_ok(
        conn.request({"id": "hello", "op": "hello", "versions": [1], "client": CLIENT}), "hello"
    )
    pid = hello.get("pid")
    return pid if isinstance(pid, int) else None


def stats(conn, rid):
    """The agent's counters, or None if it does not answer `stats`."""
    resp = conn.request({"id": rid, "op": "stats"})
    return resp.get("result") if resp.get("ok") else None
