# SPDX-License-Identifier: MIT
# Convenience entry points; the build itself is Meson + Ninja.
#   make demo   build bootpack and run it on the bundled samples
#   make check  build with ASan+UBSan and run every test, run the error and
#               fault tests again under valgrind, then fuzz each target
#               for 60 s (what CI runs)
#   make fuzz   only the fuzzing (FUZZ_SECONDS=N per target; scripts/fuzz)
#   make bench  compare against the kernel's make_fit.py on the real corpus
#               (bench/README.md; about 9 minutes)

BUILD ?= build
CHECK_BUILD ?= build-check

FUZZ_SECONDS ?= 60

.PHONY: all demo check fuzz bench clean

all:
	scripts/install-deps build
	[ -d $(BUILD) ] || meson setup $(BUILD)
	ninja -C $(BUILD)

demo:
	scripts/install-deps demo
	[ -d $(BUILD) ] || meson setup $(BUILD)
	ninja -C $(BUILD)
	scripts/demo $(BUILD)

check:
	scripts/install-deps test
	[ -d $(CHECK_BUILD) ] || meson setup $(CHECK_BUILD) -Dwerror=true \
		-Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all
	ninja -C $(CHECK_BUILD)
	meson test -C $(CHECK_BUILD) --print-errorlogs
	[ -d $(BUILD) ] || meson setup $(BUILD)
	ninja -C $(BUILD)
	scripts/valgrind-tests $(BUILD)
	scripts/fuzz $(FUZZ_SECONDS)

fuzz:
	scripts/install-deps fuzz
	scripts/fuzz $(FUZZ_SECONDS)

bench:
	scripts/install-deps bench
	meson setup --reconfigure $(BUILD)-release --buildtype=release 2>/dev/null || \
		meson setup $(BUILD)-release --buildtype=release
	ninja -C $(BUILD)-release
	bench/make_fit_vs_bootpack $(BUILD)-release/src/bootpack $(BUILD)-release/bench/codec_limit

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(BUILD)-release build-fuzz
