# Thin wrapper around CMake presets for people who type `make`.
#   make            release build (build/release/assay)
#   make demo       setup + fit the bundled example (the README's first command)
#   make check      setup + the whole suite: ASan/UBSan build and release build (the second)
#   make fuzz       build the libFuzzer targets and run each briefly
.PHONY: all setup release dev asan demo check test-release test-asan fuzz clean

JOBS ?= $(shell nproc)

all: release

setup:
	@if [ "$$(id -u)" -eq 0 ] || command -v sudo >/dev/null; then bash scripts/setup.sh; fi

release:
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

dev:
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

asan:
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

demo: setup release
	./build/release/assay fit examples/credit_data.csv --target Status --positive bad --model logreg

test-release: release
	ctest --preset release -j $(JOBS)

test-asan: asan
	ctest --preset asan -j $(JOBS)

fuzz:
	bash tests/fuzz/run.sh 20

check: setup test-asan test-release fuzz

clean:
	rm -rf build
