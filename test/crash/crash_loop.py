#!/usr/bin/env python3
"""The kill -9 test: a mixed workload while the agent is killed at random points.

Each cycle starts runnerd on the same state directory, submits a batch of
executions (Process tasks that succeed, fail, write outputs and files, leave
escaping processes behind; containers when an engine is given; cancels), and
kills the agent with SIGKILL at a random moment (uniform 0.1 to 3 s after it
serves). A ledger records every submission by its client-chosen executionId:
one whose answer was lost is sent again after the restart (submits are
idempotent by id), and so is a cancel.

After the last cycle the agent is started once more and drained, then:
  lost        an execution of the ledger that is missing or never ends;
  wrong       an ended execution whose state, exit code, outputs or files are
              not the ones its kind must give;
  duplicated  a task whose user code ran to completion more often than
              1 + its RESUBMITTED attempts (Kestra's accounting of re-runs);
  changed     a task run seen ended with one state, later with another;
  left        processes of the tasks, task cgroups, containers or working
              directories still there once the agent stopped.
Every count must be 0. Prints one line `crash: ...`, and with --bench-line
`bench: crash_cycles_clean N cycles`.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "crashloop%d" % os.getpid()


class AgentDown(Exception):
    pass


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0

    def close(self):
        self.sock.close()

    def call(self, op, timeout=60, **params):
        self.next_id += 1
        rid = self.next_id
        try:
            self.sock.sendall((json.dumps(dict(id=rid, op=op, **params)) + "\n").encode())
            deadline = time.time() + timeout
            while True:
                while b"\n" not in self.buf:
                    self.sock.settimeout(max(0.05, deadline - time.time()))
                    chunk = self.sock.recv(1 << 16)
                    if not chunk:
                        raise AgentDown("connection closed")
                    self.buf += chunk
                line, self.buf = self.buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("id") == rid and "event" not in msg:
                    return msg
        except (OSError, socket.timeout) as e:
            raise AgentDown(str(e))


class Agent:
    def __init__(self, runnerd, tmp, config):
        self.socket = os.path.join(tmp, "runnerd.sock")
        self.state = os.path.join(tmp, "state")
        self.log = open(os.path.join(tmp, "runnerd.log"), "a")
        cfg = os.path.join(tmp, "runnerd.yaml")
        with open(cfg, "w") as f:
            f.write(config)
        self.proc = subprocess.Popen(
            [runnerd, "--socket", self.socket, "--state-dir", self.state, "--config", cfg],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                self.client = Client(self.socket)
                if self.client.call("hello", timeout=10, versions=[1]).get("ok"):
                    break
            except (OSError, AgentDown):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("crash: runnerd did not start; see " + self.log.name)
            time.sleep(0.02)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.client.close()

    def stop(self):
        self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def task(commands, **extra):
    t = {"id": "t", "type": "io.kestra.plugin.scripts.shell.Commands",
         "commands": [": " + TOKEN] + commands}
    t.update(extra)
    return t


class Ledger:
    """Every execution the test submitted, and what it must end as."""

    def __init__(self, effects, docker):
        self.entries = {}  # id -> dict(kind, flow, expect..., confirmed, cancel)
        self.effects = effects
        self.docker = docker
        self.seen = {}  # (exec id, run id) -> state seen ended

    def make(self, exec_id, rnd):
        kinds = ["echo", "sleep", "fail", "outputs", "file", "escape", "cancel"]
        weights = [3, 3, 2, 2, 2, 1, 1]
        if self.docker:
            kinds.append("container")
            weights.append(1)
        kind = rnd.choices(kinds, weights)[0]
        done = "echo %s >> %s" % (exec_id, self.effects)
        e = {"kind": kind, "confirmed": False, "cancel": None}
        if kind == "echo":
            t = task(["echo hi", done])
            e["state"] = "SUCCESS"
        elif kind == "sleep":
            t = task(["sleep %.2f" % rnd.uniform(0.1, 1.5), done])
            e["state"] = "SUCCESS"
        elif kind == "fail":
            t = task(["echo failing", "exit 3"])
            e["state"], e["exit"] = "FAILED", 3
        elif kind == "outputs":
            n = rnd.randrange(1000000)
            t = task(["echo '::{\"outputs\":{\"n\":%d}}::'" % n, done])
            e["state"], e["n"] = "SUCCESS", n
        elif kind == "file":
            n = rnd.randrange(1000000)
            t = task(["echo content-%d > out.txt" % n, done], outputFiles=["out.txt"])
            e["state"], e["file"] = "SUCCESS", "content-%d\n" % n
        elif kind == "escape":
            t = task(["setsid sh -c 'sleep 3001; : %s' > /dev/null 2>&1 &" % TOKEN,
                      "(sleep 3002; : %s) > /dev/null 2>&1 &" % TOKEN, "sleep 0.3", done])
            e["state"] = "SUCCESS"
        elif kind == "cancel":
            t = task(["sleep 60"])
            e["state"] = "KILLED"
            e["cancel"] = "wanted"
        else:
            t = task(["echo c", "sleep 1", "exit 4"], containerImage="busybox")
            e["state"], e["exit"] = "FAILED", 4
        if kind != "container":
            t["taskRunner"] = {"type": "io.kestra.plugin.core.runner.Process"}
        e["flow"] = {"id": "crash", "namespace": "crashloop", "tasks": [t]}
        self.entries[exec_id] = e
        return e

    def submit(self, client, exec_id):
        e = self.entries[exec_id]
        r = client.call("submit", executionId=exec_id, flow=e["flow"])
        if not r.get("ok"):
            raise SystemExit("crash: submit of %s refused: %s" % (exec_id, r.get("error")))
        e["confirmed"] = True

    def cancel(self, client, exec_id):
        e = self.entries[exec_id]
        r = client.call("cancel", executionId=exec_id)
        if r.get("ok"):
            e["cancel"] = "done"
        elif r.get("error", {}).get("code") != "not_found":
            raise SystemExit("crash: cancel of %s: %s" % (exec_id, r.get("error")))

    def catch_up(self, client):
        """After a restart: what the agent may not have received is sent again."""
        for exec_id, e in self.entries.items():
            if not e["confirmed"]:
                self.submit(client, exec_id)
        for exec_id, e in self.entries.items():
            if e["cancel"] in ("wanted", "sent") and e["confirmed"]:
                e["cancel"] = "sent"
                self.cancel(client, exec_id)

    def observe(self, client, exec_id):
        r = client.call("get", executionId=exec_id)
        if not r.get("ok"):
            return None
        for run in r["result"].get("taskRuns", []):
            if run["state"] in ("SUCCESS", "WARNING", "FAILED", "KILLED", "RESUBMITTED"):
                key = (exec_id, run["id"])
                prev = self.seen.setdefault(key, run["state"])
                if prev != run["state"]:
                    self.seen[key] = "CHANGED %s -> %s" % (prev, run["state"])
        return r["result"]


def run_cycle(agent, ledger, rnd, cycle, batch):
    """Submits and cancels until the agent is killed at a random moment."""
    ledger.catch_up(agent.client)
    delay = rnd.uniform(0.1, 3.0)
    killer = threading.Timer(delay, agent.kill9)
    killer.start()
    try:
        ids = ["c%03d-%02d" % (cycle, i) for i in range(batch)]
        for exec_id in ids:
            ledger.make(exec_id, rnd)
        for exec_id in ids:
            time.sleep(rnd.uniform(0, 0.1))
            e = ledger.entries[exec_id]
            ledger.submit(agent.client, exec_id)
            if e["cancel"] == "wanted":
                time.sleep(rnd.uniform(0.05, 0.3))
                e["cancel"] = "sent"
                ledger.cancel(agent.client, exec_id)
        while True:  # watch results until the kill
            for exec_id in list(ledger.entries)[-40:]:
                ledger.observe(agent.client, exec_id)
            time.sleep(0.05)
    except AgentDown:
        pass
    killer.join()


def check(agent_client, ledger, runnerd_tmp, deadline_s):
    """Waits for every execution to end; returns (lost, wrong, duplicated, changed, details)."""
    deadline = time.time() + deadline_s
    results = {}
    for exec_id in ledger.entries:
        while True:
            res = ledger.observe(agent_client, exec_id)
            if res is not None and res["state"] in ("SUCCESS", "WARNING", "FAILED", "KILLED"):
                results[exec_id] = res
                break
            if time.time() > deadline:
                break
            time.sleep(0.05)
    details = []
    lost = [i for i in ledger.entries if i not in results]
    for i in lost:
        details.append("lost: %s (%s)" % (i, ledger.entries[i]["kind"]))
    completions = {}
    if os.path.exists(ledger.effects):
        for line in open(ledger.effects):
            completions[line.strip()] = completions.get(line.strip(), 0) + 1
    wrong = duplicated = 0
    for exec_id, res in results.items():
        e = ledger.entries[exec_id]
        runs = res.get("taskRuns", [])
        last = runs[-1] if runs else {}
        problems = []
        if res["state"] != e["state"]:
            problems.append("state %s, expected %s" % (res["state"], e["state"]))
        if "exit" in e and last.get("exitCode") != e["exit"]:
            problems.append("exit code %s, expected %s" % (last.get("exitCode"), e["exit"]))
        if "n" in e or "file" in e:
            out = agent_client.call("outputs", executionId=exec_id)
            runs_out = out.get("result", {}).get("taskRuns", []) if out.get("ok") else []
            final = runs_out[-1] if runs_out else {}
            if "n" in e and final.get("vars", {}).get("n") != e["n"]:
                problems.append("outputs %s, expected n=%s" % (final.get("vars"), e["n"]))
            if "file" in e:
                uri = final.get("outputFiles", {}).get("out.txt")
                content = read_file(agent_client, uri) if uri else None
                if content != e["file"]:
                    problems.append("out.txt %r, expected %r" % (content, e["file"]))
        if problems:
            wrong += 1
            details.append("wrong: %s (%s): %s" % (exec_id, e["kind"], "; ".join(problems)))
        resubmitted = sum(1 for r in runs if r["state"] == "RESUBMITTED")
        if completions.get(exec_id, 0) > 1 + resubmitted:
            duplicated += 1
            details.append("duplicated: %s ran to completion %d times with %d resubmitted attempts"
                           % (exec_id, completions[exec_id], resubmitted))
    changed = [k for k, v in ledger.seen.items() if v.startswith("CHANGED")]
    for k in changed:
        details.append("changed: %s run %s: %s" % (k[0], k[1], ledger.seen[k]))
    return len(lost), wrong, duplicated, len(changed), details


def read_file(client, uri):
    import base64
    data, offset = b"", 0
    while True:
        r = client.call("readFile", uri=uri, offset=offset, length=1 << 20)
        if not r.get("ok"):
            return None
        chunk = base64.b64decode(r["result"]["data"])
        data += chunk
        offset += len(chunk)
        if r["result"]["eof"] or not chunk:
            return data.decode(errors="replace")


def task_cgroup_root(state_dir):
    """The Process runner's cgroup directory for this state directory (FNV-1a)."""
    h = 1469598103934665603
    for c in state_dir.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    name = "runnerd-%016x" % h
    found = []
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for dirpath, dirnames, _ in os.walk(root):
            if name in dirnames:
                found.append(os.path.join(dirpath, name))
            if dirpath.count("/") > 8:
                dirnames[:] = []
    return found


