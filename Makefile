# SPDX-License-Identifier: MIT
# Convenience entry points; the build itself is Meson + Ninja.
#   make demo    build bootpack (build/src/bootpack) and run it on the bundled
#                samples: FIT build/list/verify/extract, PE/zboot info/edit
#   make install build and install (meson install -C build; PREFIX via
#                `meson configure build --prefix=...`, DESTDIR honoured)
#   make check   what CI runs (scripts/check): build with ASan+UBSan and run
#                every test, the error and fault tests again under valgrind,
#                fuzz each target for 30 s (CHECK_FUZZ_SECONDS); the cached
#                kernels build in the background meanwhile. Ends with a per-stage timing table
#                and one verdict line.
#   make fuzz    only the fuzzing (FUZZ_SECONDS=N per target; scripts/fuzz)
#   make bench   compare against the kernel's make_fit.py on the real corpus,
#                then FIT signing against mkimage, then PE signing against
#                sbsign/sbverify (bench/README.md; about 9 + 2 + 1.5 minutes)

BUILD ?= build
CHECK_BUILD ?= build-check

FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 30

.PHONY: all demo install check fuzz bench clean

all:
	scripts/install-deps build
	[ -d $(BUILD) ] || meson setup $(BUILD)
	ninja -C $(BUILD)

demo:
	scripts/install-deps demo
	[ -d $(BUILD) ] || meson setup $(BUILD)
	ninja -C $(BUILD)
	scripts/demo $(BUILD)

install: all
	meson install -C $(BUILD)

check:
	BUILD=$(BUILD) CHECK_BUILD=$(CHECK_BUILD) FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) scripts/check

fuzz:
	scripts/install-deps fuzz
	scripts/fuzz $(FUZZ_SECONDS)

bench:
	scripts/install-deps bench
	meson setup --reconfigure $(BUILD)-release --buildtype=release 2>/dev/null || \
		meson setup $(BUILD)-release --buildtype=release
	ninja -C $(BUILD)-release
	bench/make_fit_vs_bootpack $(BUILD)-release/src/bootpack $(BUILD)-release/bench/codec_limit
	bench/fit_sign_vs_mkimage $(BUILD)-release/src/bootpack
	bench/its_vs_mkimage $(BUILD)-release/src/bootpack
	bench/pe_sign_vs_sbsign $(BUILD)-release/src/bootpack $(BUILD)-release/tests/pe-gen
	bench/uki_vs_cat $(BUILD)-release/src/bootpack
	bench/kexec_vs_cat $(BUILD)-release/src/bootpack

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(BUILD)-release build-fuzz
