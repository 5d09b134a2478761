#!/usr/bin/env bash
# bench/docker_bench.sh BUILD_DIR [OUT_JSON]: container dispatch through runnerd
# against a same-run baseline straight on the engine's socket.
#
# For each in-flight level K in DOCKER_INFLIGHT (default "8 32"), starts its
# own BUILD_DIR/runnerd (private socket and state directory, config
# `maxRunning: K` and `docker: {host: unix://SOCKET}`), then:
#   raw    bench_docker_raw SOCKET N K          } DOCKER_ROUNDS times (default
#   agent  docker_dispatch.py --n N (MOUNT)     } 2), alternating: raw, agent, ...
#   agent  docker_dispatch.py --n N --file-handling VOLUME   (once; DOCKER_VOLUME=0: skip)
# and stops it. Every task is `true` in busybox. Ratio at K = mean agent rate /
# mean raw rate; docker_dispatch_ratio is the lower of the levels' ratios.
# Prints `bench: NAME VALUE UNIT` lines on stdout (progress and each program's
# JSON line on stderr) and writes OUT_JSON (default
# bench/results/docker-latest.json; bench/run.sh passes its own and merges it
# into latest.json).
#
# Environment: DOCKER_N (default 200), DOCKER_INFLIGHT (default "8 32"),
# DOCKER_ROUNDS (default 2), DOCKER_VOLUME (default 1), DOCKER_SOCKET (the
# engine's socket; default: the last line printed by scripts/setup-podman.sh,
# which starts podman's service if needed), DOCKER_IMAGE (default busybox),
# DOCKER_TIMEOUT (seconds per program, default 1800), AGENT_CONFIG (extra YAML
# lines for the agents' config, as in run.sh; must not hold `docker:`), TMPDIR.
# Exits non-zero if the engine is not usable, runnerd does not start or stop
# cleanly, any task fails, an agent reports another maxRunning than K, or a
# benchmark container is left behind on the engine.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: bench/docker_bench.sh BUILD_DIR [OUT_JSON]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${2:-$HERE/results/docker-latest.json}
N=${DOCKER_N:-200}
LEVELS=${DOCKER_INFLIGHT:-8 32}
ROUNDS=${DOCKER_ROUNDS:-2}
VOLUME=${DOCKER_VOLUME:-1}
IMAGE=${DOCKER_IMAGE:-busybox}
TIMEOUT=${DOCKER_TIMEOUT:-1800}

