#!/usr/bin/env bash
# `make test`: every suite in every build, fitted into two cores.
#
#   1. the release build, in the foreground (all cores);
#   2. meanwhile, at the lowest CPU priority (nice 19), the ASan + UBSan
#      build, the TSan build, the fuzz targets' build (clang) and then every
#      fuzz target for FUZZ_SECONDS, one after another: they take the CPU the
#      tests leave idle (the tests mostly wait for processes, containers and
#      sockets) and yield it whenever a test wants it;
#   3. the release suites, then the packages of the release build (built,
#      checked with lintian, installed, run and purged: test/package/), then
#      the ASan + UBSan suites and the test binaries under TSan, each once
#      its build is done; last, the fuzz stage's outcome.
#
# `make test` is bound by CPU (two cores busy for most of its run), so every
# tree is a unity build (CMAKE_UNITY_BUILD: 24 sources compiled as one) with
# line tables only for debug information (RUNNERD_LINE_TABLES, -g1): the
# release tree takes 202 s of CPU instead of 500. `make build` keeps building
# file by file unless its tree was configured otherwise.
#
# Each stage's log is in build/logs/; a failed build prints its tail. Ends with
# one line per stage and exits non-zero if any failed.
#
# Environment (set by the Makefile): BUILD, ASAN_BUILD, TSAN_BUILD,
# CMAKE_FLAGS, ASAN_FLAGS, TSAN_FLAGS, FUZZ_SECONDS, JOBS.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
: "${BUILD:=build/release}" "${ASAN_BUILD:=build/asan}" "${TSAN_BUILD:=build/tsan}"
: "${CMAKE_FLAGS:=-DCMAKE_BUILD_TYPE=RelWithDebInfo}"
: "${ASAN_FLAGS:=-DCMAKE_BUILD_TYPE=Debug -DRUNNERD_SANITIZE=address,undefined}"
: "${TSAN_FLAGS:=-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 -DRUNNERD_SANITIZE=thread}"
: "${FUZZ_SECONDS:=30}" "${JOBS:=$(nproc)}"
logs="$here/build/logs"
mkdir -p "$logs"
rm -f "$logs"/*.rc
started=$(date +%s)
declare -A result

elapsed() { echo "$(( $(date +%s) - started ))s"; }

build_tree() {  # DIR FLAGS [TARGET...]: configure and build one tree (FLAGS split on spaces)
  local dir=$1 flags=$2
  shift 2
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  # shellcheck disable=SC2086
  cmake -S . -B "$dir" -G Ninja $flags $fast_build >/dev/null &&
    cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}
fast_build="-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=24 -DRUNNERD_LINE_TABLES=ON"
export FUZZ_CMAKE_FLAGS=$fast_build
# What the sanitizer suites run: the agent, its client and the test binaries.
suite_targets=(runnerd runnerctl runnerd_unit_tests runnerd_integration_tests)

# The release build first, with every core: its suites start as soon as it is done.
echo "== build $BUILD ($(elapsed))"
if ! build_tree "$BUILD" "$CMAKE_FLAGS"; then
  echo "test: the release build failed"
  exit 1
fi

# The other builds in the background, one after another, each leaving
# build/logs/<name>.rc when done.
(
  renice -n 19 -p "$BASHPID" >/dev/null  # inherited by every build below
  background() {  # NAME COMMAND...
    local name=$1
    shift
    "$@" >"$logs/$name.log" 2>&1
    echo $? >"$logs/$name.rc"
  }
  background asan-build build_tree "$ASAN_BUILD" "$ASAN_FLAGS" "${suite_targets[@]}"
  background tsan-build build_tree "$TSAN_BUILD" "$TSAN_FLAGS" "${suite_targets[@]}"
  background fuzz-build env FUZZ_JOBS="$JOBS" scripts/run-fuzz.sh --build-only
  if [ "$(cat "$logs/fuzz-build.rc")" = 0 ]; then
    background fuzz scripts/run-fuzz.sh "$FUZZ_SECONDS"
  fi
) &
builder=$!
trap 'kill -- -$builder 2>/dev/null; kill $builder 2>/dev/null' INT TERM

wait_build() {  # NAME: true once its build succeeded
  local name=$1
  while [ ! -f "$logs/$name.rc" ]; do
    if ! kill -0 "$builder" 2>/dev/null && [ ! -f "$logs/$name.rc" ]; then
      echo "test: the $name stage never ran"
      return 1
    fi
    sleep 2
  done
  if [ "$(cat "$logs/$name.rc")" != 0 ]; then
    tail -n 40 "$logs/$name.log"
    echo "test: $name failed (log: $logs/$name.log)"
    return 1
  fi
}

stage() {  # NAME COMMAND...: runs a suite, records its outcome
  local name=$1
  shift
  echo "== $name ($(elapsed))"
  if "$@"; then result[$name]=passed; else result[$name]=FAILED; fi
}

stage "release" scripts/run-tests.sh "$BUILD"
stage "package" bash test/package/test_package.sh "$BUILD"
if wait_build asan-build; then
  stage "asan+ubsan" scripts/run-tests.sh "$ASAN_BUILD"
else
  result[asan+ubsan]="FAILED (build)"
fi
if wait_build tsan-build; then
  stage "tsan" env RUNNERD_TEST_SUITES=binaries scripts/run-tests.sh "$TSAN_BUILD"
else
  result[tsan]="FAILED (build)"
fi
# The fuzz targets ran in the background, beside the suites above.
if wait_build fuzz-build; then
  wait_build fuzz >/dev/null
  echo "== fuzz (beside the suites, at nice 19; done at $(elapsed))"
  cat "$logs/fuzz.log"
  if [ "$(cat "$logs/fuzz.rc" 2>/dev/null)" = 0 ]; then result[fuzz]=passed; else result[fuzz]=FAILED; fi
else
  result[fuzz]="FAILED (build)"
fi
wait "$builder" 2>/dev/null

status=0
echo "== make test: $(elapsed) in all"
for name in release package asan+ubsan tsan fuzz; do
  echo "test: $name: ${result[$name]:-not run}"
  [ "${result[$name]:-}" = passed ] || status=1
done
exit $status
