#!/bin/sh
# Man pages (man/): every option a program's --help prints (each --long and
# -x) is in its page; every key of slots/config.c's table is documented in
# slotd.ini(5) under its section and nothing else is; the same for
# fleet/config/config.c and slotfleet.ini(5) once slotfleet exists; every page
# renders with no groff or man warning; the example configurations
# (packaging/config/) name only real keys and load with every shown default
# uncommented.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
M=$SLOTD_SRC/man
command -v groff >/dev/null || { echo "manpages: groff missing (apt-get install groff-base)" >&2; exit 77; }

# The page as plain text, one paragraph a line as far as possible, so no
# option is broken or hyphenated across lines.
render() { groff -man -Tascii -rLL=2000n -P-c -P-b -P-u -P-o "$1" 2>/dev/null; }

# Options in a --help text: -x and --long, each starting a word.
help_options() {
	grep -oE '(^|[][ (|])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[][ (|]//' | sort -u
}

# has_option TEXTFILE OPT: OPT appears as a whole option in the text.
has_option() {
	grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" "$1"
}

documents_help() { # documents_help PROGRAM PAGE
	"$B/$1" --help > "$T/$1.help" 2>&1 || { echo "$1 --help failed"; return 1; }
	render "$2" > "$T/page.txt"
	missing=""
	count=0
	for opt in $(help_options < "$T/$1.help"); do
		count=$((count + 1))
		has_option "$T/page.txt" "$opt" || missing="$missing $opt"
	done
	[ "$count" -gt 0 ] || { echo "no option found in $1 --help"; return 1; }
	[ -z "$missing" ] || { echo "$(basename "$2") lacks:$missing"; return 1; }
}

check "slotd(8) has every option of slotd --help" documents_help slotd "$M/slotd.8"
check "slotupd(8) has every option of slotupd --help" documents_help slotupd "$M/slotupd.8"
check "slotctl(8) has every option of slotctl --help" documents_help slotctl "$M/slotctl.8"
check "slotpack(1) has every option of slotpack --help" documents_help slotpack "$M/slotpack.1"
if [ -x "$B/slotfleet" ]; then
	check "slotfleet(8) has every option of slotfleet --help" documents_help slotfleet "$M/slotfleet.8"
else
	echo "note: $B/slotfleet not built: slotfleet's options not checked" >&2
fi

# Keys: "section.key" from a KEY("s", "k", ...) / FKEY(...) table, and from a
# page's ".SS [section]" / ".TP" + "\fBkey\fR" entries.  slots/config.c's
# table has the templated [strategy.NAME] section's keys beside it, in
# slots/config_strategy.c's strategy_keys: "strategy.NAME.key".
strategy_keys() {
	grep -oE '\[KEY_[A-Z_]+\] = "[a-z_]+"' "$SLOTD_SRC/slots/config_strategy.c" |
		sed -E 's/.*"([a-z_]+)"$/strategy.NAME.\1/'
}
table_keys() {
	{ sed -nE 's/^[[:space:]]*F?KEY\("([a-z_]+)", "([a-z_]+)".*/\1.\2/p' "$1"
	  if grep -q 'config_strategy\.h' "$1"; then strategy_keys; fi; } | sort
}
page_keys() {
	awk '/^\.SS \[/ { gsub(/^\.SS \[|\].*$/, ""); section = $0; next }
	     /^\.S[HS]/ { section = "" }
	     tp && section != "" && /^\\fB[a-z_]+\\fR/ {
		key = $0; sub(/^\\fB/, "", key); sub(/\\fR.*$/, "", key); print section "." key }
	     { tp = /^\.TP/ }' "$1" | sort
}
same_keys() { # same_keys TABLE.c PAGE
	table_keys "$1" > "$T/table"
	page_keys "$2" > "$T/page"
	[ -s "$T/table" ] || { echo "no key found in $1"; return 1; }
	if ! cmp -s "$T/table" "$T/page"; then
		echo "keys in the table (<) or only in the page (>):"
		diff "$T/table" "$T/page" | grep '^[<>]'
		return 1
	fi
}
check "slotd.ini(5) documents exactly the keys of slots/config.c" \
	same_keys "$SLOTD_SRC/slots/config.c" "$M/slotd.ini.5"
if [ -f "$SLOTD_SRC/fleet/config/config.c" ]; then
	check "slotfleet.ini(5) documents exactly the keys of fleet/config/config.c" \
		same_keys "$SLOTD_SRC/fleet/config/config.c" "$M/slotfleet.ini.5"
else
	echo "note: fleet/config/config.c absent: slotfleet.ini(5) keys not checked" >&2
fi

