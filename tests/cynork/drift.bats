#!/usr/bin/env bats
#
# drift.bats: the generated documentation follows the command table.  Fails
# when a table command has no man page section or completion entry, when
# --help and the man page disagree on a command's options, or when the
# committed man pages and completion scripts differ from what the binary
# generates (`make man completions` regenerates them).  Offline.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
}

# The visible commands (with a handler) of the table, one path a line.
commands()
{
	"$CY_BUILD/cynork" __spec | jq -r '.commands[] | select(.group | not) | .path'
}

# The man page that documents PATH.
page_of()
{
	case $1 in
	*" "*) echo "$CY_ROOT/man/cynork-${1%% *}.1" ;;
	*) echo "$CY_ROOT/man/cynork.1" ;;
	esac
}

# Long flags of PATH's section in its man page, sorted.
man_flags()
{
	awk -v want="$1" '
		/^\.SS / { s = $0; sub(/^\.SS "/, "", s); sub(/"$/, "", s); gsub(/\\-/, "-", s); insec = (s == want); next }
		/^\.S[HS] / { insec = 0 }
		insec && prev == ".TP" { line = $0; gsub(/\\-/, "-", line); while (match(line, /--[a-z0-9-]+/)) { print substr(line, RSTART + 2, RLENGTH - 2); line = substr(line, RSTART + RLENGTH) } }
		{ prev = $0 }' "$(page_of "$1")" | sort -u
}

# Long flags in the "flags:" part of `cynork PATH --help`, sorted.
help_flags()
{
	# shellcheck disable=SC2086
	"$CY_BUILD/cynork" $1 --help | awk '/^flags:/ { f = 1; next } /^[a-z ]*flags:/ || /^$/ { f = 0 } f' |
		grep -o -- '--[a-z0-9-]*' | sed 's/^--//' | sort -u
}

@test "every table command has a section in its man page" {
	local path missing=""

	while read -r path; do
		grep -q "^\\.SS \"$(sed 's/-/\\\\-/g' <<<"$path")\"" "$(page_of "$path")" 2>/dev/null ||
			missing="$missing [$path]"
	done < <(commands)
	[ -z "$missing" ] || { echo "no man section for:$missing" >&2; false; }
}

@test "--help and the man page list the same options for every command" {
	local path bad=""

	while read -r path; do
		if [ "$(man_flags "$path")" != "$(help_flags "$path")" ]; then
			bad="$bad [$path: man=$(man_flags "$path" | tr '\n' ' ') help=$(help_flags "$path" | tr '\n' ' ')]"
		fi
	done < <(commands)
	[ -z "$bad" ] || { echo "disagree:$bad" >&2; false; }
}

@test "every table command is offered by completion at its parent" {
	local path parent word missing=""

	while read -r path; do
		word=${path##* }
		parent=
		[ "$word" = "$path" ] || parent=${path% *}
		# shellcheck disable=SC2086
		"$CY_BUILD/cynork" __complete $parent "$word" | cut -f1 | grep -qx -- "$word" ||
			missing="$missing [$path]"
	done < <(commands)
	[ -z "$missing" ] || { echo "not completed:$missing" >&2; false; }
}

@test "every option of every command is offered by completion" {
	local path flag missing=""

	while read -r path; do
		for flag in $(help_flags "$path"); do
			# shellcheck disable=SC2086
			"$CY_BUILD/cynork" __complete $path "--$flag" | cut -f1 | grep -qx -- "--$flag" ||
				missing="$missing [$path --$flag]"
		done
	done < <(commands)
	[ -z "$missing" ] || { echo "not completed:$missing" >&2; false; }
}

@test "committed man pages are what the table generates" {
	local p

	for p in $("$CY_BUILD/cynork" __man --list); do
		diff -u "$CY_ROOT/man/$p" <("$CY_BUILD/cynork" __man "$p") ||
			{ echo "man/$p is stale: run make man" >&2; false; }
	done
	# and no stale group page is left behind
	for p in "$CY_ROOT"/man/cynork*.1; do
		"$CY_BUILD/cynork" __man --list | grep -qx "${p##*/}"
	done
}

@test "committed completion scripts are what cynork completion prints" {
	diff -u "$CY_ROOT/completions/cynork.bash" <("$CY_BUILD/cynork" completion bash)
	diff -u "$CY_ROOT/completions/_cynork" <("$CY_BUILD/cynork" completion zsh)
	diff -u "$CY_ROOT/completions/cynork.fish" <("$CY_BUILD/cynork" completion fish)
}

@test "man pages render without warnings" {
	local p

	for p in "$CY_ROOT"/man/cynork*.1; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$p"
		assert_success
		[ -z "$stderr" ] || { echo "$p: $stderr" >&2; false; }
	done
}

@test "__man of an unknown page exits 64" {
	run -64 "$CY_BUILD/cynork" __man cynork-bogus.1
}

@test "make install puts the binaries, every man page and the three completions under PREFIX" {
	local d=$CY_TMP/inst p

	# -o all: install what is built, never rebuild from the test
	make -s -C "$CY_ROOT" -o all install O="$CY_BUILD" DESTDIR="$d" PREFIX=/usr >/dev/null
	[ -x "$d/usr/bin/cynork" ]
	[ -x "$d/usr/sbin/cynode-server" ]
	[ -x "$d/usr/sbin/cynode-node" ]
	for p in $("$CY_BUILD/cynork" __man --list); do
		cmp "$CY_ROOT/man/$p" "$d/usr/share/man/man1/$p"
	done
	cmp "$CY_ROOT/completions/cynork.bash" "$d/usr/share/bash-completion/completions/cynork"
	cmp "$CY_ROOT/completions/_cynork" "$d/usr/share/zsh/vendor-completions/_cynork"
	cmp "$CY_ROOT/completions/cynork.fish" "$d/usr/share/fish/vendor_completions.d/cynork.fish"
	[ -f "$d/usr/share/man/man8/cynode-server.8" ]
	[ -f "$d/usr/share/man/man5/cynode.yaml.5" ]
}
