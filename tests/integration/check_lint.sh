#!/bin/sh
# The shell tests themselves: no `check DESC CMD && MORE`, whose MORE is
# never counted (tests/support/check_lint.py).  The lint is shown to catch
# one on a sample before it is run on the tree.
. "$SLOTD_SRC/tests/support/lib.sh"
mkdir -p "$T/sample/tests/integration"
printf 'check "x" [ 1 = 1 ] && [ 1 = 2 ]\n' > "$T/sample/tests/integration/bad.sh"
check "the lint finds a check with an uncounted part" sh -c '! /usr/bin/python3 "$0" "$1" > /dev/null' \
	"$SLOTD_SRC/tests/support/check_lint.py" "$T/sample"
check "no test has one" /usr/bin/python3 "$SLOTD_SRC/tests/support/check_lint.py" "$SLOTD_SRC"
finish
