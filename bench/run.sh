#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: measures runnerd against same-run physical baselines.
#
# Builds nothing (`make bench` builds first). Starts BUILD_DIR/runnerd on a
# private socket and state directory with `maxRunning: $INFLIGHT`, then, in one
# run:
#   raw spawn      bench_spawn_raw N INFLIGHT                 } twice, alternating:
#   agent dispatch dispatch.py --n N (one /bin/true per task) } raw, agent, raw, agent
#   raw pipe read  bench_pipe_raw LOG_BYTES
#   agent log      dispatch.py --log-bytes LOG_BYTES (then reads the log back and verifies it)
#   follow latency follow_latency.py: print-to-client delay of lines while following
# then stops the agent and, unless DOCKER_BENCH=0, runs bench/docker_bench.sh
# (container tasks against podman's Docker-compatible service, which
# scripts/setup-podman.sh starts; its own agents, one per in-flight level),
# and prints `bench: NAME VALUE UNIT` lines; ratios are agent / baseline of this
# run (means over the rounds). Writes bench/results/latest.json.
#
# Environment: N (default 10000), LOG_BYTES (default 1073741824), INFLIGHT
# (default 64), TMPDIR (where the agent's state lives; default /tmp),
# AGENT_CONFIG (extra YAML lines for the agent's config file, e.g.
# $'process:\n  cgroups: false'), DOCKER_BENCH (default 1; 0 skips the container
# part), DOCKER_SOCKET (an engine socket to use instead of starting podman) and
# docker_bench.sh's DOCKER_N (default 200), DOCKER_INFLIGHT (default "8 32"),
# DOCKER_ROUNDS, DOCKER_VOLUME.
# Exits non-zero if any step fails, a task fails, or the log does not verify.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bench/run.sh BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-10000}
LOG_BYTES=${LOG_BYTES:-1073741824}
INFLIGHT=${INFLIGHT:-64}

