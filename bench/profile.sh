#!/bin/bash
# bench/profile.sh BUILD_DIR [N]: where the CPU goes when the agent dispatches
# N (10,000) trivial tasks at 64 in flight, against the raw spawn baseline.
#
# Prints, in µs of CPU per task: the raw baseline's parent and children
# (getrusage), the agent's threads by name (/proc/PID/task/*/stat), its
# children, the client's; each side's use of the machine's cores (CPU over
# wall time); and, when `perf` is installed, the shares of the loop thread's
# samples by function (perf record --call-graph dwarf on a second run).
# Read it with bench/README.md ("What is left, by thread"). Not part of
# `make bench`: it takes about a minute and changes nothing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: bench/profile.sh BUILD_DIR [N]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
N=${2:-10000}
K=64
T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-profile.XXXXXX")
AGENT=
cleanup() {
  [ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

cores=$(nproc)
echo "profile: $(date -u +%FT%TZ) $(uname -r) cores=$cores commit=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo ?)"

# The raw baseline: its own CPU and its children's, over its wall time.
python3 - "$BUILD/bench_spawn_raw" "$N" "$K" "$cores" <<'EOF'
import json, resource, subprocess, sys
exe, n, k, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run([exe, str(n), k], check=True, capture_output=True, text=True).stdout
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
d = json.loads(out.strip().splitlines()[-1])
total = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
parent = d["parent_cpu_us_per_task"]
print("raw:    %7.1f tasks/s  parent %5.1f us/task  children %5.1f us/task  cores used %.2f of %d"
      % (d["tasks_per_s"], parent, total * 1e6 / n - parent, total / d["seconds"], cores))
EOF

# The agent: a fresh one, its threads read before and after one dispatch.
printf 'maxRunning: %d\n' "$K" > "$T/agent.yaml"
start_agent() {
  rm -rf "$T/state"
  "$BUILD/runnerd" --socket "$T/s.sock" --state-dir "$T/state" --config "$T/agent.yaml" \
    > "$T/agent.out" 2>&1 &
  AGENT=$!
  for _ in $(seq 100); do [ -S "$T/s.sock" ] && return; sleep 0.05; done
  echo "profile: runnerd did not start: $(tail -3 "$T/agent.out")" >&2
  exit 1
}
stop_agent() { kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=; }
threads() {  # "name ticks" per thread of the agent
  for t in /proc/"$AGENT"/task/*; do
    read -r -a f < "$t/stat" || continue
    echo "$(cat "$t/comm") $((f[13] + f[14]))"
  done
}

start_agent
python3 "$HERE/dispatch.py" --socket "$T/s.sock" --n 300 > /dev/null  # warm: pools, caches
threads > "$T/before"
python3 "$HERE/dispatch.py" --socket "$T/s.sock" --n "$N" > "$T/dispatch.json"
threads > "$T/after"
stop_agent
python3 - "$T/dispatch.json" "$T/before" "$T/after" "$N" "$cores" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
n, cores, hz = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def read(p):
    out = {}
    for line in open(p):
        name, ticks = line.rsplit(" ", 1)
        out[name] = out.get(name, 0) + int(ticks)
    return out
b, a = read(sys.argv[2]), read(sys.argv[3])
us = lambda t: t * 1e6 / hz / n
per = {k: us(a[k] - b.get(k, 0)) for k in a}
agent = d["agent_cpu_us_per_task"]
kids = d["agent_children_cpu_us_per_task"]
client = d["client_cpu_us_per_task"]
print("agent:  %7.1f tasks/s  agent %5.1f us/task  children %5.1f us/task  client %5.1f us/task  cores used %.2f of %d"
      % (d["tasks_per_s"], agent, kids, client, (agent + kids + client) * d["tasks_per_s"] / 1e6, cores))
for name, v in sorted(per.items(), key=lambda kv: -kv[1]):
    print("  thread %-16s %5.1f us/task" % (name, v))
EOF

command -v perf > /dev/null || { echo "profile: perf is not installed: no loop profile"; exit 0; }
start_agent
python3 "$HERE/dispatch.py" --socket "$T/s.sock" --n 300 > /dev/null
python3 "$HERE/dispatch.py" --socket "$T/s.sock" --n "$N" > /dev/null &
D=$!
sleep 1
perf record -q -F 1500 --no-inherit --call-graph dwarf,16384 -t "$AGENT" -o "$T/loop.data" -- sleep 2 \
  > /dev/null 2>&1 || echo "profile: perf record failed"
wait "$D"
stop_agent
echo "loop thread, share of its samples (perf, callers included), 1% and up:"
perf report -i "$T/loop.data" --children --sort sym -g none --stdio 2> /dev/null |
  grep -E '^ +[0-9]' |
  grep -vE 'inlined|_M_invoke|__invoke|0x0000|0xffff|\[k\] (entry_|do_syscall)|\] (_start|main|__libc_start_call_main|\(anonymous namespace\)::run)$' |
  awk '$1+0 >= 1.0' | sed -E 's/ +\[[.k]\] / /' | cut -c1-120 | head -60