# The reference in docs/configuration.md shows exactly the keys of
# slots/config.c: its "key = value" lines under "[section]" lines, in its
# first fenced block.
doc_keys() {
	awk '/^```/ { n++; next } n == 1' "$1" |
		awk '/^\[[a-z_]+(\.NAME)?\]/ { s = $1; gsub(/[][]/, "", s); next }
		     /^[a-z_]+ *=/ { k = $0; sub(/ *=.*/, "", k); print s "." k }' | sort
}
same_doc_keys() { # same_doc_keys TABLE.c DOC.md
	table_keys "$1" > "$T/table"
	doc_keys "$2" > "$T/doc"
	[ -s "$T/doc" ] || { echo "no key found in $2"; return 1; }
	if ! cmp -s "$T/table" "$T/doc"; then
		echo "keys in the table (<) or only in the reference (>):"
		diff "$T/table" "$T/doc" | grep '^[<>]'
		return 1
	fi
}
check "docs/configuration.md shows exactly the keys of slots/config.c" \
	same_doc_keys "$SLOTD_SRC/slots/config.c" "$SLOTD_SRC/docs/configuration.md"

# The checkers must catch what they are for: a page without -c, a page
# without one key, a page documenting a key the table lacks.
sed 's/\\-c\b/-X/g' "$M/slotd.8" > "$T/no-c.8"
check "a page missing an option is caught" eval '! documents_help slotd "$T/no-c.8" >/dev/null'
awk '/^\\fBmin_uptime\\fR/ { print "min uptime"; next } { print }' "$M/slotd.ini.5" > "$T/no-key.5"
check "a page missing a key is caught" eval '! same_keys "$SLOTD_SRC/slots/config.c" "$T/no-key.5" >/dev/null'
grep -v '"compatible"' "$SLOTD_SRC/slots/config.c" > "$T/fewer.c"
check "a page documenting a key that does not exist is caught" \
	eval '! same_keys "$T/fewer.c" "$M/slotd.ini.5" >/dev/null'
awk '/^\.SS \[strategy/ { s = 1 } s && /^\\fBread\\fR/ { print "read"; next } { print }' \
	"$M/slotd.ini.5" > "$T/no-strategy-key.5"
check "a page missing a [strategy.NAME] key is caught" \
	eval '! same_keys "$SLOTD_SRC/slots/config.c" "$T/no-strategy-key.5" >/dev/null'
grep -v '^min_uptime' "$SLOTD_SRC/docs/configuration.md" > "$T/no-key.md"
check "a reference missing a key is caught" \
	eval '! same_doc_keys "$SLOTD_SRC/slots/config.c" "$T/no-key.md" >/dev/null'

no_warnings() { # no_warnings PAGE: groff -ww and man -l say nothing
	out=$(groff -man -Tutf8 -ww -z "$1" 2>&1)
	if command -v man >/dev/null; then
		out="$out$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null)"
	fi
	[ -z "$out" ] || { echo "$1: $out"; return 1; }
}
for page in "$M"/*.[158]; do
	check "$(basename "$page") renders without warnings" no_warnings "$page"
done

# Example configurations: keys shown (commented or not) exist; with every
# shown default uncommented, the file still loads.
example_keys() {
	awk '/^\[/ { gsub(/[][]/, ""); section = $0; next }
	     /^;?[a-z_]+ *=/ { key = $0; sub(/^;/, "", key); sub(/ *=.*/, "", key); print section "." key }' "$1" | sort -u
}
known_keys() { # known_keys EXAMPLE TABLE.c
	table_keys "$2" > "$T/known"
	unknown=$(example_keys "$1" | comm -23 - "$T/known")
	[ -z "$unknown" ] || { echo "$1: unknown keys: $unknown"; return 1; }
}
check "packaging/config/slotd.ini names only real keys" \
	known_keys "$SLOTD_SRC/packaging/config/slotd.ini" "$SLOTD_SRC/slots/config.c"
if [ -f "$SLOTD_SRC/fleet/config/config.c" ]; then
	check "packaging/config/slotfleet.ini names only real keys" \
		known_keys "$SLOTD_SRC/packaging/config/slotfleet.ini" "$SLOTD_SRC/fleet/config/config.c"
fi
sed -E "s/^;([a-z_]+ *=)/\1/; s|^root = .*|root = $T/root|" \
	"$SLOTD_SRC/packaging/config/slotd.ini" > "$T/all.ini"
mkdir -p "$T/root"
loads() { # the config loads: slotctl history gets past it (exit 2 is a config error)
	"$B/slotctl" -c "$T/all.ini" history > "$T/all.out" 2>&1
	rc=$?
	[ $rc -ne 2 ] || { cat "$T/all.out"; return 1; }
}
check "the slotd.ini example loads with every default uncommented" loads
finish
