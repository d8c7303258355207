# confide — the two commands a person needs are `make run` and `make test`.
# Everything installs what is missing first (tools/setup.sh, Debian packages only).

BUILD       ?= build
ASAN_BUILD  ?= build-asan
JOBS        ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZERS     := sgxs_fuzz sigstruct_fuzz machine_fuzz

.PHONY: all setup build build-asan run test test-release test-asan fuzz fuzz-smoke bench reproduce format clean

all: build

setup:
	@tools/setup.sh

$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The sanitizer build uses clang so the same build also carries the libFuzzer targets.
$(ASAN_BUILD)/build.ninja: | setup
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCONFIDE_SANITIZE=ON -DCONFIDE_FUZZ=ON -DCONFIDE_BENCH=OFF

build-asan: setup $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	./$(BUILD)/confide demo

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

fuzz-smoke: build-asan
	@tools/fuzz.sh $(ASAN_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZERS)

test: test-release test-asan fuzz-smoke
	@echo "make test: release tests, sanitizer tests and fuzz smoke runs all passed"

fuzz: build-asan
	@tools/fuzz.sh $(ASAN_BUILD) $(FUZZ_SECONDS) $(FUZZERS)

bench: build
	./$(BUILD)/bench/bench_machine
	./$(BUILD)/bench/bench_monitor

# Reproduces the PIE and EnTurbo papers' figures on the machine model: CSVs,
# PNG plots (gnuplot) and results/REPORT.md with ours beside the papers'.
reproduce: build
	./$(BUILD)/confide bench reproduce --out results

format:
	find src tests bench fuzz -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
