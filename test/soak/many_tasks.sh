#!/usr/bin/env bash
# 10,000 concurrent sleeping Process tasks (reliability catalogue B8, E7;
# goals M10, M11): the integration test
# Faults.ThousandsOfSleepingTasksRunAtOnceAndEndClean at soak size. Each task
# is its own execution running `sleep` until one common instant; once all run
# at once the agent's fds and PSS per task are measured; then they all end
# together and every one must be SUCCESS with no process, task cgroup or
# working directory left. As root the test raises the agent's RLIMIT_NOFILE
# (here the hard limit is 20,000) up to what the tasks need, within
# fs.nr_open, and prints the limits it ran with.
#
#   test/soak/many_tasks.sh BUILD_DIR [TASKS]     # default 10000
#
# Prints `bench: NAME VALUE UNIT` lines; exits non-zero if the test failed.
set -euo pipefail

build=$(cd "${1:?usage: many_tasks.sh BUILD_DIR [TASKS]}" && pwd)
tasks=${2:-10000}
export RUNNERD_TEST_SLEEPERS=$tasks
# Submitting and starting ran at 120-170 tasks/s on the 2-core project
# machine: every task sleeps until 15 s + 12 ms per task after the first
# submission.
export RUNNERD_TEST_SLEEPERS_LEAD_S=${RUNNERD_TEST_SLEEPERS_LEAD_S:-$(awk -v n="$tasks" 'BEGIN { print 15 + n * 0.012 }')}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$build/runnerd_integration_tests" --gtest_filter='Faults.ThousandsOfSleepingTasksRunAtOnceAndEndClean' \
  >"$out" 2>&1 || status=$?
grep -v '^faults: ' "$out" | grep -E 'Failure|Expected|Which is|actual|FAILED|OK \]' || true
grep '^faults: limits' "$out" | sed 's/^faults: /many_tasks: /'
grep '^faults: ' "$out" | grep -v '^faults: limits' | sed 's/^faults: /bench: /'
if [ "$status" -eq 0 ]; then
  echo "many_tasks: ok ($tasks tasks)"
else
  echo "many_tasks: FAILED ($tasks tasks)"
fi
exit "$status"