say() { echo "docker_bench.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for bin in runnerd bench_docker_raw; do
  [ -x "$BUILD/$bin" ] || die "$BUILD/$bin is missing (run 'make bench', which builds first)"
done
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required (to check the engine)"

SOCK=${DOCKER_SOCKET:-}
if [ -z "$SOCK" ]; then
  say "starting the engine: scripts/setup-podman.sh"
  SOCK=$(bash "$ROOT/scripts/setup-podman.sh" | tail -n 1) || die "scripts/setup-podman.sh failed"
fi
SOCK=${SOCK#unix://}
engine() {  # engine PATH: GET on the engine's API, body on stdout
  curl -sf --max-time 30 --unix-socket "$SOCK" "http://d/v1.41$1"
}
engine /version >/dev/null || die "no container engine answers on $SOCK"
engine "/images/$IMAGE/json" >/dev/null ||
  die "image $IMAGE is not on the engine at $SOCK (scripts/setup-podman.sh provides busybox)"

hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || say "could not raise ulimit -n to $hard"

# Containers of this benchmark: the agent's carry kestra.io/namespace=bench,
# bench_docker_raw's runnerd.bench/namespace=bench.
bench_containers() {
  local f
  for f in '{"label":["kestra.io/namespace=bench"]}' '{"label":["runnerd.bench/namespace=bench"]}'; do
    engine "/containers/json?all=1&filters=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$f")" |
      python3 -c 'import json,sys; [print(c["Id"]) for c in json.load(sys.stdin)]'
  done | sort
}

T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-docker-bench.XXXXXX")
# shellcheck source=bench/agent.sh
. "$HERE/agent.sh"

bench_containers >"$T/containers.before" || die "cannot list the engine's containers"

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

# start_agent K: runnerd with maxRunning K on $T/K/s.sock.
start_agent() {
  local k=$1
  AGENT_DIR="$T/$k"
  mkdir -p "$AGENT_DIR"
  {
    printf 'maxRunning: %d\n' "$k"
    printf 'docker:\n  host: unix://%s\n' "$SOCK"
    if [ -n "${AGENT_CONFIG:-}" ]; then printf '%s\n' "$AGENT_CONFIG"; fi
  } >"$AGENT_DIR/agent.yaml"
  "$BUILD/runnerd" --socket "$AGENT_DIR/s.sock" --state-dir "$AGENT_DIR/state" \
    --config "$AGENT_DIR/agent.yaml" >"$AGENT_DIR/agent.out" 2>"$AGENT_DIR/agent.err" &
  AGENT_PID=$!
  for _ in $(seq 100); do
    [ -S "$AGENT_DIR/s.sock" ] && break
    if ! agent_alive; then
      local rc=0
      wait "$AGENT_PID" 2>/dev/null || rc=$?
      AGENT_PID=""
      say "runnerd exited with status $rc during startup; its config file was:"
      cat "$AGENT_DIR/agent.yaml" >&2
      agent_stderr
      return 1
    fi
    sleep 0.1
  done
  if [ ! -S "$AGENT_DIR/s.sock" ]; then
    agent_stderr
    say "runnerd did not create $AGENT_DIR/s.sock within 10 s"
    return 1
  fi
  say "K=$k: runnerd pid $AGENT_PID, socket $AGENT_DIR/s.sock, engine $SOCK, N=$N"
}


NAMES=()
for k in $LEVELS; do
  if ! start_agent "$k"; then
    FAILED+=("runnerd start (K=$k)")
    continue
  fi
  DISPATCH=(python3 "$HERE/docker_dispatch.py" --socket "$AGENT_DIR/s.sock" --n "$N"
    --image "$IMAGE" --timeout "$TIMEOUT")
  for round in $(seq "$ROUNDS"); do
    step "raw_${k}_$round" "$k" timeout "$TIMEOUT" "$BUILD/bench_docker_raw" "$SOCK" "$N" "$k"
    step "dispatch_${k}_$round" "$k" "${DISPATCH[@]}"
    NAMES+=("raw_${k}_$round" "dispatch_${k}_$round")
  done
  if [ "$VOLUME" != 0 ]; then
    step "dispatch_volume_$k" "$k" "${DISPATCH[@]}" --file-handling VOLUME
    NAMES+=("dispatch_volume_$k")
  fi
  stop_agent || FAILED+=("runnerd shutdown (K=$k)")
  cp "$AGENT_DIR/agent.yaml" "$T/agent_$k.yaml"
done

bench_containers >"$T/containers.after" || FAILED+=("listing the engine's containers")
LEFT=$(comm -13 "$T/containers.before" "$T/containers.after" | wc -l)
if [ "$LEFT" -ne 0 ]; then
  say "$LEFT benchmark containers were left on the engine:"
  comm -13 "$T/containers.before" "$T/containers.after" | head -n 10 >&2
  FAILED+=("$LEFT containers left behind")
fi

mkdir -p "$(dirname "$OUT")"
FAILED_LIST=$(printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}")
NAME_LIST=$(printf '%s\n' "${NAMES[@]+"${NAMES[@]}"}")
export FAILED_LIST NAME_LIST
python3 - "$T" "$OUT" "$N" "$ROUNDS" "$SOCK" "$IMAGE" "$LEFT" $LEVELS <<'EOF' || FAILED+=("report")
import datetime, json, os, sys

tmp, out_path, n, rounds, sock, image, left = sys.argv[1:8]
levels = [int(k) for k in sys.argv[8:]]
raw = {}
for name in filter(None, os.environ.get("NAME_LIST", "").split("\n")):
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

def rates(prefix):
    # Only runs in which every task succeeded have a rate: a run that waited
    # out a failing call would drag its mean down.
    return [r["tasks_per_s"] for x, r in raw.items() if x.startswith(prefix) and r.get("failed") == 0]

ratios = []
for k in levels:
    rr, dd = rates("raw_%d_" % k), rates("dispatch_%d_" % k)
    put("docker_raw_tasks_s_%d" % k, round(mean(rr), 2) if rr else None, "tasks/s")
    put("docker_dispatch_tasks_s_%d" % k, round(mean(dd), 2) if dd else None, "tasks/s")
    # A ratio only from complete rounds.
    if len(rr) == len(dd) == int(rounds):
        r = mean(dd) / mean(rr)
        ratios.append(r)
        put("docker_dispatch_ratio_%d" % k, round(r, 3), "ratio")
    v = rates("dispatch_volume_%d" % k)
    put("docker_dispatch_tasks_s_volume_%d" % k, v[0] if v else None, "tasks/s")
if ratios and len(ratios) == len(levels):
    put("docker_dispatch_ratio", round(min(ratios), 3), "ratio")

for name, r in results.items():
    print("bench: %s %s %s" % (name, r["value"], r["unit"]), flush=True)

configs = {}
for k in levels:
    try:
        configs[str(k)] = open(os.path.join(tmp, "agent_%d.yaml" % k)).read()
    except OSError:
        pass
failed = [x for x in os.environ.get("FAILED_LIST", "").split("\n") if x]
doc = {
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "params": {"N": int(n), "inflight": levels, "rounds": int(rounds), "engine_socket": sock,
               "image": image},
    "agent_configs": configs,
    "containers_left": int(left),
    "ok": not failed,
    "failed_steps": failed,
    "results": results,
    "raw": raw,
}
with open(out_path + ".tmp", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.replace(out_path + ".tmp", out_path)
EOF

if [ ${#FAILED[@]} -ne 0 ]; then
  say "FAILED: ${FAILED[*]}"
  exit 1
fi
say "results in $OUT"
