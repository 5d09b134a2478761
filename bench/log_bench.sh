#!/usr/bin/env bash
# bench/log_bench.sh BUILD_DIR OUT_JSON: the agent's log ingest against a
# same-run baseline that pipes the same bytes and compresses them with zstd -1.
#
# Starts its own BUILD_DIR/runnerd (private socket and state directory under
# $TMPDIR, config `maxRunning: 128`), then LOG_ROUNDS times (default 3), for
# (a) one task writing LOG_BYTES and (b) LOG_TASKS tasks writing LOG_BYTES in
# all, alternating baseline and agent:
#   raw    bench_pipe_zstd_raw LOG_BYTES 1
#   agent  log_ingest.py --bytes LOG_BYTES --tasks 1
#   raw    bench_pipe_zstd_raw LOG_BYTES LOG_TASKS
#   agent  log_ingest.py --bytes LOG_BYTES --tasks LOG_TASKS
# and stops the agent. Each agent run reads its logs back and verifies them
# (LOG_VERIFY=first: only in the first round; the read-back is slow and not
# timed), sums the agent's stored log files, and (first round) runs zstd -1 on
# the same text. Figures (median over the rounds; the ratios are medians of
# the per-round agent/raw ratios):
#   raw_pipe_zstd_mb_s, log_ingest_mb_s, log_ingest_ratio          one task
#   raw_pipe_zstd_mb_s_100, log_ingest_mb_s_100, log_ingest_ratio_100   LOG_TASKS tasks
#   log_compressed_bytes, zstd1_compressed_bytes, log_compression_vs_zstd1 (and _100)
#   log_ingest_verified   1 if every agent run succeeded and every read-back verified
# (the _100 suffix is _<LOG_TASKS>). Prints `bench: NAME VALUE UNIT` lines on
# stdout (progress and each program's JSON line on stderr) and writes OUT_JSON:
#   {"results": {name: {"value","unit","min","max","rounds"}}, "raw": {...},
#    "failed_steps": [...], "params": {...}, "agent_config": "...", "ok": bool}
#
# Environment: LOG_BYTES (default 1073741824), LOG_TASKS (default 100),
# LOG_ROUNDS (default 3), LOG_VERIFY (all | first, default all), LOG_TIMEOUT
# (seconds per program, default 1800), AGENT_CONFIG (extra YAML lines for the
# agent's config, as in run.sh), TMPDIR (where the agent's state and the
# baseline's files live; default /tmp).
# Exits non-zero if runnerd does not start or stop cleanly, any program fails,
# a task fails, a log does not verify, or the agent reports another maxRunning.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: bench/log_bench.sh BUILD_DIR OUT_JSON" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
LOG_BYTES=${LOG_BYTES:-1073741824}
TASKS=${LOG_TASKS:-100}
ROUNDS=${LOG_ROUNDS:-3}
VERIFY=${LOG_VERIFY:-all}
TIMEOUT=${LOG_TIMEOUT:-1800}
MAX_RUNNING=128

say() { echo "log_bench.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for bin in runnerd bench_pipe_zstd_raw; do
  [ -x "$BUILD/$bin" ] || die "$BUILD/$bin is missing (run 'make bench', which builds first)"
done
command -v python3 >/dev/null || die "python3 is required"
if [ "$TASKS" -lt 1 ] || [ "$TASKS" -gt "$MAX_RUNNING" ]; then
  die "LOG_TASKS must be 1..$MAX_RUNNING (all tasks run at once)"
fi
case $VERIFY in all | first) ;; *) die "LOG_VERIFY must be 'all' or 'first'" ;; esac

hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || say "could not raise ulimit -n to $hard"

T=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-log-bench.XXXXXX")
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

{
  printf 'maxRunning: %d\n' "$MAX_RUNNING"
  if [ -n "${AGENT_CONFIG:-}" ]; then printf '%s\n' "$AGENT_CONFIG"; fi
} >"$T/agent.yaml"
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
say "runnerd pid $AGENT_PID, socket $T/s.sock, LOG_BYTES=$LOG_BYTES, LOG_TASKS=$TASKS, rounds $ROUNDS"

INGEST=(timeout "$TIMEOUT" python3 "$HERE/log_ingest.py" --socket "$T/s.sock" --state-dir "$T/state"
  --bytes "$LOG_BYTES" --timeout "$TIMEOUT")
