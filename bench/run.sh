#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: every figure of bench/README.md, each measured side
# by side with its baseline in the same run, ROUNDS times, alternating.
#
# Builds nothing (`make bench` builds first). Each section starts its own
# runnerd on a private socket and state directory (under $TMPDIR) with the
# configuration it needs, and stops it with SIGTERM:
#   dispatch  raw posix_spawn, runnerd (1 client, 16 clients), xargs -P and
#             GNU parallel on the same N /bin/true tasks, 64 and 512 in flight
#   sweep     tasks/s against tasks in flight, every tool (the plot)
#   running   the same next to 2,000 running tasks (runnerd and raw)
#   ballast   runnerd holding >= 256 MiB of state against raw
#   latency   one task at a time: submit to running, submit to result, exit
#             to result, against raw spawn-to-reap
#   scale     thousands of sleeping tasks: memory, fds, loop lag, reap
#   follow    live log follow latency
#   logs      bench/log_bench.sh (one chatty task, 100 chatty tasks)
#   docker    bench/docker_bench.sh (containers on podman, 8/32/64 in flight)
# then bench/report.py prints the `bench: NAME VALUE UNIT` lines, writes
# bench/results/latest.json and draws bench/results/dispatch.png.
#
# Environment: SECTIONS (default: all of the above), ROUNDS (3), N (10000),
# SWEEP_N (2000), SWEEP_LEVELS ("1 4 16 64 256 512"), SCALE_TASKS (10000,
# capped by RLIMIT_NOFILE), LOG_BYTES (1 GiB), TMPDIR, DOCKER_SOCKET, and the
# two sub-scripts' own variables (see bench/README.md).
# Exits non-zero if a step fails, a task fails or the agent does not stop.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bench/run.sh BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SECTIONS=${SECTIONS:-"dispatch sweep running ballast latency scale follow logs docker"}
ROUNDS=${ROUNDS:-3}
N=${N:-10000}
SWEEP_N=${SWEEP_N:-2000}
SWEEP_LEVELS=${SWEEP_LEVELS:-"1 4 16 64 256 512"}
SCALE_TASKS=${SCALE_TASKS:-10000}
LOG_BYTES=${LOG_BYTES:-1073741824}
# The sub-scripts run as many rounds as the rest unless told otherwise.
LOG_ROUNDS=${LOG_ROUNDS:-$ROUNDS}
DOCKER_ROUNDS=${DOCKER_ROUNDS:-$ROUNDS}
export LOG_BYTES LOG_ROUNDS DOCKER_ROUNDS

