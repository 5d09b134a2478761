#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz, clang, ASan + UBSan) in build/fuzz
# and runs each for SECONDS on a copy of its committed corpus, two at a time,
# with its dictionary (test/fuzz/<target>.dict) when there is one.
# A crash, a broken invariant, a leak, a timeout (10 s for one input) or an
# out-of-memory (2 GiB) is a finding: its input is kept under
# build/fuzz/findings/<target>/ and the run fails. A finding is fixed in the
# parser and its input added to test/fuzz/corpus/<target>/ as regress-<what>.
#   scripts/run-fuzz.sh SECONDS          (make test: 30) the repo is not touched
#   scripts/run-fuzz.sh SECONDS --merge  (make fuzz) inputs that add coverage
#                                        go back into test/fuzz/corpus
#   scripts/run-fuzz.sh --build-only     builds the targets, runs nothing
# Ends with one line: "fuzz: N targets, N findings".
set -uo pipefail
seconds=${1:?seconds per target}
merge=${2:-}
build_only=0
[ "$seconds" = --build-only ] && build_only=1
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build/fuzz"
jobs=${FUZZ_JOBS:-2}

# Debian's clang; the rest of the project builds with gcc.
# FUZZ_CMAKE_FLAGS: more cmake options (make test: a unity build, -g1).
# shellcheck disable=SC2086
CC=clang CXX=clang++ cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
  -DRUNNERD_FUZZ=ON -DRUNNERD_SANITIZE=address,undefined ${FUZZ_CMAKE_FLAGS:-} >/dev/null || exit 1
if ! cmake --build "$build" --target fuzz -j "$jobs" >"$build/fuzz-build.log" 2>&1; then
  tail -n 30 "$build/fuzz-build.log"
  echo "fuzz: the fuzz targets do not build (cmake --build $build --target fuzz)"
  exit 1
fi
[ "$build_only" = 1 ] && exit 0

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
targets=()
for src in "$here"/test/fuzz/*_fuzz.cc; do
  name=$(basename "$src" .cc)
  targets+=("$name")
done

run_one() {
  local name=$1 corpus_name=${1%_fuzz}
  local src="$here/test/fuzz/corpus/$corpus_name" corpus="$work/$corpus_name"
  local findings="$build/findings/$name" dict="$here/test/fuzz/$corpus_name.dict"
  mkdir -p "$corpus" "$findings"
  [ -d "$src" ] && cp -r "$src/." "$corpus/"
  local extra=()
  [ -f "$dict" ] && extra+=("-dict=$dict")
  if [ ! -x "$build/$name" ]; then
    echo "fuzz: $name: FINDING (not built)"
    echo 1 >"$work/$name.found"
    return
  fi
  "$build/$name" "$corpus" "${extra[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 -artifact_prefix="$findings/" \
    >"$work/$name.log" 2>&1
  local rc=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
  if [ $rc -ne 0 ]; then
    echo "fuzz: $name: FINDING (exit $rc) after ${execs:-?} runs; input in $findings/"
    grep -E 'invariant broken|ERROR:|SUMMARY|runtime error' "$work/$name.log" | head -5 | sed 's/^/fuzz:   /'
    cp "$work/$name.log" "$findings/last.log"
    echo 1 >"$work/$name.found"
    return
  fi
  echo "fuzz: $name: ${execs:-?} runs in ${seconds}s, no finding"
  if [ "$merge" = "--merge" ]; then
    mkdir -p "$src"
    # Adds to the committed corpus only inputs that reach new coverage.
    "$build/$name" -merge=1 -max_len=4096 "$src" "$corpus" >"$work/$name.merge.log" 2>&1 ||
      echo "fuzz: $name: merging the corpus failed (see $work/$name.merge.log)"
  fi
}

# Two at a time: a new target starts as soon as one finishes.
running=0
for name in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$name" &
  running=$((running + 1))
done
wait
findings=$(cat "$work"/*.found 2>/dev/null | wc -l)
echo "fuzz: ${#targets[@]} targets, $findings findings"
[ "$findings" -eq 0 ] && [ ${#targets[@]} -gt 0 ]