def leftovers(tmp, state_dir, docker_host):
    left = []
    ps = subprocess.run(["pgrep", "-af", TOKEN], capture_output=True, text=True).stdout
    ps += subprocess.run(["pgrep", "-af", "^sleep 300[12]$"], capture_output=True, text=True).stdout
    for line in ps.splitlines():
        if "pgrep" not in line:
            left.append("process: " + line)
    for cg in task_cgroup_root(state_dir):
        for d in os.listdir(cg):
            if os.path.isdir(os.path.join(cg, d)):
                left.append("task cgroup: " + os.path.join(cg, d))
    work = os.path.join(state_dir, "work")
    if os.path.isdir(work):
        for d in os.listdir(work):
            left.append("working directory: " + os.path.join(work, d))
    if docker_host:
        for c in containers(docker_host):
            left.append("container: %s %s" % (c["Id"][:12], c.get("Labels", {}).get("kestra.io/execution-id")))
    return left


def engine_call(host, method, path):
    import http.client

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(host)

    conn = UnixConnection("docker", timeout=60)
    try:
        conn.request(method, "/v1.41" + path)
        r = conn.getresponse()
        body = r.read()
        return r.status, (json.loads(body) if body else None)
    finally:
        conn.close()


def containers(host):
    from urllib.parse import quote
    filters = quote(json.dumps({"label": ["kestra.io/namespace=crashloop"]}))
    status, body = engine_call(host, "GET", "/containers/json?all=1&filters=" + filters)
    if status != 200:
        raise SystemExit("crash: listing containers: HTTP %d" % status)
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runnerd", required=True)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8, help="executions submitted per cycle")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--docker-host", default=os.environ.get("RUNNERD_TEST_DOCKER_HOST", ""),
                    help="engine socket (unix://...); containers join the workload")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--bench-line", action="store_true")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    host = args.docker_host[len("unix://"):] if args.docker_host.startswith("unix://") else args.docker_host
    tmp = tempfile.mkdtemp(prefix="runnerd-crash-")
    config = ("defaultRunner: io.kestra.plugin.core.runner.Process\nmaxRunning: 32\n"
              "killGracePeriod: PT1S\nterminationGracePeriod: PT10S\n")
    if host:
        config += "docker:\n  host: unix://%s\n" % host
    ledger = Ledger(os.path.join(tmp, "effects"), bool(host))
    print("crash: seed %d, %d cycles of %d executions, in %s%s" %
          (seed, args.cycles, args.batch, tmp, ", with containers" if host else ""), flush=True)
    started = time.time()
    for cycle in range(args.cycles):
        agent = Agent(args.runnerd, tmp, config)
        run_cycle(agent, ledger, rnd, cycle, args.batch)
    agent = Agent(args.runnerd, tmp, config)
    ledger.catch_up(agent.client)
    lost, wrong, duplicated, changed, details = check(agent.client, ledger, tmp, 300)
    rc = agent.stop()
    if rc != 0:
        details.append("the agent's graceful stop exited %s" % rc)
    time.sleep(0.5)  # processes killed by the stop finish exiting
    left = leftovers(tmp, agent.state, host)
    details += left
    for d in details[:50]:
        print("crash: " + d)
    bad = lost + wrong + duplicated + changed + len(left) + (rc != 0)
    print("crash: %d cycles, %d executions in %.0f s: %d lost, %d duplicated, %d changed, %d wrong, "
          "%d left behind (seed %d)" % (args.cycles, len(ledger.entries), time.time() - started, lost,
                                         duplicated, changed, wrong, len(left), seed))
    if args.bench_line:
        print("bench: crash_cycles_clean %d cycles" % (args.cycles if bad == 0 else 0))
    if bad == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
