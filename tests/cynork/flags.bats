#!/usr/bin/env bats
#
# flags.bats: every flag of every command in the table, driven by
# `cynork __spec` so rows added later are covered too.  Garbage values are
# usage errors (exit 64; 125 in task wait, which passes a job's exit code
# through) that name the flag, before any config, login or
# request: integers out of range or not numbers, enum values not in the
# list, durations that do not parse, value flags without a value, boolean
# flags given a value.  Good values parse: each enum choice and integer
# bounds get past the parser (they then stop at the login, exit 77).
# Offline: the gateway URL points at a closed port.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	export CYNORK_GATEWAY_URL=http://127.0.0.1:1 CYNORK_TOKEN=
	"$CY_BUILD/cynork" __spec >"$CY_TMP/spec.json"
}

# Lines "PATH<TAB>FLAG<TAB>KIND<TAB>MIN<TAB>MAX<TAB>CHOICES" for every command flag.
flags()
{
	jq -r '.commands[] | select(.group | not) | .path as $p | .options[] |
		[$p, .name, .kind, (.min // ""), (.max // ""), ((.choices // []) | join(","))] | @tsv' \
		"$CY_TMP/spec.json"
}

# The exit code of a usage error of PATH: 125 in a command that always
# passes a job's exit code through (task wait), else 64 (EX_USAGE).
usage_code()
{
	jq -r --arg p "$1" '.commands[] | select(.path == $p) |
		if .job_exit == true then 125 else 64 end' "$CY_TMP/spec.json"
}

# A value that passes the parser for flags of KIND.
good_value()
{
	case $1 in
	int) echo "$2" ;;
	enum) echo "${3%%,*}" ;;
	duration) echo 30s ;;
	*) echo some-value ;;
	esac
}

@test "__spec lists min and max for int flags" {
	run jq -e '[.commands[].options[] | select(.kind == "int") | has("min") and has("max")] | all' \
		"$CY_TMP/spec.json"
	assert_success
}

@test "garbage values of int, enum and duration flags exit 64 naming the flag" {
	local path flag kind min max choices bad="" n=0

	while IFS=$'\t' read -r path flag kind min max choices; do
		case $kind in
		int) vals=(abc "" "$((max + 1))" "$((min - 1))" 1x) ;;
		enum) vals=(bogus "" "${choices%%,*}x") ;;
		duration) vals=(soon 0s -5s 5parsecs "") ;;
		*) continue ;;
		esac
		for v in "${vals[@]}"; do
			n=$((n + 1))
			# shellcheck disable=SC2086
			run --separate-stderr "$CY_BUILD/cynork" $path "--$flag" "$v"
			if [ "$status" -ne "$(usage_code "$path")" ] || [[ $stderr != *"--$flag"* ]] ||
				[ -n "$output" ]; then
				bad="$bad [$path --$flag '$v': $status $stderr]"
			fi
		done
	done < <(flags)
	[ "$n" -gt 10 ]
	[ -z "$bad" ] || { echo "accepted garbage:$bad" >&2; false; }
}

@test "value flags without a value exit 64; boolean flags reject --flag=value" {
	local path flag kind min max choices bad="" n=0

	while IFS=$'\t' read -r path flag kind min max choices; do
		n=$((n + 1))
		if [ "$kind" = bool ]; then
			# shellcheck disable=SC2086
			run --separate-stderr "$CY_BUILD/cynork" $path "--$flag=yes"
			[[ $status -eq $(usage_code "$path") && $stderr == *"takes no value"* ]] || bad="$bad [$path --$flag=yes: $status]"
		else
			# shellcheck disable=SC2086
			run --separate-stderr "$CY_BUILD/cynork" $path "--$flag"
			[[ $status -eq $(usage_code "$path") && $stderr == *"needs a value"* ]] || bad="$bad [$path --$flag: $status]"
		fi
	done < <(flags)
	[ "$n" -gt 20 ]
	[ -z "$bad" ] || { echo "wrong:$bad" >&2; false; }
}

