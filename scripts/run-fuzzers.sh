#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs every libFuzzer target of a fuzz build for a bounded time from its seed corpus.
# New inputs go to a scratch directory, so the checked-in corpus only changes by hand.
set -eu
build=$1
seconds=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
# Undefined behaviour fails a target as a crash does, not just a line in its log.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
for target in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$target" ] && [ -x "$target" ] || continue
	name=${target##*/fuzz_}
	mkdir -p "$scratch/$name"
	printf 'fuzz %s: %ss ... ' "$name" "$seconds"
	if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$scratch/" "$scratch/$name" "tests/fuzz/corpus/$name" \
		>"$scratch/$name.log" 2>&1; then
		grep -E '^Done [0-9]+ runs' "$scratch/$name.log" || echo ok
	else
		echo FAILED
		tail -40 "$scratch/$name.log"
		mkdir -p fuzz-artifacts
		cp "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* fuzz-artifacts/ 2>/dev/null || true
		status=1
	fi
done
exit $status
