#!/usr/bin/env bash
# bench/docker_bench.sh BUILD_DIR [OUT_JSON]: container dispatch through runnerd
# against a same-run baseline straight on the engine's socket.
#
# For each in-flight level K in DOCKER_INFLIGHT (default "8 32 64"), starts
# its own BUILD_DIR/runnerd (private socket and state directory, config
# `maxRunning: K` and `docker: {host: unix://SOCKET}`), then DOCKER_ROUNDS
# rounds (default 3) of
#   raw    bench_docker_raw SOCKET N K          } one of each per round, raw
#   agent  docker_dispatch.py --n N (MOUNT)     } first in odd rounds, the agent
#                                                 first in even ones
#   agent  docker_dispatch.py --n N --file-handling VOLUME   (once; DOCKER_VOLUME=0: skip)
# and stops it. Every task is `true` in busybox. A round's ratio is its agent
# rate over its raw rate; each figure is the median over the rounds, with the
# min and max (docker_dispatch_ratio_K: the median of the rounds' ratios;
# docker_dispatch_ratio: the lowest level's). docker_step_ms_STEP_{raw,agent}_K
# put each engine call of the sequence (create, start, wait, logs, delete; mean
# ms from request to end) of the raw client next to the agent's (from its
# engineCall* counters); without _K, at the highest level.
# Prints `bench: NAME VALUE UNIT` lines on stdout (progress and each program's
# JSON line on stderr) and writes OUT_JSON (default
# bench/results/docker-latest.json; bench/run.sh passes its own and merges it
# into latest.json).
#
# Environment: DOCKER_N (default 200), DOCKER_INFLIGHT (default "8 32 64"),
# DOCKER_ROUNDS (default 3), DOCKER_VOLUME (default 1), DOCKER_SOCKET (the
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
LEVELS=${DOCKER_INFLIGHT:-8 32 64}
ROUNDS=${DOCKER_ROUNDS:-3}
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
  # Raw first, then the agent first, ...: a machine that drifts during a
  # level (other load, the engine's own state growing) favours neither side.
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
      step "raw_${k}_$round" "$k" timeout "$TIMEOUT" "$BUILD/bench_docker_raw" "$SOCK" "$N" "$k"
      step "dispatch_${k}_$round" "$k" "${DISPATCH[@]}"
    else
      step "dispatch_${k}_$round" "$k" "${DISPATCH[@]}"
      step "raw_${k}_$round" "$k" timeout "$TIMEOUT" "$BUILD/bench_docker_raw" "$SOCK" "$N" "$k"
    fi
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

STEPS = ("create", "start", "wait", "logs", "delete")

def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2

results = {}
def put(name, per_round, unit, digits, **extra):
    """A figure over the rounds: the median, min and max of the rounds'
    values (None for a round that has none)."""
    xs = [x for x in per_round if x is not None]
    if not xs:
        return None
    r = round(median(xs), digits)
    results[name] = {"value": r, "unit": unit, "min": round(min(xs), digits),
                     "max": round(max(xs), digits),
                     "rounds": [None if x is None else round(x, digits) for x in per_round]}
    results[name].update(extra)
    return results[name]

def run(name):
    # Only runs in which every task succeeded count: a run that waited out a
    # failing call would drag its figures down.
    r = raw.get(name)
    return r if r is not None and r.get("failed") == 0 else None

def step_mean(r, step):
    s = (r or {}).get("steps_ms", {}).get(step) or {}
    return s.get("mean")

lowest = None  # (ratio entry, K)
for k in levels:
    rounds_ = range(1, int(rounds) + 1)
    rr = [run("raw_%d_%d" % (k, i)) for i in rounds_]
    dd = [run("dispatch_%d_%d" % (k, i)) for i in rounds_]
    put("docker_raw_tasks_s_%d" % k, [r and r["tasks_per_s"] for r in rr], "tasks/s", 2)
    put("docker_dispatch_tasks_s_%d" % k, [d and d["tasks_per_s"] for d in dd], "tasks/s", 2)
    # Each round's ratio pairs the two runs made next to each other; a ratio
    # for the level only when every round completed (a spoiled run gives none).
    ratios = [d["tasks_per_s"] / r["tasks_per_s"] if r and d else None for r, d in zip(rr, dd)]
    if all(x is not None for x in ratios):
        e = put("docker_dispatch_ratio_%d" % k, ratios, "ratio", 3)
        if e is not None and (lowest is None or e["value"] < lowest[0]["value"]):
            lowest = (e, k)
    for step in STEPS:
        put("docker_step_ms_%s_raw_%d" % (step, k), [step_mean(r, step) for r in rr], "ms", 1)
        put("docker_step_ms_%s_agent_%d" % (step, k), [step_mean(d, step) for d in dd], "ms", 1)
    v = run("dispatch_volume_%d" % k)
    put("docker_dispatch_tasks_s_volume_%d" % k, [v and v["tasks_per_s"]], "tasks/s", 2)
if lowest is not None and all("docker_dispatch_ratio_%d" % k in results for k in levels):
    results["docker_dispatch_ratio"] = dict(lowest[0], inflight=lowest[1])
# The steps at the highest level under names without the level.
top = max(levels) if levels else None
for step in STEPS:
    for side in ("raw", "agent"):
        e = results.get("docker_step_ms_%s_%s_%d" % (step, side, top))
        if e is not None:
            results["docker_step_ms_%s_%s" % (step, side)] = dict(e, inflight=top)

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