say() { echo "run.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for bin in runnerd bench_spawn_raw bench_pipe_raw; do
  [ -x "$BUILD/$bin" ] || die "$BUILD/$bin is missing (run 'make bench', which builds first)"
done
command -v python3 >/dev/null || die "python3 is required for bench/dispatch.py"

# Descriptors: the agent holds 2 pipes per running task plus its clients.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || say "could not raise ulimit -n to $hard"
say "ulimit -n $(ulimit -n)"

T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-bench.XXXXXX")
# shellcheck source=bench/agent.sh
. "$HERE/agent.sh"
AGENT_DIR=$T

cleanup() {
  local rc=$?
  trap - EXIT
  stop_agent || rc=1
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

printf 'maxRunning: %d\n' "$INFLIGHT" >"$T/agent.yaml"
if [ -n "${AGENT_CONFIG:-}" ]; then
  printf '%s\n' "$AGENT_CONFIG" >>"$T/agent.yaml"
fi
"$BUILD/runnerd" --socket "$T/s.sock" --state-dir "$T/state" --config "$T/agent.yaml" \
  >"$T/agent.out" 2>"$T/agent.err" &
AGENT_PID=$!
for _ in $(seq 100); do
  [ -S "$T/s.sock" ] && break
  if ! agent_alive; then
    rc=0
    wait "$AGENT_PID" 2>/dev/null || rc=$?
    AGENT_PID=""
    say "runnerd exited with status $rc during startup; its config file was:"
    cat "$T/agent.yaml" >&2
    agent_stderr
    die "runnerd did not start"
  fi
  sleep 0.1
done
if [ ! -S "$T/s.sock" ]; then
  agent_stderr
  die "runnerd did not create $T/s.sock within 10 s"
fi
say "runnerd pid $AGENT_PID, socket $T/s.sock, N=$N, INFLIGHT=$INFLIGHT, LOG_BYTES=$LOG_BYTES"

DISPATCH=(python3 "$HERE/dispatch.py" --socket "$T/s.sock")
for round in 1 2; do
  step "raw_spawn_$round" "$INFLIGHT" "$BUILD/bench_spawn_raw" "$N" "$INFLIGHT"
  step "dispatch_$round" "$INFLIGHT" "${DISPATCH[@]}" --n "$N"
done
step raw_pipe "$INFLIGHT" "$BUILD/bench_pipe_raw" "$LOG_BYTES"
step log_ingest "$INFLIGHT" "${DISPATCH[@]}" --log-bytes "$LOG_BYTES"
step follow_latency "$INFLIGHT" python3 "$HERE/follow_latency.py" --socket "$T/s.sock"

stop_agent || FAILED+=("runnerd shutdown")

# Container dispatch: docker_bench.sh starts its own agents (maxRunning = each
# in-flight level) once this one is stopped; its figures are merged below.
if [ "${DOCKER_BENCH:-1}" != 0 ]; then
  if [ -z "${DOCKER_SOCKET:-}" ]; then
    say "docker: scripts/setup-podman.sh"
    DOCKER_SOCKET=$(bash "$ROOT/scripts/setup-podman.sh" | tail -n 1) || DOCKER_SOCKET=""
  fi
  if [ -n "$DOCKER_SOCKET" ]; then
    export DOCKER_SOCKET
    say "docker: bench/docker_bench.sh (engine $DOCKER_SOCKET)"
    rc=0
    "$HERE/docker_bench.sh" "$BUILD" "$T/docker.json" >"$T/docker.out" || rc=$?
    if [ "$rc" -ne 0 ]; then
      FAILED+=("docker (exit $rc)")
      say "docker FAILED (exit $rc)"
    fi
  else
    FAILED+=("docker: scripts/setup-podman.sh")
    say "docker FAILED: scripts/setup-podman.sh did not provide an engine socket"
  fi
fi

mkdir -p "$HERE/results"
FAILED_LIST=$(printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}")
export FAILED_LIST
python3 - "$T" "$HERE/results/latest.json" "$N" "$INFLIGHT" "$LOG_BYTES" <<'EOF' || FAILED+=("report")
import datetime, json, os, platform, subprocess, sys

tmp, out_path, n, inflight, log_bytes = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
raw = {}
for name in ("raw_spawn_1", "dispatch_1", "raw_spawn_2", "dispatch_2", "raw_pipe", "log_ingest",
             "follow_latency"):
    try:
        with open(os.path.join(tmp, name + ".json")) as f:
            raw[name] = json.load(f)
    except (OSError, ValueError):
        pass

def mean(xs):
    return sum(xs) / len(xs) if xs else None

results = {}
def put(name, value, unit):
    if value is not None:
        results[name] = {"value": value, "unit": unit}

spawn = [raw[k]["tasks_per_s"] for k in ("raw_spawn_1", "raw_spawn_2") if k in raw]
disp = [raw[k]["tasks_per_s"] for k in ("dispatch_1", "dispatch_2") if k in raw]
put("raw_spawn_tasks_s", round(mean(spawn), 1) if spawn else None, "tasks/s")
put("process_dispatch_tasks_s", round(mean(disp), 1) if disp else None, "tasks/s")
if spawn and disp:
    put("process_dispatch_ratio", round(mean(disp) / mean(spawn), 3), "ratio")
def rate(name):  # bytes per second, unrounded
    r = raw.get(name)
    return r["bytes"] / r["seconds"] if r and r.get("seconds") else None
pipe, log = rate("raw_pipe"), rate("log_ingest")
put("raw_pipe_read_mb_s", raw.get("raw_pipe", {}).get("mb_s"), "MB/s")
put("log_ingest_mb_s", raw.get("log_ingest", {}).get("mb_s"), "MB/s")
if pipe and log is not None:
    put("log_ingest_ratio", round(log / pipe, 3), "ratio")
if "log_ingest" in raw:
    put("log_ingest_verified", 1 if raw["log_ingest"].get("verified") is True else 0, "bool")

lat = raw.get("follow_latency", {})
put("log_follow_latency_p50_ms", lat.get("p50_ms"), "ms")
put("log_follow_latency_p99_ms", lat.get("p99_ms"), "ms")

# bench/docker_bench.sh's figures, computed there (same names, same units).
docker = None
try:
    with open(os.path.join(tmp, "docker.json")) as f:
        docker = json.load(f)
except (OSError, ValueError):
    pass
if docker is not None:
    results.update(docker.get("results", {}))
    raw["docker"] = docker.get("raw", {})

for name, r in results.items():
    print("bench: %s %s %s" % (name, r["value"], r["unit"]), flush=True)

def git_head():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(out_path), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None

failed = [x for x in os.environ.get("FAILED_LIST", "").split("\n") if x]
doc = {
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "host": {"nproc": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()},
    "commit": git_head(),
    "params": {"N": n, "inflight": inflight, "log_bytes": log_bytes},
    "agent_config": open(os.path.join(tmp, "agent.yaml")).read(),
    "ok": not failed,
    "failed_steps": failed + ["docker: " + x for x in (docker or {}).get("failed_steps", [])],
    "results": results,
    "raw": raw,
}
if docker is not None:
    doc["docker"] = {k: docker.get(k) for k in ("params", "agent_configs", "containers_left", "ok")}
with open(out_path + ".tmp", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)
EOF

if [ ${#FAILED[@]} -ne 0 ]; then
  say "FAILED: ${FAILED[*]} (a failed log_ingest includes a log that did not verify)"
  exit 1
fi
say "results in $HERE/results/latest.json"
