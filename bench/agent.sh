# Sourced by bench/run.sh and bench/docker_bench.sh: the agent under test.
# The caller sets T (its scratch directory), AGENT_PID when it starts runnerd,
# AGENT_DIR to the directory holding its agent.err, and defines say().
AGENT_PID=""
AGENT_DIR=""

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

agent_stderr() {
  if [ -n "$AGENT_DIR" ] && [ -s "$AGENT_DIR/agent.err" ]; then
    say "runnerd stderr (last 40 lines):"
    tail -n 40 "$AGENT_DIR/agent.err" >&2
  fi
}

# Stops the agent with SIGTERM (SIGKILL after 30 s). Returns 1 if it had to be
# killed or did not exit cleanly (0, or 143 = terminated by the SIGTERM itself).
stop_agent() {
  [ -n "$AGENT_PID" ] || return 0
  local pid=$AGENT_PID rc=0
  AGENT_PID=""
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "runnerd did not exit 30 s after SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 1
    fi
  fi
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
    say "runnerd exited with status $rc after SIGTERM"
    agent_stderr
    return 1
  fi
  return 0
}

# step NAME K CMD...: runs CMD, keeps the last line of its stdout (a JSON object)
# in $T/NAME.json, and records a failure in FAILED if it exits non-zero, prints
# no JSON, or reports an agent maxRunning other than K (the comparison with a
# raw baseline only holds at the same parallelism).
FAILED=()
step() {
  local name=$1 k=$2 rc=0
  shift 2
  say "$name: $*"
  "$@" >"$T/$name.out" || rc=$?
  tail -n 1 "$T/$name.out" >"$T/$name.json"
  if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/$name.json" 2>/dev/null; then
    rm -f "$T/$name.json"
    if [ "$rc" -eq 0 ]; then rc=1; fi
  fi
  if [ -f "$T/$name.json" ]; then
    say "$name: $(cat "$T/$name.json")"
    local mr
    mr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("agent_max_running", ""))' \
      "$T/$name.json")
    if [ -n "$mr" ] && [ "$mr" != "None" ] && [ "$mr" != "$k" ]; then
      say "$name: the agent reports maxRunning $mr, not $k as configured"
      if [ "$rc" -eq 0 ]; then rc=1; fi
    fi
  fi
  if [ "$rc" -ne 0 ]; then
    FAILED+=("$name (exit $rc)")
    say "$name FAILED (exit $rc)"
    if [ -n "$AGENT_PID" ] && ! agent_alive; then
      agent_stderr
      say "runnerd is no longer running"
    fi
  fi
}
