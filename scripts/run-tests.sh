#!/usr/bin/env bash
# Runs the unit and integration test binaries of one build directory and ends
# with one line "tests (BUILD): N passed, N failed".
#   RUNNERD_TEST_SUITES=binaries  only the unit and integration test binaries
#                                 (make tsan: the conformance, script library and
#                                 crash-loop suites exercise no thread of ours
#                                 that the binaries do not, at 5-15x the cost)
set -uo pipefail
build=${1:?build directory}
suites=${RUNNERD_TEST_SUITES:-all}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
here=$(cd "$(dirname "$0")/.." && pwd)
# The 1 GiB writer test takes minutes with a sanitized agent: 256 MiB there.
case "$build" in
  *asan*|*tsan*) export RUNNERD_TEST_LOG_BYTES=${RUNNERD_TEST_LOG_BYTES:-268435456} ;;
esac
# ThreadSanitizer: every process of the run (test binaries, each runnerd and
# runnerctl they start) stops at its first report and writes it under
# BUILD/tsan-reports; any report fails the run. test/tsan.supp names only
# races inside libuv, libcurl or glibc.
tsan_reports=""
case "$build" in
  *tsan*)
    tsan_reports="$(cd "$build" && pwd)/tsan-reports"
    rm -rf "$tsan_reports"
    mkdir -p "$tsan_reports"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:log_path=$tsan_reports/report:suppressions=$here/test/tsan.supp}
    ;;
esac

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0

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

if [ "$suites" = all ]; then
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
else
  echo "== $suites only: script library, conformance and crash-loop suites not run"
fi

if [ -n "$tsan_reports" ]; then
  echo "== ThreadSanitizer reports ($build)"
  reports=$(find "$tsan_reports" -type f | sort)
  if [ -n "$reports" ]; then
    for r in $reports; do
      echo "-- $r"
      head -n 60 "$r"
    done
    echo "tsan: $(echo "$reports" | wc -l) reports (in $tsan_reports)"
    echo "$(echo "$reports" | wc -l)" > "$results/tsan.count"
    status=1
  else
    echo "tsan: no report"
    echo 0 > "$results/tsan.count"
  fi
fi

python3 - "$results" "$build" "$suites" <<'PY'
import json, os, re, sys
passed = failed = pending = 0
tsan = os.path.join(sys.argv[1], "tsan.count")
if os.path.exists(tsan) and int(open(tsan).read()) > 0:
    failed += int(open(tsan).read())  # each report is a failure of its own
for name, pattern in (("libs.txt", r"(\d+) passed, (\d+) failed"),
                      ("conformance.txt", r"conformance: (\d+) passed, (\d+) failed, (\d+) pending")):
    if sys.argv[3] != "all":
        continue
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
if passed == 0 or failed > 0:  # the crash loop, say, fails here only
    sys.exit(1)
PY
[ $? -ne 0 ] && status=1
exit $status