say() { echo "run.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

for bin in runnerd bench_spawn_raw bench_stamp; do
  [ -x "$BUILD/$bin" ] || die "$BUILD/$bin is missing (run 'make bench', which builds first)"
done
command -v python3 >/dev/null || die "python3 is required"

# Descriptors: the agent holds 3 per running task plus its clients.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || say "could not raise ulimit -n to $hard"
say "ulimit -n $(ulimit -n)"

T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-bench.XXXXXX")
# shellcheck source=bench/agent.sh
. "$HERE/agent.sh"

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

# start_agent NAME CONFIG: a fresh runnerd with CONFIG (YAML) as its config
# file; SOCK is its socket.
start_agent() {
  local name=$1 config=$2
  AGENT_DIR="$T/$name"
  mkdir -p "$AGENT_DIR"
  printf '%s\n' "$config" >"$AGENT_DIR/agent.yaml"
  SOCK="$AGENT_DIR/s.sock"
  "$BUILD/runnerd" --socket "$SOCK" --state-dir "$AGENT_DIR/state" --config "$AGENT_DIR/agent.yaml" \
    >"$AGENT_DIR/agent.out" 2>"$AGENT_DIR/agent.err" &
  AGENT_PID=$!
  for _ in $(seq 100); do
    [ -S "$SOCK" ] && return 0
    if ! agent_alive; then
      AGENT_PID=""
      agent_stderr
      die "runnerd ($name) exited during startup"
    fi
    sleep 0.1
  done
  agent_stderr
  die "runnerd ($name) did not create its socket within 10 s"
}

end_agent() { stop_agent || FAILED+=("runnerd shutdown ($1)"); }

DISPATCH=(python3 "$HERE/dispatch.py")
RAW=("$BUILD/bench_spawn_raw")

if want dispatch; then
  for r in $(seq "$ROUNDS"); do
    for k in 64 512; do
      start_agent "dispatch$k" "maxRunning: $k"
      step "raw${k}_r$r" "$k" "${RAW[@]}" "$N" "$k"
      step "agent${k}_r$r" "$k" "${DISPATCH[@]}" --socket "$SOCK" --n "$N"
      if [ "$k" = 64 ]; then
        step "agent64c16_r$r" 64 "${DISPATCH[@]}" --socket "$SOCK" --n "$N" --clients 16
      fi
      end_agent "dispatch$k"
    done
    step "xargs64_r$r" 64 "$HERE/tools.sh" xargs "$N" 64
    step "parallel64_r$r" 64 "$HERE/tools.sh" parallel "$N" 64
  done
fi

if want sweep; then
  for k in $SWEEP_LEVELS; do
    start_agent "sweep$k" "maxRunning: $k"
    step "sweep_raw_$k" "$k" "${RAW[@]}" "$SWEEP_N" "$k"
    step "sweep_runnerd_$k" "$k" "${DISPATCH[@]}" --socket "$SOCK" --n "$SWEEP_N"
    end_agent "sweep$k"
    step "sweep_xargs_$k" "$k" "$HERE/tools.sh" xargs "$SWEEP_N" "$k"
    step "sweep_parallel_$k" "$k" "$HERE/tools.sh" parallel "$SWEEP_N" "$k"
  done
fi

# 2,000 sleeping tasks hold slots, so the agent's maxRunning leaves room for
# them and the client keeps 64 in flight itself (--window), also when idle.
if want running; then
  for r in $(seq "$ROUNDS"); do
    start_agent running "maxRunning: 2064"
    step "rawidle_r$r" 64 "${RAW[@]}" "$N" 64
    step "agentidle_r$r" 2064 "${DISPATCH[@]}" --socket "$SOCK" --n "$N" --window 64
    step "raw2000_r$r" 64 "${RAW[@]}" --background 2000 "$N" 64
    step "agent2000_r$r" 2064 "${DISPATCH[@]}" --socket "$SOCK" --n "$N" --window 64 --background 2000
    end_agent running
  done
fi

if want ballast; then
  for r in $(seq "$ROUNDS"); do
    start_agent ballast "maxRunning: 64"
    step "rawsmall_r$r" 64 "${RAW[@]}" "$N" 64
    step "raw256m_r$r" 64 "${RAW[@]}" --ballast-mib 256 "$N" 64
    step "agent256m_r$r" 64 "${DISPATCH[@]}" --socket "$SOCK" --n "$N" --ballast-mib 256
    end_agent ballast
  done
fi

if want latency; then
  for r in $(seq "$ROUNDS"); do
    start_agent latency "maxRunning: 64"
    step "rawlatency_r$r" 1 "${RAW[@]}" 1000 1
    step "latency_r$r" 1 python3 "$HERE/latency.py" --socket "$SOCK" --program /bin/true --n 1000
    step "latencystamp_r$r" 1 python3 "$HERE/latency.py" --socket "$SOCK" \
      --program "$BUILD/bench_stamp" --stamp --n 1000
    end_agent latency
  done
fi

if want scale; then
  start_agent scale "maxRunning: $SCALE_TASKS"
  step scale "$SCALE_TASKS" python3 "$HERE/scale.py" --socket "$SOCK" --stamp "$BUILD/bench_stamp" \
    --tasks "$SCALE_TASKS"
  end_agent scale
fi

if want follow; then
  start_agent follow "maxRunning: 64"
  step follow_latency 64 python3 "$HERE/follow_latency.py" --socket "$SOCK"
  end_agent follow
fi

if want logs; then
  rc=0
  "$HERE/log_bench.sh" "$BUILD" "$T/logs.json" >"$T/logs.out" || rc=$?
  [ "$rc" -eq 0 ] || FAILED+=("logs (exit $rc)")
fi

if want docker; then
  if [ -z "${DOCKER_SOCKET:-}" ]; then
    say "docker: scripts/setup-podman.sh"
    DOCKER_SOCKET=$(bash "$ROOT/scripts/setup-podman.sh" | tail -n 1) || DOCKER_SOCKET=""
  fi
  if [ -n "$DOCKER_SOCKET" ]; then
    export DOCKER_SOCKET
    rc=0
    "$HERE/docker_bench.sh" "$BUILD" "$T/docker.json" >"$T/docker.out" || rc=$?
    [ "$rc" -eq 0 ] || FAILED+=("docker (exit $rc)")
  else
    FAILED+=("docker: scripts/setup-podman.sh gave no engine socket")
  fi
fi

mkdir -p "$HERE/results"
FAILED_LIST=$(printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}")
export FAILED_LIST SECTIONS ROUNDS N SWEEP_N SWEEP_LEVELS SCALE_TASKS
python3 "$HERE/report.py" "$T" "$HERE/results" || FAILED+=("report")

if [ ${#FAILED[@]} -ne 0 ]; then
  say "FAILED: ${FAILED[*]}"
  exit 1
fi
say "results in $HERE/results/latest.json"
