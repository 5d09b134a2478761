# The one entry point. `make test` and `make demo` install what is missing first.
BUILD       ?= build/release
ASAN_BUILD  ?= build/asan
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS        ?= $(shell nproc)

.PHONY: all deps build test unit integration asan demo bench soak clean format

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test, in a release build and again under ASan + UBSan.
test: deps
	@$(MAKE) --no-print-directory build
	@scripts/run-tests.sh $(BUILD)
	@$(MAKE) --no-print-directory asan

unit: build
	$(BUILD)/runnerd_unit_tests --gtest_filter=$(or $(GTEST_FILTER),*)

integration: build
	$(BUILD)/runnerd_integration_tests --gtest_filter=$(or $(GTEST_FILTER),*)

asan:
	@$(MAKE) --no-print-directory build BUILD=$(ASAN_BUILD) \
	  CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug -DRUNNERD_SANITIZE=address,undefined"
	@scripts/run-tests.sh $(ASAN_BUILD)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory build
	@bench/run.sh $(BUILD)

soak: bench

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h' '*.c')

clean:
	rm -rf build
