#!/usr/bin/env bash
# The log flood (reliability catalogue C1; goals M6, M8, M9): one Process task
# writes 128-byte numbered lines as fast as the agent takes them (the writer,
# test/soak/flood_writer.c, offers more than 1 GiB/s) for SECONDS (default
# 60). Every byte must be stored: the SHA-256 of the stored log, read back
# through `runnerctl logs`, must equal that of the generated stream. Meanwhile
# a client times a `stats` request every 20 ms: p99 must stay under 100 ms.
#
#   test/soak/log_flood.sh BUILD_DIR [SECONDS]
#
# Prints `bench: NAME VALUE UNIT` lines and "log_flood: ok" or the failure;
# exits non-zero on a failure. The short version runs in the integration
# tests (Faults.ALogFloodIsStoredByteForByte, 5 s).
set -euo pipefail

build=$(cd "${1:?usage: log_flood.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/rdflood.XXXXXX)
agent_pid=""
probe_pid=""

cleanup() {
  [ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
  if [ -n "$agent_pid" ]; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/flood_writer" "$here/flood_writer.c"
export RUNNERD_SOCKET="$work/agent.sock"
"$build/runnerd" --socket "$RUNNERD_SOCKET" --state-dir "$work/state" 2>"$work/agent.err" &
agent_pid=$!
for _ in $(seq 100); do
  [ -S "$RUNNERD_SOCKET" ] && break
  sleep 0.05
done

cat >"$work/flood.yaml" <<EOF
id: flood
namespace: soak
tasks:
  - id: flood
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - $work/flood_writer $seconds $work/count
EOF

python3 "$here/ping_probe.py" "$RUNNERD_SOCKET" >"$work/probe.out" &
probe_pid=$!
id=$("$build/runnerctl" run -d "$work/flood.yaml" 2>/dev/null)
state=""
while :; do
  state=$("$build/runnerctl" get --json "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  case "$state" in SUCCESS | FAILED | KILLED | WARNING) break ;; esac
  sleep 1
done
kill "$probe_pid"
wait "$probe_pid" || true
probe_pid=""
probe=$(cat "$work/probe.out")

fail=0
if [ "$state" != SUCCESS ]; then
  echo "log_flood: the flood task ended $state"
  fail=1
fi
read -r lines bytes <"$work/count"
duration_ms=$("$build/runnerctl" get --json "$id" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["taskRuns"][0]["durationMs"])')
stored_lines=$("$build/runnerctl" get --json "$id" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["taskRuns"][0]["logLines"])')
echo "bench: log_flood_seconds $seconds s"
echo "bench: log_flood_bytes $bytes bytes"
awk -v b="$bytes" -v ms="$duration_ms" 'BEGIN { printf "bench: log_flood_mb_per_s %.1f MB/s\n", b / 1e3 / ms }'
stored_bytes=$(du -b "$work/state/logs" | cut -f1)
echo "bench: log_flood_stored_compressed $stored_bytes bytes"

# The probe's figures: "probe: N requests, p50 X ms, p99 Y ms, max Z ms".
p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$probe")
p50=$(sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' <<<"$probe")
pmax=$(sed -n 's/.*max \([0-9.]*\) ms.*/\1/p' <<<"$probe")
if [ -z "$p99" ]; then
  echo "log_flood: the probe failed: $probe"
  fail=1
else
  echo "bench: log_flood_stats_p50_ms $p50 ms"
  echo "bench: log_flood_stats_p99_ms $p99 ms"
  echo "bench: log_flood_stats_max_ms $pmax ms"
  if awk -v p="$p99" 'BEGIN { exit !(p >= 100) }'; then
    echo "log_flood: stats p99 $p99 ms during the flood (bound: 100 ms)"
    fail=1
  fi
fi

if [ "$stored_lines" != "$lines" ]; then
  echo "log_flood: $lines lines written, $stored_lines stored"
  fail=1
fi
# Each line of `runnerctl logs` is "TS INFO  [flood] TEXT": TEXT from field 5.
t0=$(date +%s.%N)
stored=$("$build/runnerctl" logs "$id" | cut -d' ' -f5- | sha256sum | cut -c1-64)
t1=$(date +%s.%N)
generated=$("$work/flood_writer" --replay "$lines" | sha256sum | cut -c1-64)
awk -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "bench: log_readback_mb_per_s %.1f MB/s\n", b / 1e6 / (t1 - t0) }'
echo "log_flood: sha256 generated $generated"
echo "log_flood: sha256 stored    $stored"
if [ "$stored" != "$generated" ]; then
  echo "log_flood: the stored log differs from the generated stream"
  fail=1
fi
if [ "$fail" -eq 0 ]; then
  echo "log_flood: ok ($lines lines, $bytes bytes, hashes equal, stats p99 $p99 ms)"
fi
exit "$fail"
