#!/usr/bin/env bash
# Runs the unit and integration test binaries of one build directory and ends
# with one line "tests (BUILD): N passed, N failed".
set -uo pipefail
build=${1:?build directory}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The 1 GiB writer test takes minutes with a sanitized agent: 256 MiB there.
case "$build" in
  *asan*) export RUNNERD_TEST_LOG_BYTES=${RUNNERD_TEST_LOG_BYTES:-268435456} ;;
esac

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
here=$(cd "$(dirname "$0")/.." && pwd)

# The container engine the Docker runner's tests use: podman's
# Docker-compatible service with local images. Without it those tests fail
# (they never skip), so a failure here is reported and the run goes on.
echo "== container engine"
if sock=$(bash "$here/scripts/setup-podman.sh" | tail -n 1) && [ -S "$sock" ]; then
  export RUNNERD_TEST_DOCKER_HOST="unix://$sock"
  echo "podman's Docker API on $sock"
else
  echo "tests: the container engine could not be set up (scripts/setup-podman.sh)"
  status=1
fi
for suite in unit integration; do
  echo "== $suite tests ($build)"
  "$build/runnerd_${suite}_tests" --gtest_brief=1 --gtest_output="json:$results/$suite.json" || status=1
done

# The kestra script libraries (Python and Node), tested with the real interpreters.
echo "== script library tests"
bash "$here/test/lib/test_kestra_libs.sh" | tee "$results/libs.txt" || status=1

# Every example of the user's documents, and Kestra's behaviours, against the
# real runnerd (test/conformance/README.md). PENDING cases wait for a runner.
echo "== conformance ($build)"
python3 "$here/test/conformance/run.py" --runnerd "$build/runnerd" --runnerctl "$build/runnerctl" \
  | tee "$results/conformance.txt" || status=1

# The kill -9 test: a mixed workload while the agent is killed at random
# points, then a ledger of submissions compared with the results
# (test/crash/crash_loop.py; `make soak` runs 1,000 cycles).
echo "== crash loop ($build)"
if python3 "$here/test/crash/crash_loop.py" --runnerd "$build/runnerd" \
    --cycles "${RUNNERD_CRASH_CYCLES:-20}" | tee "$results/crash.txt"; then
  echo ok > "$results/crash.status"
else
  echo failed > "$results/crash.status"
fi

python3 - "$results" "$build" <<'PY'
import json, os, re, sys
passed = failed = pending = 0
for name, pattern in (("libs.txt", r"(\d+) passed, (\d+) failed"),
                      ("conformance.txt", r"conformance: (\d+) passed, (\d+) failed, (\d+) pending")):
    lines = open(os.path.join(sys.argv[1], name)).read().strip().splitlines()
    m = re.fullmatch(pattern, lines[-1] if lines else "")
    if m:
        passed += int(m.group(1))
        failed += int(m.group(2))
        if m.lastindex == 3:
            pending += int(m.group(3))
    else:
        failed += 1
        print(f"{name}: no summary line")
crash = os.path.join(sys.argv[1], "crash.status")
if os.path.exists(crash):
    if open(crash).read().strip() == "ok":
        passed += 1
    else:
        failed += 1
        print("crash loop: failed (see its lines above)")
for name in ("unit", "integration"):
    path = os.path.join(sys.argv[1], name + ".json")
    if not os.path.exists(path):
        failed += 1  # the binary crashed before writing its report
        print(f"{name}: no report (the test binary crashed)")
        continue
    with open(path) as f:
        report = json.load(f)
    for suite in report.get("testsuites", []):
        for t in suite.get("testsuite", []):
            if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                continue
            if t.get("failures"):
                failed += 1
            else:
                passed += 1
print(f"tests ({sys.argv[2]}): {passed} passed, {failed} failed, {pending} pending "
      "(conformance cases waiting for a runner: test/conformance/README.md)")
if passed == 0:
    sys.exit(1)
PY
[ $? -ne 0 ] && status=1
exit $status
