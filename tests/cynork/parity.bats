#!/usr/bin/env bats
#
# parity.bats: the CLI details the reference (cli.md) fixes, through the real
# binaries (PostgreSQL, cynode-server, a node running jobs in bubblewrap):
# auth logout's output (words for a person, a record for scripts) and its failure without a config file, task logs -o
# json with the server's {task_id, stdout, stderr} beside stream and lines,
# task list's next_cursor and --cursor paging (stable while tasks are
# created between pages, garbage refused), task create -o json echoing
# attachments; and where cynode differs on purpose: a reused rotated refresh
# token revokes the whole session, unknown JSON fields are refused.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

CFG() { echo "$CY_TMP/xdg/cynork/config.yaml"; }

@test "auth logout: logged_out=true on stdout (also with -q), the tokens gone, exit 0" {
	printf 'x_custom_key: kept\n' >>"$(CFG)"
	grep -q '^token:' "$(CFG)"
	run --separate-stderr cynork auth logout
	assert_success
	assert_output "logged_out=true"
	! grep -q '^token:' "$(CFG)"
	! grep -q '^refresh_token:' "$(CFG)"
	# the config file's other keys are kept
	grep -Eq '^x_custom_key: "?kept' "$(CFG)"
	CYNORK_TOKEN= run -77 cynork whoami
	# nothing stored: still says so, still 0; -q keeps the command's output
	run --separate-stderr cynork -q logout
	assert_success
	assert_output "logged_out=true"
	[ -z "$stderr" ]
	run --separate-stderr cynork -o json auth logout
	assert_success
	run jq -ec '. == {"logged_out": true}' <<<"$output"
	assert_success
	cy_login >/dev/null
	run cynork whoami
	assert_output --partial "user=admin"
}

@test "auth logout tells a person: 'logged out of URL' on a terminal and with -o text; pipes keep the record" {
	grep -q '^token:' "$(CFG)"
	# a terminal (script(1)): words, not the record line
	run -0 cy_tty_cynork "" auth logout
	[[ $output == *"logged out of $CY_GATEWAY_URL"* ]]
	[[ $output != *"logged_out="* ]]
	! grep -q '^token:' "$(CFG)"
	CYNORK_TOKEN= run -77 cynork whoami
	# -o text asks for the same words through a pipe
	cy_login >/dev/null
	run --separate-stderr cynork -o text auth logout
	assert_success
	assert_output "logged out of $CY_GATEWAY_URL"
	! grep -q '^token:' "$(CFG)"
	# an explicit -o on a terminal is obeyed: json and table stay machine-readable
	run -0 cy_tty_cynork "" -o json logout
	[[ $output == *'"logged_out": true'* || $output == *'"logged_out":true'* ]]
	run -0 cy_tty_cynork "" -o table logout
	[[ $output == *"logged_out=true"* ]]
	cy_login >/dev/null
	run cynork whoami
	assert_output --partial "user=admin"
}

@test "auth logout without HOME or --config fails clearly (exit 78), prints nothing on stdout" {
	run -78 --separate-stderr env -u HOME -u XDG_CONFIG_HOME "$CY_BUILD/cynork" auth logout
	[ -z "$output" ]
	[[ $stderr == *"HOME is not set; use --config PATH"* ]]
	run -78 --separate-stderr env -u HOME -u XDG_CONFIG_HOME "$CY_BUILD/cynork" -o json logout
	[ -z "$output" ]
	# with --config it works, and writes only where it was told
	run env -u HOME -u XDG_CONFIG_HOME "$CY_BUILD/cynork" --config "$CY_TMP/other.yaml" logout
	assert_success
	assert_output "logged_out=true"
}

