#!/usr/bin/env bash
# Runs the unit and integration test binaries of one build directory.
set -euo pipefail
build=${1:?build directory}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The 1 GiB writer test takes minutes with a sanitized agent: 256 MiB there.
case "$build" in
  *asan*) export RUNNERD_TEST_LOG_BYTES=${RUNNERD_TEST_LOG_BYTES:-268435456} ;;
esac
echo "== unit tests ($build)"
"$build/runnerd_unit_tests" --gtest_brief=1
echo "== integration tests ($build)"
"$build/runnerd_integration_tests" --gtest_brief=1
