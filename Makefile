# The one entry point. `make test` and `make demo` install what is missing first.
BUILD       ?= build/release
ASAN_BUILD  ?= build/asan
TSAN_BUILD  ?= build/tsan
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS        ?= $(shell nproc)
FUZZ_SECONDS      ?= 30
FUZZ_LONG_SECONDS ?= 300

.PHONY: all deps build test unit integration asan tsan fuzz demo bench soak deb rpm clean format

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

ASAN_FLAGS  ?= -DCMAKE_BUILD_TYPE=Debug -DRUNNERD_SANITIZE=address,undefined
TSAN_FLAGS  ?= -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 -DRUNNERD_SANITIZE=thread
export BUILD ASAN_BUILD TSAN_BUILD CMAKE_FLAGS ASAN_FLAGS TSAN_FLAGS FUZZ_SECONDS JOBS

# Every test, in a release build and again under ASan + UBSan; every fuzz
# target for FUZZ_SECONDS (ASan + UBSan, clang); the test binaries under TSan.
# The sanitizer builds run at the lowest priority while the release suites
# run (scripts/test-all.sh).
test: deps
	@scripts/install-deps.sh package
	@scripts/test-all.sh

unit: build
	$(BUILD)/runnerd_unit_tests --gtest_filter=$(or $(GTEST_FILTER),*)

integration: build
	$(BUILD)/runnerd_integration_tests --gtest_filter=$(or $(GTEST_FILTER),*)

asan:
	@$(MAKE) --no-print-directory build BUILD=$(ASAN_BUILD) CMAKE_FLAGS="$(ASAN_FLAGS)"
	@scripts/run-tests.sh $(ASAN_BUILD)

# The unit and integration test binaries (and every runnerd and runnerctl they
# start) under ThreadSanitizer: the agent has a log writer thread, a state
# writer thread and libuv's thread pool. Conformance, script-library and
# crash-loop suites run in the other builds (scripts/run-tests.sh).
tsan:
	@$(MAKE) --no-print-directory build BUILD=$(TSAN_BUILD) CMAKE_FLAGS="$(TSAN_FLAGS)"
	@RUNNERD_TEST_SUITES=binaries scripts/run-tests.sh $(TSAN_BUILD)

# Every fuzz target for FUZZ_LONG_SECONDS; inputs that reach new coverage are
# merged back into test/fuzz/corpus (commit them).
fuzz:
	@scripts/run-fuzz.sh $(FUZZ_LONG_SECONDS) --merge

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

bench: deps
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	@bench/run.sh $(BUILD)

# The long runs: the kill -9 loop for SOAK_CYCLES cycles (prints
# `bench: crash_cycles_clean N cycles`; containers on podman among the
# tasks), then the 60 s log flood and 10,000 sleeping tasks (test/soak/run.sh).
SOAK_CYCLES ?= 1000
soak: deps
	@$(MAKE) --no-print-directory build
	@sock=$$(bash scripts/setup-podman.sh | tail -n 1) && \
	  python3 test/crash/crash_loop.py --runnerd $(BUILD)/runnerd --cycles $(SOAK_CYCLES) \
	    --docker-host unix://$$sock --bench-line
	@test/soak/run.sh $(BUILD)

# Installable packages of the release build, in $(BUILD)/packages: the build is
# configured for /usr and staged with cmake --install (scripts/package.sh).
deb: deps
	@scripts/install-deps.sh package
	@scripts/package.sh $(BUILD) deb

rpm: deps
	@scripts/install-deps.sh package
	@scripts/package.sh $(BUILD) rpm

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h' '*.c')

clean:
	rm -rf build