@test "a reused rotated refresh token revokes the whole session (the thief's and the owner's)" {
	cp "$(CFG)" "$CY_TMP/stolen.yaml"
	chmod 600 "$CY_TMP/stolen.yaml"
	run cynork auth refresh
	assert_success
	assert_output "refreshed=true"
	run cynork whoami
	assert_output --partial "user=admin"
	# the old (rotated) refresh token, replayed from the copy: 401, exit 77
	run -77 --separate-stderr "$CY_BUILD/cynork" --config "$CY_TMP/stolen.yaml" auth refresh
	# ... and the owner's current tokens died with it
	run -77 --separate-stderr cynork whoami
	run -77 --separate-stderr cynork auth refresh
	cy_psql "SELECT revoke_reason FROM auth_sessions WHERE revoke_reason = 'refresh_reuse'" |
		grep -qx refresh_reuse
	# a new login is a new session
	cy_login >/dev/null
	run cynork whoami
	assert_success
}

@test "unknown JSON fields are refused on the user API with the field named" {
	local tok

	tok=$(cy_admin_token)
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","bogus_field":1}' "$tok"
	cy_status 400
	[[ $body == *"bogus_field"* ]]
	cy_api POST /v1/auth/login '{"handle":"admin","password":"x","remember_me":true}'
	cy_status 400
	[[ $body == *"remember_me"* ]]
}

@test "task logs -o json: task_id, stream, lines and the server's stdout and stderr" {
	local id tok

	id=$(cynork -o name task create --command 'printf "o1\no2\n"; printf "e1\n" >&2; printf "\377x\n"')
	cynork -q task result "$id" --wait >/dev/null
	run --separate-stderr cynork -o json task logs "$id"
	assert_success
	run jq -ec --arg id "$id" '.task_id == $id and .stream == "all"
		and .stdout == "o1\no2\n\ufffdx\n" and .stderr == "e1\n"
		and .lines == ["o1", "o2", "\ufffdx", "e1"]
		and (.bytes | type) == "object" and (.stored_bytes | type) == "object"' <<<"$output"
	assert_success
	# the same text as the server's GET /v1/tasks/{id}/logs
	tok=$(cy_admin_token)
	cy_api GET "/v1/tasks/$id/logs" "" "$tok"
	cy_status 200
	server=$body
	run --separate-stderr cynork -o json task logs "$id"
	[ "$(jq -c '{task_id, stdout, stderr}' <<<"$output")" = "$(jq -c '{task_id, stdout, stderr}' <<<"$server")" ]
	# --stream chooses: only that stream's key and lines
	run --separate-stderr cynork -o json task logs "$id" --stream stderr
	run jq -ec '.stream == "stderr" and .stderr == "e1\n" and (has("stdout") | not) and .lines == ["e1"]' <<<"$output"
	assert_success
	run --separate-stderr cynork -o json task logs "$id" --stream stdout
	run jq -ec '.stdout == "o1\no2\n\ufffdx\n" and (has("stderr") | not)' <<<"$output"
	assert_success
	# no output at all: empty strings, no lines
	id=$(cynork -o name task create --command true)
	cynork -q task result "$id" --wait >/dev/null
	run --separate-stderr cynork -o json task logs "$id"
	run jq -ec '.stdout == "" and .stderr == "" and .lines == []' <<<"$output"
	assert_success
	run -64 cynork -o json task logs "$id" --stream both
	run -66 cynork -o json task logs no-such-task
}

# The ids of every task, paging with -l N and --cursor; creates a task
# between pages when CREATE_BETWEEN is set.  One id a line.
page_all()
{
	local n=$1 cursor="" out
	local -a args

	while :; do
		args=(-o json task list -l "$n")
		[ -n "$cursor" ] && args+=(--cursor "$cursor")
		out=$(cynork "${args[@]}") || return 1
		jq -r '.tasks[].task_id' <<<"$out"
		[ -n "${CREATE_BETWEEN:-}" ] && cynork -o name task create --command true >>"$CY_TMP/between"
		cursor=$(jq -r '.next_cursor // empty' <<<"$out")
		[ -n "$cursor" ] || break
	done
}