mkdir -p "$T/raw"
NAMES=()
for round in $(seq "$ROUNDS"); do
  extra=()
  if [ "$round" -gt 1 ]; then
    extra+=(--no-zstd)  # the text is the same every round
    if [ "$VERIFY" = first ]; then extra+=(--no-verify); fi
  fi
  for t in 1 "$TASKS"; do
    # The baseline's files go next to the agent's state, on the same disk.
    step "raw_${t}_$round" "$MAX_RUNNING" timeout "$TIMEOUT" "$BUILD/bench_pipe_zstd_raw" \
      "$LOG_BYTES" "$t" "$T/raw"
    rm -f "$T"/raw/*.zst
    step "agent_${t}_$round" "$MAX_RUNNING" "${INGEST[@]}" --tasks "$t" "${extra[@]}"
    NAMES+=("raw_${t}_$round" "agent_${t}_$round")
  done
done

stop_agent || FAILED+=("runnerd shutdown")

mkdir -p "$(dirname "$OUT")"
FAILED_LIST=$(printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}")
NAME_LIST=$(printf '%s\n' "${NAMES[@]+"${NAMES[@]}"}")
COMMIT=$(git -C "$HERE" rev-parse HEAD 2>/dev/null || true)
export FAILED_LIST NAME_LIST COMMIT
python3 - "$T" "$OUT" "$LOG_BYTES" "$TASKS" "$ROUNDS" "$VERIFY" <<'EOF' || FAILED+=("report")
import datetime, json, os, platform, statistics, subprocess, sys

tmp, out_path, log_bytes, tasks, rounds, verify = sys.argv[1:7]
log_bytes, tasks, rounds = int(log_bytes), int(tasks), int(rounds)
raw = {}
for name in filter(None, os.environ.get("NAME_LIST", "").split("\n")):
    try:
        with open(os.path.join(tmp, name + ".json")) as f:
            raw[name] = json.load(f)
    except (OSError, ValueError):
        pass

results = {}
def put(name, values, unit, digits):
    values = [v for v in values if v is not None]
    if values:
        results[name] = {"value": round(statistics.median(values), digits), "unit": unit,
                         "min": round(min(values), digits), "max": round(max(values), digits),
                         "rounds": [round(v, digits) for v in values]}

def ok_run(name):  # a run that counts: the program reported no failure
    r = raw.get(name)
    return r if r and r.get("failed", 0) == 0 and r.get("seconds") else None

verified = True
for t in (1, tasks):
    suffix = "" if t == 1 else "_%d" % t
    raw_rates, agent_rates, ratios, stored, zstd1 = [], [], [], [], []
    for i in range(1, rounds + 1):
        r, a = ok_run("raw_%d_%d" % (t, i)), ok_run("agent_%d_%d" % (t, i))
        if r:
            raw_rates.append(r["bytes"] / 1e6 / r["seconds"])
        if a:
            agent_rates.append(a["bytes"] / 1e6 / a["seconds"])
            stored.append(a.get("stored_bytes"))
            zstd1.append(a.get("zstd1_bytes"))
        if r and a:
            ratios.append((a["bytes"] / a["seconds"]) / (r["bytes"] / r["seconds"]))
        full = raw.get("agent_%d_%d" % (t, i))
        if full is None or full.get("failed", 1) != 0 or full.get("verified") is False:
            verified = False
    put("raw_pipe_zstd_mb_s" + suffix, raw_rates, "MB/s", 1)
    put("log_ingest_mb_s" + suffix, agent_rates, "MB/s", 1)
    put("log_ingest_ratio" + suffix, ratios, "ratio", 3)
    put("log_compressed_bytes" + suffix, stored, "bytes", 0)
    put("zstd1_compressed_bytes" + suffix, zstd1[:1], "bytes", 0)
    z = [x for x in zstd1 if x]
    put("log_compression_vs_zstd1" + suffix,
        [s / z[0] for s in stored if s is not None] if z else [], "ratio", 2)
results["log_ingest_verified"] = {"value": 1 if verified else 0, "unit": "bool"}

for name, r in results.items():
    print("bench: %s %s %s" % (name, r["value"], r["unit"]), flush=True)

failed = [x for x in os.environ.get("FAILED_LIST", "").split("\n") if x]
doc = {
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "host": {"nproc": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()},
    "commit": os.environ.get("COMMIT") or None,
    "params": {"log_bytes": log_bytes, "tasks": tasks, "rounds": rounds, "verify": verify},
    "agent_config": open(os.path.join(tmp, "agent.yaml")).read(),
    "ok": not failed and verified,
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
  say "FAILED: ${FAILED[*]} (a failed agent step includes a log that did not verify)"
  exit 1
fi
say "results in $OUT"
