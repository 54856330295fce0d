#!/bin/sh
# bash completion (packaging/completion/slotd): sourced in bash, with and
# without bash-completion's helpers loaded, COMPREPLY holds the expected
# subcommands, options and values for a few command lines.
. "$SLOTD_SRC/tests/support/lib.sh"
command -v bash >/dev/null || { echo "completion: bash missing" >&2; exit 77; }
C=$SLOTD_SRC/packaging/completion/slotd

# complete_line HELPERS LINE...: prints COMPREPLY, sorted, one a line, for
# the completion of the last word of LINE ("" completes a new word).
complete_line() {
	helpers=$1; shift
	bash --norc --noprofile -c '
		helpers=$1 C=$2; shift 2
		if [ "$helpers" = with ]; then
			. /usr/share/bash-completion/bash_completion || exit 3
		fi
		. "$C" || exit 3
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		spec=$(complete -p "$1") || exit 4
		fn=${spec#complete -F }
		"${fn%% *}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$helpers" "$C" "$@"
}

# expect HELPERS "WANTED WORDS" LINE...: COMPREPLY is exactly WANTED.
expect() {
	helpers=$1 want=$(printf '%s\n' $2 | sort); shift 2
	got=$(cd "$T/files" && complete_line "$helpers" "$@")
	[ "$got" = "$want" ] || { echo "'$*': got [$(echo $got)] wanted [$(echo $want)]"; return 1; }
}

mkdir -p "$T/files/tree"
touch "$T/files/agent.bundle" "$T/files/slotd.ini"

modes=without
[ -r /usr/share/bash-completion/bash_completion ] && modes="without with" ||
	echo "note: bash-completion not installed: checked with plain compgen only" >&2
for h in $modes; do
	check "$h helpers: slotctl commands" expect $h \
		"status rollback mark-good mark-bad restart history notify upgrade upgrades instance" slotctl ""
	check "$h helpers: slotctl m" expect $h "mark-good mark-bad" slotctl m
	check "$h helpers: slotctl -c FILE history --" expect $h "--state --instance --json" \
		slotctl -c slotd.ini history --
	check "$h helpers: slotctl history --state F" expect $h "FAILED" slotctl history --state F
	check "$h helpers: slotctl notify --s" expect $h "--strategy --sha256" slotctl notify --s
	check "$h helpers: slotctl --api URL with a port, then a command" expect $h "upgrade upgrades" \
		slotctl --api http://127.0.0.1:8779 --tenant acme upgr
	check "$h helpers: slotupd commands" expect $h "install serve" slotupd ""
	check "$h helpers: slotupd install --" expect $h \
		"--config --strategy --version --id --sha256 --metadata --allow-downgrade" slotupd install --
	check "$h helpers: slotupd install --strategy" expect $h "http swift file" slotupd install x --strategy ""
	check "$h helpers: slotupd install a file" expect $h "agent.bundle" slotupd install agent.b
	check "$h helpers: slotpack commands" expect $h "create verify inspect extract diff" slotpack ""
	check "$h helpers: slotpack create -z" expect $h "gzip xz zstd" slotpack create -z ""
	check "$h helpers: slotpack create -d: directories" expect $h "tree" slotpack create -d t
	check "$h helpers: slotpack verify --" expect $h "--crl --allowed-signer --max-age" \
		slotpack verify -K k.pem --
	check "$h helpers: slotd -" expect $h "-c --help --version" slotd -
	check "$h helpers: slotd -c FILE" expect $h "slotd.ini" slotd -c slotd.
	check "$h helpers: slotfleet --c" expect $h "--config" slotfleet --c
done
finish
