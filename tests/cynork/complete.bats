#!/usr/bin/env bats
#
# complete.bats: the completion engine (`cynork __complete`) and the bash,
# zsh and fish scripts of `cynork completion` loaded in the real shells and
# asked for candidates; dynamic task names come from the real server.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
	# Tasks stay queued without a node; their names are what we complete.
	cynork task create --name nightly-build --command true >/dev/null
	cynork task create --name nightly-docs --command true >/dev/null
	mkdir -p "$CY_TMP/bin"
	# The scripts call `cynork` by name: put a wrapper with the test's config on PATH.
	cat >"$CY_TMP/bin/cynork" <<-WRAP
	#!/bin/sh
	XDG_CONFIG_HOME='$CY_TMP/xdg' CYNORK_GATEWAY_URL='$CY_GATEWAY_URL' exec '$CY_BUILD/cynork' "\$@"
	WRAP
	chmod +x "$CY_TMP/bin/cynork"
}

# Candidates only (no descriptions, no directive line).
cands()
{
	cynork __complete "$@" | sed -e '$d' -e 's/\t.*//'
}

@test "__complete: top-level commands and groups, with descriptions" {
	run cynork __complete ""
	assert_success
	assert_line --partial $'task\tcreate tasks'
	assert_line --partial $'shell\t'
	assert_line ":0"
	refute_line --partial "__man"
	refute_line --partial "__spec"
	run cands ta
	assert_output "task"
}

@test "__complete: subcommands, aliases walk the tree" {
	run cands task ""
	assert_line create
	assert_line wait
	run cands node li
	assert_output list
	run cands node lo
	assert_output logs
	run cands -o json task re
	assert_output result
}

@test "__complete: flags of the command plus the global flags" {
	run cands task create --com
	assert_line --index 0 --command
	assert_line --index 1 --commands-file
	run cands task list --
	assert_line --status
	assert_line --limit
	assert_line --output
	assert_line --no-color
}

@test "__complete: enum values after the flag, after --flag=, and of -o" {
	run cands task list --status c
	assert_line completed
	assert_line canceled
	refute_line queued
	run cands task logs x --stream=std
	assert_line --stream=stdout
	assert_line --stream=stderr
	run cands -o ""
	assert_output "$(printf 'table\nwide\ntext\njson\nyaml\nname\ncsv')"
	run cands completion ""
	assert_output "$(printf 'bash\nzsh\nfish')"
}

@test "__complete: file flags ask for file names (:1); free text is :2" {
	run cynork __complete task create -s ""
	assert_output ":1"
	run cynork __complete --config ""
	assert_output ":1"
	run cynork __complete task create --name ""
	assert_output ":2"
}

@test "__complete: task names from the server for <task> arguments" {
	run cands task get nightly-
	assert_line nightly-build
	assert_line nightly-docs
	run cands task wait nightly-build nightly-d
	assert_output nightly-docs
	# only the first argument of task get is a task
	run cands task get nightly-build ""
	assert_output ""
	# never a token among the candidates
	run cynork __complete task get ""
	refute_output --partial "$(sed -n 's/^token: "\(.*\)"$/\1/p' "$CY_TMP/xdg/cynork/config.yaml")"
}

@test "__complete: no token or a dead server gives no names and no noise" {
	CYNORK_GATEWAY_URL=http://127.0.0.1:1 run --separate-stderr cynork __complete task get ""
	assert_success
	assert_output ":0"
	[ -z "$stderr" ]
	run --separate-stderr cynork __complete --config "$CY_TMP/none.yaml" task get ""
	assert_output ":0"
	[ -z "$stderr" ]
}

@test "__complete: unknown words give nothing; help completes command paths" {
	run cands bogus ""
	assert_output ""
	run cands help task w
	assert_output wait
}

@test "completion: committed scripts are identical to the output" {
	run cynork completion bash
	assert_success
	diff <(cynork completion bash) "$CY_ROOT/completions/cynork.bash"
	diff <(cynork completion zsh) "$CY_ROOT/completions/_cynork"
	diff <(cynork completion fish) "$CY_ROOT/completions/cynork.fish"
	run -64 cynork completion powershell
	assert_output --partial "bash, zsh or fish"
	run -64 cynork completion
}

@test "bash: the script completes commands, flags, --flag=, files and task names" {
	run bash -c '
		PATH=$0:$PATH
		source "$1"
		comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _cynork; printf "%s\n" "${COMPREPLY[@]}"; }
		echo "-- 1"; comp cynork task cr
		echo "-- 2"; comp cynork task list --status ru
		echo "-- 3"; comp cynork --output = j
		echo "-- 4"; comp cynork task get nightly-b
		echo "-- 5"; cd "$2" && comp cynork task create -s comp' \
		"$CY_TMP/bin" "$CY_ROOT/completions/cynork.bash" "$CY_ROOT"
	assert_success
	assert_output "$(printf -- '-- 1\ncreate\n-- 2\nrunning\n-- 3\njson\n-- 4\nnightly-build\n-- 5\ncompletions')"
}

@test "fish: the script completes commands with descriptions and task names" {
	command -v fish >/dev/null || skip "fish is not installed (scripts/deps installs it)"
	run fish --no-config -c "set PATH $CY_TMP/bin \$PATH; source $CY_ROOT/completions/cynork.fish
		complete -C 'cynork task cr'
		complete -C 'cynork task list --status ca'
		complete -C 'cynork task result nightly-d'"
	assert_success
	assert_line $'create\tcreate a task'
	assert_line canceled
	assert_line --regexp $'^nightly-docs\t(queued|running)'
}

# Drives an interactive zsh in a private tmux server.
@test "zsh: the script completes in a real interactive zsh (tmux)" {
	command -v zsh >/dev/null || skip "zsh is not installed (scripts/deps installs it)"
	local sock=$CY_TMP/tmux-zsh i

	tmux -S "$sock" -f /dev/null new-session -d -x 150 -y 20 \
		"env PATH=$CY_TMP/bin:$PATH HOME=$CY_TMP zsh -f -i"
	tmux -S "$sock" send-keys "autoload -U compinit; compinit -u -D; source $CY_ROOT/completions/_cynork; echo READY" Enter
	for i in $(seq 1 40); do
		tmux -S "$sock" capture-pane -p | grep -q '^READY' && break
		sleep 0.5
	done
	tmux -S "$sock" send-keys "cynork task cr" Tab
	for i in $(seq 1 20); do
		tmux -S "$sock" capture-pane -p | grep -q 'cynork task create' && break
		sleep 0.5
	done
	run tmux -S "$sock" capture-pane -p
	assert_output --partial "cynork task create"
	tmux -S "$sock" send-keys C-u "cynork task list --status " Tab
	for i in $(seq 1 20); do
		tmux -S "$sock" capture-pane -p | grep -q 'superseded' && break
		sleep 0.5
	done
	run tmux -S "$sock" capture-pane -p
	tmux -S "$sock" kill-server || true
	assert_output --partial "completed"
	assert_output --partial "superseded"
}
