#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz, clang, ASan + UBSan) in build/fuzz
# and runs each for SECONDS on a copy of its committed corpus, two at a time.
# A crash, a leak, a timeout (10 s per input) or an out-of-memory (2 GiB) is a
# finding: its input is kept under build/fuzz/findings/ and the run fails.
#   scripts/run-fuzz.sh SECONDS          (make test: 30)
#   scripts/run-fuzz.sh SECONDS --merge  (make fuzz: new inputs that add
#                                         coverage go back into the corpus)
# Ends with one line: "fuzz: N targets, N findings".
set -uo pipefail
seconds=${1:?seconds per target}
merge=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build/fuzz"
jobs=${FUZZ_JOBS:-2}

CC=clang CXX=clang++ cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRUNNERD_FUZZ=ON -DRUNNERD_SANITIZE=address,undefined >/dev/null || exit 1
cmake --build "$build" --target fuzz -j "$(nproc)" >/dev/null || {
  echo "fuzz: the fuzz targets do not build (cmake --build $build --target fuzz)"
  exit 1
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/findings"
targets=()
for t in "$build"/*_fuzz; do targets+=("$(basename "$t")"); done

run_one() {
  local name=$1 corpus_name=${1%_fuzz}
  local src="$here/test/fuzz/corpus/$corpus_name" corpus="$work/$corpus_name"
  mkdir -p "$corpus" "$build/findings/$name"
  [ -d "$src" ] && cp -r "$src/." "$corpus/"
  "$build/$name" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -artifact_prefix="$build/findings/$name/" \
    >"$work/$name.log" 2>&1
  local rc=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
  if [ $rc -ne 0 ]; then
    echo "fuzz: $name: FINDING (exit $rc) after ${execs:-?} runs; input in $build/findings/$name/"
    grep -E 'ERROR|invariant|SUMMARY' "$work/$name.log" | head -5 | sed 's/^/fuzz:   /'
    echo 1 >"$work/$name.found"
  else
    echo "fuzz: $name: ${execs:-?} runs in ${seconds}s, no finding"
  fi
  if [ "$merge" = "--merge" ] && [ -d "$src" ]; then
    "$build/$name" -merge=1 "$src" "$corpus" >/dev/null 2>&1
  fi
}

i=0
for name in "${targets[@]}"; do
  run_one "$name" &
  i=$((i + 1))
  if [ $((i % jobs)) -eq 0 ]; then wait; fi
done
wait
findings=$(cat "$work"/*.found 2>/dev/null | wc -l)
echo "fuzz: ${#targets[@]} targets, $findings findings"
[ "$findings" -eq 0 ] && [ ${#targets[@]} -gt 0 ]
