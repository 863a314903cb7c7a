# SPDX-License-Identifier: GPL-2.0-only
# Thin wrapper over meson: the two commands the README opens with (make demo, make check),
# plus build, install and fuzz.  Every target first installs what it needs from Debian.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
GUEST_DIR  ?= $(or $(XENO_CACHE),/var/cache/xeno)/guest
FUZZ_SECONDS ?= 30
TESTHOST   := tests/host/run
PYTEST     := /usr/bin/python3 -m pytest

.PHONY: all setup build guest demo check check-style check-unit check-asan check-fuzz \
	check-integration fuzz install clean

all: build

setup:
	@scripts/setup-debian.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

guest: setup
	guest/build.sh --out $(GUEST_DIR)

# Boots the default guest with its serial console on this terminal; Ctrl-] ends it.
demo: build guest
	@echo "xeno demo: booting a domain (2 vCPUs, 256 MiB); Ctrl-] leaves"
	@# Leaving with Ctrl-] (status 4) or poweroff (0) is how a demo ends, not an error.
	$(TESTHOST) --interactive -- $(BUILD)/xeno-vmm --name demo --vcpus 2 --memory 256 \
		--kernel $(GUEST_DIR)/vmlinuz --initrd $(GUEST_DIR)/initrd.img \
		--cmdline "console=ttyS0 quiet hostname=demo"; \
	status=$$?; [ $$status = 0 ] || [ $$status = 4 ]

check-style: setup
	scripts/check-style.sh

check-unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false

check-asan: setup $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(BUILD_ASAN) --suite unit --print-errorlogs

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false

fuzz: setup $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)

# Each target runs FUZZ_SECONDS from its seed corpus; new inputs go to a scratch directory.
check-fuzz: fuzz
	scripts/run-fuzzers.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# One test-host boot for the whole suite; pytest's summary is the last line of make check.
check-integration: build guest
	@# A hung test host fails the run loudly well inside CI's 90 minutes, never hangs it.
	@# One whose own kernel faults (nested SVM emulation, docs/DESIGN.md, "Test host") is
	@# replaced, up to six times, and the new one goes on from the test that was running:
	@# the tests that passed are listed in $(BUILD)/integration-passed (see
	@# tests/integration/conftest.py) and show as "deselected" in pytest's summary.
	@# A failed test is run once more: the emulated test host loses a guest interrupt now
	@# and then, under QEMU's guests as under ours; the summary counts the reruns, and a
	@# test that fails twice fails the run.
	rm -f $(BUILD)/integration-passed
	$(TESTHOST) --timeout 2700 --retries 6 -- /usr/bin/env \
		XENO_RESUME_FILE=$(abspath $(BUILD))/integration-passed $(PYTEST) -v \
		-p no:cacheprovider --reruns 1 tests/integration

check: check-style check-unit check-asan check-fuzz check-integration

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
