#!/usr/bin/env python3
"""Conformance suite: runs every case of test/conformance/{seeds,behaviours}
against a real runnerd and checks its documented outcome.

A case is NAME.yaml (a flow, verbatim from the user's documents for seeds)
and NAME.expect.yaml (what must happen; format in README.md). Each case gets
its own runnerd (own socket and state directory), started with the case's
agentConfig and agentEnv. Prints one line per case, PASS / FAIL / PENDING,
and a summary line `conformance: N passed, N failed, N pending`; exits 1 on
any failure.

  test/conformance/run.py --runnerd build/release/runnerd --runnerctl build/release/runnerctl
"""
import argparse
import base64
import glob
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


# ---- local stand-ins for the network (no network here) ----

class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Serves jsonplaceholder-like JSON: /todos/1 and /users."""
    def do_GET(self):
        if self.path.startswith("/todos/1"):
            body = {"userId": 1, "id": 1, "title": "delectus aut autem", "completed": False}
        elif self.path.startswith("/users"):
            body = [{"id": 1, "name": "Leanne Graham"}, {"id": 2, "name": "Ervin Howell"}]
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_http_server():
    # On every address: containers reach it through the engine's bridge gateway.
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), JsonHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_git_repo(root, files):
    """A local repository standing in for a public one."""
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    for rel, content in files.items():
        path = os.path.join(repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "."],
                ["git", "commit", "-q", "-m", "fixture"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    return "file://" + repo


# ---- the container engine (podman's Docker-compatible service) ----

def engine_socket():
    host = os.environ.get("RUNNERD_TEST_DOCKER_HOST") or "/tmp/runnerd-podman/podman.sock"
    return host[len("unix://"):] if host.startswith("unix://") else host


def engine_call(method, path):
    """(status, parsed JSON body or None) of one Engine API call."""
    import http.client

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(engine_socket())

    conn = UnixConnection("docker", timeout=60)
    try:
        conn.request(method, "/v1.41" + path)
        r = conn.getresponse()
        body = r.read()
        try:
            return r.status, json.loads(body) if body else None
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def engine_gateway():
    """The address containers reach this host at (the default network's gateway)."""
    try:
        status, net = engine_call("GET", "/networks/podman")
    except OSError as e:
        raise Failure(f"no container engine on {engine_socket()} ({e}): run scripts/setup-podman.sh")
    for cfg in ((net or {}).get("IPAM") or {}).get("Config") or []:
        if cfg.get("Gateway"):
            return cfg["Gateway"]
    raise Failure(f"the engine's default network has no gateway: {net}")


def containers_of(exec_id):
    from urllib.parse import quote
    filters = quote(json.dumps({"label": [f"kestra.io/execution-id={exec_id}"]}))
    status, body = engine_call("GET", f"/containers/json?all=1&filters={filters}")
    if status != 200:
        raise Failure(f"listing containers: HTTP {status}")
    return [c["Id"] for c in body]


# ---- the agent ----

class Agent:
    def __init__(self, runnerd, tmp, config, env):
        self.socket = os.path.join(tmp, "runnerd.sock")
        self.log_path = os.path.join(tmp, "runnerd.log")
        cfg = os.path.join(tmp, "runnerd.yaml")
        with open(cfg, "w") as f:
            f.write(yaml.safe_dump(config or {}))
        self.proc = subprocess.Popen(
            [runnerd, "--socket", self.socket, "--state-dir", os.path.join(tmp, "state"),
             "--config", cfg],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})))
        for _ in range(200):
            if os.path.exists(self.socket):
                break
            if self.proc.poll() is not None:
                raise Failure("runnerd exited at start: " + open(self.log_path).read())
            time.sleep(0.025)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket)
        self.buf = b""
        self.next_id = 0

    def stop(self):
        try:
            self.sock.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def read(self, timeout=120):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise Failure("runnerd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, op, **params):
        self.next_id += 1
        rid = self.next_id
        self.sock.sendall((json.dumps(dict(id=rid, op=op, **params)) + "\n").encode())
        while True:
            msg = self.read()
            if msg.get("id") == rid and "event" not in msg:
                if not msg.get("ok"):
                    raise Failure(f"{op}: {msg.get('error')}")
                return msg["result"]

    def stream(self, op, **params):
        self.next_id += 1
        rid = self.next_id
        self.sock.sendall((json.dumps(dict(id=rid, op=op, **params)) + "\n").encode())
        events = []
        while True:
            msg = self.read()
            if msg.get("id") != rid:
                continue
            if "event" not in msg:
                if not msg.get("ok"):
                    raise Failure(f"{op}: {msg.get('error')}")
                continue
            events.append(msg)
            if msg["event"] == "end":
                return events

    def read_file(self, uri):
        data, offset = b"", 0
        while True:
            r = self.call("readFile", uri=uri, offset=offset, length=1 << 20)
            chunk = base64.b64decode(r["data"])
            data += chunk
            offset += len(chunk)
            if r["eof"] or not chunk:
                return data.decode(errors="replace")


# ---- checks ----

def text_matches(pattern, text):
    if pattern.startswith("/") and pattern.endswith("/") and len(pattern) > 1:
        return re.search(pattern[1:-1], text) is not None
    return pattern in text


def subset(expected, actual, path):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise Failure(f"{path}: expected a map, found {actual!r}")
        for k, v in expected.items():
            if k not in actual:
                raise Failure(f"{path}.{k}: missing (have {sorted(actual)})")
            subset(v, actual[k], f"{path}.{k}")
    elif expected != actual:
        raise Failure(f"{path}: expected {expected!r}, found {actual!r}")


def validate(runnerctl, flow, expect):
    p = subprocess.run([runnerctl, "validate", flow], capture_output=True, text=True)
    errors = [l for l in p.stderr.splitlines() if ": error: " in l]
    want = expect.get("errors", [])
    if not want:
        if p.returncode != 0:
            raise Failure("validate failed: " + p.stderr.strip())
        return "valid"
    if p.returncode == 0:
        raise Failure("validate accepted a flow it must refuse")
    for w in want:
        if not any(text_matches(w, e) for e in errors):
            raise Failure(f"validate: no error matching {w!r} in: " + " | ".join(errors))
    if len(errors) != len(want):
        raise Failure("validate: unexpected errors: " + " | ".join(errors))
    return "refused as documented"


def run_case(args, flow, expect, fixtures, tmp):
    notes = []
    if "validate" in expect:
        notes.append(validate(args.runnerctl, flow, expect["validate"] or {}))
    if expect.get("pending"):
        return "PENDING", "; ".join(notes + [expect["pending"]])
    if "state" not in expect:
        return "PASS", "; ".join(notes)

    config = expect.get("agentConfig") or {}
    config = json.loads(json.dumps(config).replace("@HTTP@", fixtures["http"])
                        .replace("@HOST_HTTP@", fixtures["host_http"]())
                        .replace("@GIT@", fixtures["git"]))
    # Every case can reach the engine: Docker is the default runner.
    config.setdefault("docker", {}).setdefault("host", "unix://" + engine_socket())
    # Namespace files the flow loads: {namespace: {path: content}}, where the
    # agent keeps them (<stateDir>/namespaces/<namespace>/).
    for ns, files in (expect.get("namespaceFiles") or {}).items():
        for rel, content in files.items():
            path = os.path.join(tmp, "state", "namespaces", ns, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
    agent = Agent(args.runnerd, tmp, config, expect.get("agentEnv"))
    try:
        cmd = [args.runnerctl, "run", "-d", "--json", flow]
        for name, value in (expect.get("inputs") or {}).items():
            value = str(value).replace("@HTTP@", fixtures["http"])
            if value.startswith("@"):
                value = "@" + os.path.join(HERE, "fixtures", value[1:])
            cmd += ["--input", f"{name}={value}"]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, RUNNERD_SOCKET=agent.socket))
        if p.returncode != 0:
            raise Failure("runnerctl run: " + p.stderr.strip())
        exec_id = json.loads(p.stdout.splitlines()[-1])["executionId"]
        if "cancelAfterMs" in expect:
            time.sleep(expect["cancelAfterMs"] / 1000)
            agent.call("cancel", executionId=exec_id)
        end = agent.stream("watch", executionId=exec_id)[-1]
        outputs = agent.call("outputs", executionId=exec_id)
        logs = [f'{l["level"]} {l["message"]}'
                for e in agent.stream("logs", executionId=exec_id) if e["event"] == "logs"
                for l in e["lines"]]
        if end.get("state") != expect["state"]:
            raise Failure(f"state {end.get('state')}, expected {expect['state']}; logs: {logs[-8:]}")
        runs = {}
        for r in outputs["taskRuns"]:
            runs[r["taskId"]] = r  # the last attempt of each task
        for task_id, want in (expect.get("taskRuns") or {}).items():
            if task_id not in runs:
                raise Failure(f"no task run of {task_id}")
            got = runs[task_id]
            for key in ("state", "exitCode"):
                if key in want and got.get(key) != want[key]:
                    raise Failure(f"{task_id}.{key}: {got.get(key)!r}, expected {want[key]!r}")
            if "vars" in want:
                subset(want["vars"], got.get("vars", {}), f"{task_id}.vars")
            if "outputFiles" in want:
                keys = sorted(got.get("outputFiles", {}))
                if keys != sorted(want["outputFiles"]):
                    raise Failure(f"{task_id}.outputFiles: {keys}, expected {sorted(want['outputFiles'])}")
            for key, content in (want.get("files") or {}).items():
                uri = got.get("outputFiles", {}).get(key)
                if uri is None:
                    raise Failure(f"{task_id}: no output file {key}")
                data = agent.read_file(uri)
                if data != content:
                    raise Failure(f"{task_id}: {key} holds {data!r}, expected {content!r}")
        joined = "\n".join(logs)
        for pattern in expect.get("logs") or []:
            if not text_matches(pattern, joined):
                raise Failure(f"no log line matching {pattern!r}; logs: {logs[-10:]}")
        for pattern in expect.get("logsAbsent") or []:
            if text_matches(pattern, joined):
                raise Failure(f"a log line matches {pattern!r}, which must not appear")
        left = containers_of(exec_id)
        for cid in left:
            engine_call("DELETE", f"/containers/{cid}?force=1&v=1")
        if len(left) != expect.get("containersLeft", 0):
            raise Failure(f"{len(left)} containers left, expected {expect.get('containersLeft', 0)}")
        notes.append(f"{expect['state']}, {len(logs)} log lines")
        return "PASS", "; ".join(notes)
    finally:
        agent.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runnerd", required=True)
    ap.add_argument("--runnerctl", required=True)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    args.runnerd = os.path.abspath(args.runnerd)
    args.runnerctl = os.path.abspath(args.runnerctl)

    work = tempfile.mkdtemp(prefix="runnerd-conformance.")
    http_server = start_http_server()
    port = http_server.server_address[1]
    fixtures = {
        "http": f"http://127.0.0.1:{port}",
        # Asked only by cases that need it, so that a missing engine fails those.
        "host_http": lambda: f"http://{engine_gateway()}:{port}",
    }
    fixtures["git"] = make_git_repo(work, {
        "etl/get_users_from_api.py":
            "import os, requests\n"
            "users = requests.get(os.environ['USERS_URL']).json()\n"
            "print('fetched', len(users), 'users')\n",
        "README.md": "fixture standing in for github.com/kestra-io/scripts\n",
    })
    counts = {"PASS": 0, "FAIL": 0, "PENDING": 0}
    cases = sorted(glob.glob(os.path.join(HERE, "seeds", "*.yaml")) +
                   glob.glob(os.path.join(HERE, "behaviours", "*.yaml")))
    for flow in cases:
        if flow.endswith(".expect.yaml"):
            continue
        name = os.path.relpath(flow, HERE)[:-5]
        if args.filter not in name:
            continue
        expect_path = flow[:-5] + ".expect.yaml"
        tmp = None
        try:
            if not os.path.exists(expect_path):
                raise Failure("no " + os.path.basename(expect_path))
            with open(expect_path) as f:
                expect = yaml.safe_load(f) or {}
            tmp = tempfile.mkdtemp(dir=work)
            status, detail = run_case(args, flow, expect, fixtures, tmp)
        except (Failure, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
            status, detail = "FAIL", str(e)
            if not isinstance(e, Failure):  # say where, and what the agent said
                frame = traceback.extract_tb(e.__traceback__)[-1]
                detail += f" (in {frame.name}, line {frame.lineno})"
                log = os.path.join(tmp, "runnerd.log") if tmp else ""
                if log and os.path.exists(log):
                    tail = open(log, errors="replace").read().splitlines()[-6:]
                    detail += "; the agent's log ends:\n    " + "\n    ".join(tail)
        counts[status] += 1
        print(f"{status:7} {name}: {detail}", flush=True)
    http_server.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    print(f"conformance: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['PENDING']} pending")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
