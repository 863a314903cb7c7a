#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Style checks that are tests: one clang-format style for all C, man pages lint-clean.
set -eu
status=0
files=$(git ls-files '*.c' '*.h')
if ! clang-format --dry-run --Werror $files 2>/tmp/xeno-style.$$; then
	head -40 /tmp/xeno-style.$$
	echo "check-style: run 'clang-format -i' on the files above" >&2
	status=1
fi
rm -f /tmp/xeno-style.$$
for man in $(git ls-files 'docs/man/*.[0-9]'); do
	if ! mandoc -Tlint -W warning "$man"; then
		status=1
	fi
done
[ $status = 0 ] && echo "check-style: ok"
exit $status
