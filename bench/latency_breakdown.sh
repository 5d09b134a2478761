#!/usr/bin/env bash
# Where one task's submit-to-result time goes (not part of make bench): builds
# runnerd from the committed tree with bench/latency_probe.patch applied, in a
# scratch worktree, then runs latency.py on an idle probed agent, with
# /bin/true and with bench_stamp, and prints each step's p50 and mean
# (latency_breakdown.py). The probes cost a clock read and an fprintf each.
#
#   bench/latency_breakdown.sh BUILD_DIR [N]     # BUILD_DIR has bench_stamp; N 1000
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
build=$(cd "${1:?usage: latency_breakdown.sh BUILD_DIR [N]}" && pwd)
n=${2:-1000}
[ -x "$build/bench_stamp" ] || { echo "latency_breakdown: no $build/bench_stamp" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-latprobe.XXXXXX")
agent=""
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  git -C "$ROOT" worktree remove --force "$T/src" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

git -C "$ROOT" worktree add --quiet --detach "$T/src" HEAD
# This tree's probe files, so that an edited patch is what runs.
cp "$HERE/latency_probe.h" "$T/src/bench/latency_probe.h"
git -C "$T/src" apply "$HERE/latency_probe.patch"
cmake -S "$T/src" -B "$T/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$T/build" runnerd >/dev/null
echo "latency_breakdown: probed runnerd built from $(git -C "$ROOT" rev-parse --short HEAD)"

printf 'maxRunning: 64\n' >"$T/agent.yaml"
"$T/build/runnerd" --socket "$T/s.sock" --state-dir "$T/state" --config "$T/agent.yaml" \
  >"$T/agent.out" 2>>"$T/agent.err" &  # appended: emptied between programs
agent=$!
for _ in $(seq 100); do [ -S "$T/s.sock" ] && break; sleep 0.1; done
[ -S "$T/s.sock" ] || { cat "$T/agent.err" >&2; exit 1; }

for program in /bin/true "$build/bench_stamp"; do
  stamp=()
  [ "$program" = /bin/true ] || stamp=(--stamp)
  : >"$T/agent.err"  # each program's probes alone
  python3 "$HERE/latency.py" --socket "$T/s.sock" --program "$program" "${stamp[@]}" --n "$n" \
    --timeline "$T/timeline"
  echo "latency_breakdown: $program, $n tasks one at a time"
  python3 "$HERE/latency_breakdown.py" --agent-log "$T/agent.err" --timeline "$T/timeline"
done
