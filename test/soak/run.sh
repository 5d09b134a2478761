#!/usr/bin/env bash
# The soak tests of one build: the 60 s log flood (log_flood.sh) and 10,000
# concurrent sleeping tasks (many_tasks.sh). Each prints `bench: NAME VALUE
# UNIT` lines; the last line is "soak (BUILD): N passed, N failed".
#
#   test/soak/run.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
for t in log_flood many_tasks; do
  echo "== soak: $t ($build)"
  if bash "$here/$t.sh" "$build"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "soak ($build): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
