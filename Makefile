# The two commands of the README:
#   make run    install what is missing, build, run the main job
#   make test   install what is missing, build, run the whole suite
#               (Release, then ThreadSanitizer, then AddressSanitizer+UBSan)
# Other targets: build, tsan, asan, debug, bench, peers, clean.

JOBS   ?= $(shell nproc)
CMAKE  ?= cmake
CTEST  ?= ctest
CI_FLAGS := -DWEFT_WERROR=ON

.PHONY: run test deps peers build debug tsan asan test-release test-tsan test-asan bench clean

run: deps build
	./build/release/weft compare

test: deps
	@$(MAKE) --no-print-directory test-release test-tsan test-asan
	@echo "make test: Release, TSan and ASan+UBSan suites passed"

deps:
	@scripts/install-deps.sh

peers:
	@scripts/install-deps.sh --peers

define configure
	@$(CMAKE) -S . -B build/$(1) -DCMAKE_BUILD_TYPE=$(2) $(CI_FLAGS) $(3) >/dev/null
	@$(CMAKE) --build build/$(1) -j $(JOBS) -- --no-print-directory -s
endef

build:
	$(call configure,release,Release,)

debug:
	$(call configure,debug,Debug,)

tsan:
	$(call configure,tsan,TSan,-DWEFT_BUILD_BENCH=OFF)

asan:
	$(call configure,asan,ASan,-DWEFT_BUILD_BENCH=OFF)

test-release: build
	@echo "== Release suite"
	@cd build/release && $(CTEST) --output-on-failure -j $(JOBS)

# Under TSan: every test that runs threads; the few labelled no-tsan say why.
test-tsan: tsan
	@echo "== ThreadSanitizer suite"
	@cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" $(CTEST) --output-on-failure -j $(JOBS) -LE no-tsan

test-asan: asan
	@echo "== AddressSanitizer+UBSan suite"
	@cd build/asan && ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" $(CTEST) --output-on-failure -j $(JOBS)

bench: peers build
	./build/release/weft bench

clean:
	rm -rf build
