#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# libxeno's ABI check: the library exports exactly the functions listed in
# lib/libxeno/libxeno.symbols.  A listed symbol gone breaks programs built against an
# earlier libxeno (bump the SONAME instead); a new one must be added to the list, so that
# every change of the interface shows in review.
#   scripts/check-abi.sh LIBXENO.so SYMBOLS-FILE
set -eu
lib=$1 list=$2
got=$(mktemp)
trap 'rm -f "$got"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' |
	sed 's/@.*//' | LC_ALL=C sort -u > "$got"
status=0
removed=$(LC_ALL=C comm -23 "$list" "$got")
added=$(LC_ALL=C comm -13 "$list" "$got")
if [ -n "$removed" ]; then
	echo "check-abi: $lib no longer exports (an ABI break):" $removed >&2
	status=1
fi
if [ -n "$added" ]; then
	echo "check-abi: $lib exports symbols not in $list (add them there):" $added >&2
	status=1
fi
[ $status = 0 ] && echo "check-abi: $(wc -l < "$list") symbols, as listed"
exit $status