@test "short flags are the same flags as their long names" {
	local bad=""

	while IFS=$'\t' read -r path short name kind; do
		[ "$kind" = int ] || [ "$kind" = enum ] || continue
		# shellcheck disable=SC2086
		run --separate-stderr "$CY_BUILD/cynork" $path "-$short" bogus-value
		[[ $status -eq $(usage_code "$path") && $stderr == *"-$short"* ]] || bad="$bad [$path -$short]"
	done < <(jq -r '.commands[] | select(.group | not) | .path as $p | .options[] |
		select(.short) | [$p, .short, .name, .kind] | @tsv' "$CY_TMP/spec.json")
	[ -z "$bad" ] || { echo "wrong:$bad" >&2; false; }
}

@test "good values get past the parser (each enum choice, int bounds, durations)" {
	local path flag kind min max choices bad="" c v

	while IFS=$'\t' read -r path flag kind min max choices; do
		case $kind in
		int) vals=("$min" "$max") ;;
		enum) IFS=, read -r -a vals <<<"$choices" ;;
		duration) vals=("${min:-1}s" 5m 2h) ;;
		*) continue ;;
		esac
		for v in "${vals[@]}"; do
			# A command needing args gets a dummy one; the parse must not be the failure.
			# shellcheck disable=SC2086
			run --separate-stderr "$CY_BUILD/cynork" --config "$CY_TMP/none.yaml" $path "--$flag=$v" x
			[[ $stderr != *"--$flag"* ]] || bad="$bad [$path --$flag=$v: $stderr]"
		done
	done < <(flags)
	[ -z "$bad" ] || { echo "rejected good values:$bad" >&2; false; }
}

@test "global flags: -o with each format, -q, --no-color, -c anywhere on the line" {
	local f

	for f in table json name; do
		run "$CY_BUILD/cynork" version -o "$f"
		assert_success
		run "$CY_BUILD/cynork" --output="$f" version
		assert_success
	done
	run -64 "$CY_BUILD/cynork" version -o xml
	run -64 "$CY_BUILD/cynork" version --output
	run "$CY_BUILD/cynork" version -q --no-color
	assert_success
	run "$CY_BUILD/cynork" version -c "$CY_TMP/none.yaml"
	assert_success
	run -64 "$CY_BUILD/cynork" version --quiet=1
	# -- ends the flags: what follows is an argument
	run -64 "$CY_BUILD/cynork" version -- -o
	assert_output --partial "unexpected '-o'"
}

@test "string flags with a shape (slugs, labels, UUIDs, times, keys, scopes, files) refuse garbage with exit 64" {
	local bad="" line cmd flag val
	printf 'x\n' >"$CY_TMP/doc.yaml"

	# CMD|FLAG|VALUE: the value cynork can tell is wrong before any request.
	while IFS='|' read -r cmd flag val; do
		[ -n "$cmd" ] || continue
		# shellcheck disable=SC2086
		run --separate-stderr "$CY_BUILD/cynork" $cmd "--$flag" "$val"
		if [ "$status" -ne 64 ] || [[ $stderr != *"--$flag"* ]] || [ -n "$output" ]; then
			bad="$bad [$cmd --$flag '$val': $status $stderr]"
		fi
	done <<EOT
task create -p x|project-id|not-a-uuid
chat -m x|project-id|not-a-uuid
task create --command true|model|m
task create -p x|project-id|00000000-0000-0000-0000-00000000000g
task create -p x|idempotency-key|
task create -p x|idempotency-key|has space
task create -p x|attach|/nonexistent/file
task create|task-file|/nonexistent/file
task create|script|$CY_TMP
task create|commands-file|/nonexistent/file
task create|command|   
nodes enroll|name|Node_1
nodes enroll|name|$(printf 'a%.0s' $(seq 64))
nodes enroll --name ok|labels|GPU
nodes enroll --name ok|labels|gpu,rack 2
nodes enroll --name ok|labels|
config push -f $CY_TMP/doc.yaml|node|BAD SLUG
config push -f $CY_TMP/doc.yaml|node|
config push --node n1|file|/nonexistent/file
config get|node|no/slashes
token create --name t|scope|bogus
token create --name t|scope|tasks:read,root
audit list|since|yesterday
audit list|until|2026-13-45T00:00:00Z
EOT
	[ -z "$bad" ] || { echo "accepted garbage:$bad" >&2; false; }
}
