#!/usr/bin/env bash
# A guided tour: starts a private runnerd, runs etc/examples/hello.yaml with
# runnerctl, shows its outputs and the execution list, and stops the agent.
# Nothing outside a temporary directory is touched.
#
#   scripts/demo.sh build/release
#
# Exit status: runnerctl run's (0 when the flow succeeds).
set -euo pipefail

build=${1:?usage: scripts/demo.sh BUILD_DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runnerd="$build/runnerd"
runnerctl="$build/runnerctl"
for bin in "$runnerd" "$runnerctl"; do
  if [[ ! -x $bin ]]; then
    echo "demo: $bin not found; build first: cmake --build $build" >&2
    exit 3
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/runnerd-demo.XXXXXX")
agent_pid=
cleanup() {
  if [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -t 1 ]]; then
  section() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
  section() { printf '\n==> %s\n' "$*"; }
fi

export RUNNERD_SOCKET="$tmp/runnerd.sock"

section "starting runnerd (socket $RUNNERD_SOCKET, log $tmp/runnerd.log)"
"$runnerd" --socket "$RUNNERD_SOCKET" --state-dir "$tmp/state" >"$tmp/runnerd.log" 2>&1 &
agent_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -S $RUNNERD_SOCKET ]] && break
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    wait "$agent_pid" && rc=0 || rc=$?
    agent_pid=
    echo "demo: runnerd exited with status $rc before listening; its output:" >&2
    sed 's/^/  | /' "$tmp/runnerd.log" >&2
    exit 3
  fi
  sleep 0.1
done
if [[ ! -S $RUNNERD_SOCKET ]]; then
  echo "demo: runnerd did not create $RUNNERD_SOCKET within 10 s; its output:" >&2
  sed 's/^/  | /' "$tmp/runnerd.log" >&2
  exit 3
fi
"$runnerctl" hello

section "runnerctl run etc/examples/hello.yaml"
# runnerctl reports the execution id on stderr; keep a copy to find it.
set +e
{
  "$runnerctl" run "$repo/etc/examples/hello.yaml" 2>&1 1>&3 3>&- | tee "$tmp/run.err" >&2
  run_status=${PIPESTATUS[0]}
} 3>&1
set -e
execution=$(sed -n 's/^execution \([^ ]*\) submitted$/\1/p' "$tmp/run.err" | head -n 1)
echo "(runnerctl run exited with status $run_status)"

if [[ -n $execution ]]; then
  section "runnerctl outputs $execution"
  "$runnerctl" outputs "$execution" || true
fi

section "runnerctl ps -t"
"$runnerctl" ps -t || true

section "stopping runnerd (SIGTERM)"
kill -TERM "$agent_pid"
agent_status=0
for ((i = 0; i < 100; i++)); do
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$agent_pid" 2>/dev/null; then
  echo "demo: runnerd still running 10 s after SIGTERM; killing it" >&2
  kill -KILL "$agent_pid" 2>/dev/null || true
fi
wait "$agent_pid" || agent_status=$?
agent_pid=
echo "runnerd exited with status $agent_status; its log:"
sed 's/^/  | /' "$tmp/runnerd.log"

exit "$run_status"