@test "task list: next_cursor whenever more rows exist, --cursor continues, stable under inserts" {
	local i total

	for i in 1 2 3 4 5 6 7; do cynork -o name task create --command true >/dev/null; done
	total=$(cynork -o json task list -l 200 | jq '.tasks | length')
	[ "$total" -ge 7 ]
	[ "$(cynork -o json task list -l 200 | jq 'has("next_cursor")')" = false ]
	# exactly the rows there are: no next_cursor; one fewer: a cursor to one more row
	run --separate-stderr cynork -o json task list -l "$total"
	run jq -e 'has("next_cursor") | not' <<<"$output"
	assert_success
	run --separate-stderr cynork -o json task list -l $((total - 1))
	cursor=$(jq -er '.next_cursor' <<<"$output")
	run --separate-stderr cynork -o json task list -l 5 --cursor "$cursor"
	run jq -e '(.tasks | length) == 1 and (has("next_cursor") | not)' <<<"$output"
	assert_success
	# paging by 2 gives every task once, newest first, like one big page
	cynork -o json task list -l 200 | jq -r '.tasks[].task_id' >"$CY_TMP/all"
	page_all 2 >"$CY_TMP/paged"
	diff "$CY_TMP/all" "$CY_TMP/paged"
	# tasks created between pages do not shift the later pages
	: >"$CY_TMP/between"
	CREATE_BETWEEN=1 page_all 3 >"$CY_TMP/paged2"
	diff "$CY_TMP/all" "$CY_TMP/paged2"
	[ "$(wc -l <"$CY_TMP/between")" -ge 3 ]
	# ... and show up on a fresh first page
	run --separate-stderr cynork -o json task list -l 1
	[ "$(jq -r '.tasks[0].task_id' <<<"$output")" = "$(tail -n 1 "$CY_TMP/between")" ]
	# the table form: one record line per task, the cursor hint on stderr
	run --separate-stderr cynork task list -l 2
	[ "${#lines[@]}" -eq 2 ]
	[[ $stderr == *"more tasks: --cursor "* ]]
	# an empty cursor (the reference's default) is the first page, on the CLI and the API
	run --separate-stderr cynork -o json task list -l 2 --cursor ""
	assert_success
	[ "$(jq -c '[.tasks[].task_id]' <<<"$output")" = "$(cynork -o json task list -l 2 | jq -c '[.tasks[].task_id]')" ]
	cy_api GET "/v1/tasks?limit=2&cursor=" "" "$(cy_admin_token)"
	cy_status 200
	[ "$(jq '.tasks | length' <<<"$body")" -eq 2 ]
	# the reference's offset paging is refused, not ignored
	cy_api GET "/v1/tasks?limit=2&offset=2" "" "$(cy_admin_token)"
	cy_status 400
	[[ $body == *"page with cursor"* ]]
	# --cursor with --status keeps the filter
	run --separate-stderr cynork -o json task list -l 1 --status completed
	cursor=$(jq -er '.next_cursor' <<<"$output")
	run --separate-stderr cynork -o json task list -l 200 --status completed --cursor "$cursor"
	run jq -e 'all(.tasks[]; .status == "completed")' <<<"$output"
	assert_success
}

@test "task list --cursor garbage: the server's 400, exit 65 (cli.md: a gateway 400), nothing on stdout" {
	local c

	for c in garbage 123 _ "1_not-a-uuid" "-5_00000000-0000-4000-8000-000000000000" \
		"99999999999999999999_00000000-0000-4000-8000-000000000000" "$(printf 'a%.0s' {1..300})"; do
		run -65 --separate-stderr cynork -o json task list --cursor "$c"
		[ -z "$output" ] || { echo "cursor $c printed $output"; false; }
		[[ $stderr == *"invalid cursor"* ]]
	done
	run -64 cynork task list --cursor
	run -64 cynork task list -l 0 --cursor garbage
}

@test "task create -o json echoes attachments: the files, or [] for none" {
	printf 'abc\n' >"$CY_TMP/a.txt"
	run --separate-stderr cynork -o json task create --attach "$CY_TMP/a.txt" --command 'cat a.txt'
	assert_success
	run jq -ec --arg s "$(sha256sum <"$CY_TMP/a.txt" | cut -d' ' -f1)" \
		'.attachments == [{"name": "a.txt", "sha256": $s, "size": 4}] and (.task_id | length) == 36' <<<"$output"
	assert_success
	run --separate-stderr cynork -o json task create --command true
	assert_success
	run jq -ec '.attachments == [] and .status == "queued"' <<<"$output"
	assert_success
}
