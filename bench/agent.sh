# Sourced by bench/run.sh and bench/docker_bench.sh: the agent under test.
# The caller sets AGENT_PID when it starts runnerd, AGENT_DIR to the directory
# holding its agent.err, and defines say().
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
