#!/usr/bin/env bats
#
# output.bats: how cynork prints, against a real stack (PostgreSQL,
# cynode-server, one cynode-node running jobs in bubblewrap).  Piped, lists
# stay TAB-separated (libsmartcols raw: blanks in a cell as \x20), records
# stay key=value, nothing is coloured or cut.  On a terminal (a private tmux
# server with a fixed 80x40 pane) lists are aligned to the widest cell and
# cut to the width, states are coloured unless NO_COLOR/--no-color, task get
# and nodes get show labelled fields, task result the job's output raw.
# The JSON shapes of cynork(1) JSON OUTPUT are pinned with jq (chat's in
# chat.bats, which has a model), and -o yaml is checked to be the same value
# as -o json.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
	cynork -o name task create --name out-cmds --command 'echo one' \
		--command 'printf "two\n2b\n"; echo err >&2' --wait >"$CY_TMP/cmds-id"
	printf 'echo from a script\nexit 3\n' >"$CY_TMP/s.sh"
	cynork -o name task create --name out-script --script "$CY_TMP/s.sh" --wait \
		>"$CY_TMP/script-id" || true
}

teardown_file()
{
	local s

	for s in "$CY_TMP"/tmux.*; do
		[ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null
	done
	cy_teardown_file
}

# Each on_tty call gets its own tmux server (TM_N counts them).
TM_N=0
tm()
{
	tmux -S "$CY_TMP/tmux.$TM_N" "$@"
}

# Runs `cynork ARGS` in a WIDTH (80) x 40 pane (ENV: extra environment words),
# prints the pane (with -e: with its colour escapes) once it has ended, and
# fails unless cynork exited 0.
on_tty()
{
	local esc=""

	[ "$1" = -e ] && { esc=-e; shift; }
	[ -S "$CY_TMP/tmux.$TM_N" ] && { tm kill-server 2>/dev/null || true; }
	TM_N=$((TM_N + 1))
	rm -f "$CY_TMP/tty.done"
	tm -f /dev/null new-session -d -x "${WIDTH:-80}" -y 40 \
		"env XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=$CY_GATEWAY_URL TERM=xterm ${ENV:-} $CY_BUILD/cynork $*; echo \$? >$CY_TMP/tty.done; sleep 30"
	for _ in $(seq 1 150); do
		[ -s "$CY_TMP/tty.done" ] && break
		sleep 0.1
	done
	[ -s "$CY_TMP/tty.done" ]
	tm capture-pane -p $esc -S 0 -E 39 | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	# cynork's own exit status (a sanitizer's report fails it too).
	[ "$(cat "$CY_TMP/tty.done")" = 0 ]
}

# The 0-based column where the first match of ERE $2 starts in line $1.
col_of()
{
	awk -v re="$2" '{ print match($0, re) - 1; exit }' <<<"$1"
}

@test "piped: nodes list is TAB-separated, --no-headers drops the header, -o wide adds columns" {
	run cynork nodes list
	assert_success
	assert_line --index 0 "$(printf 'NODE\tSTATUS\tENABLED\tCONFIG\tAPPLIED\tLAST_SEEN\tRUNNING\tCAPACITY\tLABELS\tURL')"
	[[ ${lines[1]} == "node-01"$'\t'"active"$'\t'"true"$'\t'* ]]
	[ "$(awk -F'\t' '{ print NF }' <<<"$output" | sort -u)" = 10 ]
	[[ $output != *$'\e'* ]]
	run cynork nodes list --no-headers
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == node-01$'\t'* ]]
	run cynork -o wide nodes list
	assert_success
	[ "$(awk -F'\t' '{ print NF }' <<<"$output" | sort -u)" = 14 ]
	[[ ${lines[0]} == *$'\t'NODE_ID$'\t'DESIRED$'\t'DRAIN_REASON$'\t'CREATED_AT ]]
	# --no-headers is a list's flag only.
	run -64 cynork task get out-cmds --no-headers
}

@test "piped: a cell's blanks are written as \\x20 so a cell stays one field" {
	run cynork -o wide task list --no-headers
	assert_success
	run grep -F "$(cat "$CY_TMP/cmds-id")" <<<"$output"
	assert_success
	[ "$(awk -F'\t' '{ print NF }' <<<"$output")" = 7 ]
	[[ $output == *$'\t'"echo\\x20one" ]]
	# Bytes outside ASCII too (whatever the locale); printf %b decodes a cell.
	printf '# x\n' >"$CY_TMP/skill.md"
	cynork skills load "$CY_TMP/skill.md" --name 'café au lait' >/dev/null
	LC_ALL=C run cynork skills list --no-headers
	[ "$(cut -f2 <<<"${lines[0]}")" = 'caf\xc3\xa9\x20au\x20lait' ]
	[ "$(printf '%b' "$(cut -f2 <<<"${lines[0]}")")" = 'café au lait' ]
	WIDTH=200 run on_tty skills list
	assert_line --regexp '^[0-9a-f-]{36} +café au lait +user '
	cynork skills delete -y "$(cynork -o name skills list | head -1)" >/dev/null
}

@test "every list takes --no-headers and -o wide" {
	local cmd

	for cmd in "task list" "nodes list" "config status" "token list" "secret list" \
		"skills list" "user list" "audit list" "task artifacts list out-cmds" "context list"; do
		# shellcheck disable=SC2086
		run cynork $cmd --no-headers
		assert_success
		# shellcheck disable=SC2086
		run cynork -o wide $cmd
		assert_success
		[[ $output != *$'\e'* ]]
	done
	# An empty list still shows its header, and nothing with --no-headers.
	run cynork secret list
	assert_output "$(printf 'NAME\tPROJECT_ID\tCREATED_AT\tUPDATED_AT')"
	run cynork -o wide secret list --no-headers
	assert_output ""
}

@test "piped: records stay key=value and task result stays one line" {
	local id

	id=$(cat "$CY_TMP/cmds-id")
	run cynork task get out-cmds
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	assert_output --regexp "^task_id=$id status=completed task_name=out-cmds "
	assert_output --partial " node=node-01 attempts=1 "
	run cynork task result out-cmds
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial 'stdout="one\ntwo\n2b\n" stderr="err\n"'
	run cynork nodes get node-01
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "node_slug=node-01 status=active"
	# -o table on a terminal is the same record line (the test below: -o text).
	run cynork -o table task get out-cmds
	[ "${#lines[@]}" -eq 1 ]
}

@test "terminal: nodes list aligned to the widest cell, cut to 80 columns, coloured" {
	local header row

	run on_tty nodes list
	assert_success
	header=${lines[0]}
	row=${lines[1]}
	[[ $header == NODE* ]]
	[[ $output != *$'\t'* ]]
	# Each column starts where its header does.
	[ "$(col_of "$header" STATUS)" -eq "$(col_of "$row" active)" ]
	[ "$(col_of "$header" LAST_SEEN)" -eq "$(col_of "$row" '([0-9]+[smh] ago|just now)')" ]
	[ "$(col_of "$header" CAPACITY)" -lt "$(col_of "$row" ' 4 ')" ]
	# The whole table fits the 80-column pane (URL is cut, not wrapped).
	[ "$(awk '{ print length($0) }' <<<"$output" | sort -n | tail -1)" -le 80 ]
	[ "${#lines[@]}" -eq 2 ]
	run cynork nodes list
	[[ $output == *http://127.0.0.1:* ]]
	# Colour only on the terminal, and never with NO_COLOR or --no-color.
	run on_tty -e nodes list
	[[ $output == *$'\e[32mactive'* ]]
	ENV=NO_COLOR=1 run on_tty -e nodes list
	[[ $output != *$'\e['* ]]
	run on_tty -e --no-color nodes list
	[[ $output != *$'\e['* ]]
	[[ $output == *active* ]]
	# An empty NO_COLOR is not set (no-color.org).
	ENV=NO_COLOR= run on_tty -e nodes list
	[[ $output == *$'\e[32mactive'* ]]
}

@test "garbage: --no-headers takes no value, -o must be a format; -o text and wide fall back to table" {
	run -64 cynork nodes list --no-headers=yes
	assert_output --partial "takes no value"
	run -64 cynork -o tabel nodes list
	assert_output --partial "want one of table, wide, text, json, yaml, name"
	run -64 cynork --no-color=1 nodes list
	run cynork -o text version
	assert_output --regexp '^cynork version=[^ ]+ api_version='
	run cynork -o wide version
	assert_output --regexp '^cynork version=[^ ]+ api_version='
	run cynork -o wide task get out-cmds
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "task_name=out-cmds"
}

@test "terminal: task list is a table with how long ago; --no-headers and -o wide work" {
	run on_tty task list
	assert_success
	[[ ${lines[0]} =~ ^TASK_ID\ +NAME\ +STATUS\ +MODE\ +CREATED$ ]]
	assert_line --regexp "^$(cat "$CY_TMP/cmds-id") +out-cmds +completed +commands +([0-9]+[smh] ago|just now)"
	run on_tty task list --no-headers
	refute_line --regexp '^TASK_ID'
	# -o wide: two more columns, nothing cut (a wider pane shows them on one line).
	WIDTH=250 run on_tty -o wide task list
	[[ ${lines[0]} =~ ^TASK_ID\ +NAME\ +STATUS\ +MODE\ +CREATED\ +UPDATED\ +INPUT$ ]]
	assert_line --regexp "^$(cat "$CY_TMP/cmds-id") +out-cmds .* echo one$"
	# -o table keeps the record lines on a terminal.
	run on_tty -o table task list
	assert_line --regexp '^task_id=.* status=completed task_name=out-cmds'
}

@test "terminal: task get and nodes get show labelled fields, durations and relative times" {
	run on_tty task get out-cmds
	assert_success
	assert_line --regexp '^Task: +out-cmds \([0-9a-f-]{36}\)$'
	assert_line --regexp '^Status: +completed \(exit code 0\)$'
	assert_line --regexp '^Commands: +echo one$'
	assert_line --regexp '^Node: +node-01$'
	assert_line --regexp '^Attempts: +1 of 3$'
	assert_line --regexp '^Created: +20[0-9-]{8} [0-9:]{8} UTC \(([0-9]+[smh] ago|just now)\)$'
	assert_line --regexp '^Ran: +([0-9]+ms|[0-9.]+s)$'
	assert_line --regexp '^Timeout: +1h$'
	run on_tty task get out-script
	assert_line --regexp '^Status: +failed \(exit code 3\)$'
	assert_line --regexp '^Script: +echo from a script$'
	assert_line --regexp '^ +exit 3$'
	run on_tty nodes get node-01
	assert_line --regexp '^Node: +node-01 \([0-9a-f-]{36}\)$'
	assert_line --regexp '^Status: +active, enabled$'
	assert_line --regexp '^Last seen: +.* UTC \(([0-9]+[smh] ago|just now)\)$'
	assert_line --regexp '^Jobs: +0 running of [0-9]+$'
	# -o text piped gives the same view.
	run cynork -o text task get out-cmds
	assert_line --regexp '^Status: +completed \(exit code 0\)$'
	run on_tty -e task get out-cmds
	[[ $output == *$'\e[32mcompleted'* ]]
}

@test "terminal: task result prints the job's output raw, then its status" {
	run on_tty task result out-cmds
	assert_success
	assert_line --index 0 one
	assert_line --index 1 two
	assert_line --index 2 2b
	assert_line --index 3 err
	assert_line --index 4 "task out-cmds: completed, exit code 0"
	run --separate-stderr cynork -o text task result out-cmds
	assert_output "$(printf 'one\ntwo\n2b')"
	[ "$stderr" = "$(printf 'err\ntask out-cmds: completed, exit code 0')" ]
	run --separate-stderr cynork -q -o text task result out-script
	assert_output "from a script"
	[ -z "$stderr" ]
}

@test "json: task get has one name per thing and the job's run at the top" {
	local id

	id=$(cat "$CY_TMP/cmds-id")
	run cynork -o json task get out-cmds
	assert_success
	run jq -e --arg id "$id" '
		(keys == (["attachments", "attempts", "commands", "created_at", "ended_at",
			"exit_code", "input_mode", "job", "node", "queued_at", "queued_seconds",
			"run_seconds", "started_at", "status", "task_id", "task_name",
			"updated_at"] | sort))
		and .task_id == $id and .input_mode == "commands"
		and .commands == ["echo one", "printf \"two\\n2b\\n\"; echo err >&2"]
		and .exit_code == 0 and .node == "node-01" and .attempts == 1
		and (.queued_at | test("^20.*Z$")) and (.started_at | test("Z$"))
		and (.ended_at | test("Z$")) and (.run_seconds | type == "number")
		and (.job | has("job_id") and has("max_attempts") and has("timeout_seconds")
			and has("requirements") and (has("exit_code") | not)
			and (has("id") | not))' <<<"$output"
	assert_success
	run cynork -o json task get out-script
	run jq -e '.input_mode == "script" and .script == "echo from a script\nexit 3\n"
		and (has("prompt") | not) and (has("commands") | not) and .exit_code == 3
		and .status == "failed"' <<<"$output"
	assert_success
}

@test "json: the shapes of task list, result, create, logs and cancel" {
	local id

	run cynork -o json task list -l 1
	run jq -e '(keys == ["next_cursor", "tasks"])' <<<"$output"
	assert_success
	run cynork -o json task list --status completed
	run jq -e '(keys == ["tasks"]) and (.tasks[0] | keys ==
		(["attachments", "commands", "created_at", "input_mode", "status", "task_id",
		"task_name", "updated_at"] | sort))' <<<"$output"
	assert_success
	run cynork -o json task result out-cmds
	run jq -e 'keys == (["task_id", "task_name", "status", "exit_code", "stdout", "stderr"] | sort)
		and .stdout == "one\ntwo\n2b\n"' <<<"$output"
	assert_success
	run --separate-stderr cynork -o json task create --command true --wait
	run jq -e 'keys == (["task_id", "task_name", "status", "exit_code", "stdout", "stderr"] | sort)' <<<"$output"
	assert_success
	run cynork -o json task create --command 'sleep 30'
	id=$(jq -r .task_id <<<"$output")
	run jq -e 'keys == (["attachments", "status", "task_id", "task_name"] | sort)' <<<"$output"
	assert_success
	run cynork -o json task cancel -y "$id"
	run jq -e '.canceled == true and has("task_id")' <<<"$output"
	assert_success
	run cynork -o json task logs out-cmds
	run jq -e 'keys == (["bytes", "lines", "lost_bytes", "stderr", "stdout", "stored_bytes",
		"stream", "task_id", "truncated"] | sort)' <<<"$output"
	assert_success
}

@test "json: the shapes of the other commands" {
	local id

	run cynork -o json version
	run jq -e 'keys == ["api_version", "version"]' <<<"$output"
	assert_success
	run cynork -o json status
	run jq -e 'keys == ["context", "gateway", "gateway_url"]' <<<"$output"
	assert_success
	run cynork -o json whoami
	run jq -e 'keys == ["id", "user"]' <<<"$output"
	assert_success
	run cynork -o json nodes list
	run jq -e '(keys == ["nodes"]) and (.nodes[0] | has("node_id") and has("node_slug")
		and has("status") and has("enabled") and has("labels") and has("running_jobs")
		and has("max_concurrency") and has("capabilities") and has("conditions"))' <<<"$output"
	assert_success
	run cynork -o json nodes get node-01
	run jq -e '.node_slug == "node-01" and .status == "active"' <<<"$output"
	assert_success
	run cynork -o json config status
	run jq -e '.nodes[0] | keys == (["ack_at", "ack_error", "ack_status", "ack_version",
		"applied_version", "desired_version", "document_version", "node_slug", "state",
		"status"] | sort)' <<<"$output"
	assert_success
	run cynork -o json user list
	run jq -e '.users[0] | keys == (["created_at", "email", "handle", "user_id", "is_active",
		"role", "updated_at"] | sort)' <<<"$output"
	assert_success
	run cynork -o json audit list -l 1
	run jq -e '.events[0] | keys == (["action", "actor", "details", "event_id", "ip_address",
		"source", "success", "target", "token_id", "ts"] | sort)' <<<"$output"
	assert_success
	run cynork -o json task artifacts list out-cmds
	run jq -e 'keys == ["artifacts", "task_id"]' <<<"$output"
	assert_success
	# A token is token_id everywhere: create, list and revoke.
	run cynork -o json token create --name out-json
	id=$(jq -r .token_id <<<"$output")
	run jq -e 'keys == (["token_id", "name", "token_prefix", "scopes", "owner", "expires_at",
		"last_used_at", "revoked_at", "created_at", "token"] | sort)' <<<"$output"
	assert_success
	run cynork -o json token list
	run jq -e --arg id "$id" '.tokens[0] | (has("id") | not) and .token_id == $id' <<<"$output"
	assert_success
	run cynork -o json token revoke -y "$id"
	run jq -e --arg id "$id" '.token_id == $id and .revoked == true' <<<"$output"
	assert_success
}

@test "json: the shapes of queue, schedule, webhook, events and accounting" {
	local id qkeys skeys wkeys

	qkeys='["created_at", "description", "max_running", "max_running_per_user", "name",
		"priority", "queued", "running", "updated_at"] | sort'
	run -0 cynork -o json queue list
	run jq -e "(keys == [\"queues\"]) and (.queues[0] | keys == ($qkeys))" <<<"$output"
	assert_success
	run -0 cynork -o json queue create out-q --priority 3
	run jq -e "keys == ($qkeys)" <<<"$output"
	assert_success
	run -0 cynork -o json queue set out-q --max-running 2
	run jq -e "keys == ($qkeys) and .max_running == 2" <<<"$output"
	assert_success
	id=$(cynork -o name task create --command 'sleep 30' --queue out-q --gpus 64 --allow-pending)
	run -0 cynork -o json queue show out-q
	run jq -e "keys == ($qkeys + [\"head\", \"users\"] | sort)
		and (.head[0] | keys == ([\"position\", \"task_id\", \"owner\", \"mine\", \"priority\",
			\"fair_rank\", \"created_at\", \"req_cpus\", \"req_memory_mb\", \"req_gpus\",
			\"pending_reason\"] | sort))
		and (.users[0] | keys == ([\"owner\", \"mine\", \"running\", \"queued\",
			\"next_fair_rank\"] | sort))" <<<"$output"
	assert_success
	cynork task cancel -y "$id" >/dev/null
	run -0 cynork -o json queue delete -y out-q
	run jq -e 'keys == ["deleted", "queue"]' <<<"$output"
	assert_success
	# A schedule is schedule_id in JSON as in its record line and table; its task names its input.
	skeys='["schedule_id", "name", "cron", "timezone", "task", "enabled", "max_history",
		"next_run_at", "last_run_at", "created_at", "updated_at"]'
	run -0 cynork -o json schedule create --name out-s --cron '@daily' --command true --disabled
	id=$(jq -r .schedule_id <<<"$output")
	run jq -e "(keys == ($skeys + [\"runs\"] | sort)) and .task.commands == [\"true\"]
		and (.task | has(\"prompt\") | not)" <<<"$output"
	assert_success
	run -0 cynork -o json schedule list
	run jq -e "(keys == [\"schedules\"]) and (.schedules[0] | keys == ($skeys | sort))" <<<"$output"
	assert_success
	run -0 cynork -o json schedule enable out-s
	run jq -e --arg id "$id" "(keys == ($skeys + [\"runs\"] | sort)) and .schedule_id == \$id" <<<"$output"
	assert_success
	run -0 cynork -o wide schedule list
	assert_line --index 0 --regexp 'SCHEDULE_ID$'
	assert_line --index 1 --regexp "$id\$"
	run -0 cynork -o json schedule delete -y out-s
	run jq -e 'keys == ["deleted", "schedule"]' <<<"$output"
	assert_success
	# A webhook is webhook_id and a delivery delivery_id, as in their tables.
	wkeys='["webhook_id", "url", "events", "created_at", "deliveries", "failed"]'
	run -0 cynork -o json webhook create --url https://example.invalid/out --events task.finished
	id=$(jq -r .webhook_id <<<"$output")
	run jq -e "keys == ($wkeys + [\"secret\"] | sort)" <<<"$output"
	assert_success
	cynork task create --command true --wait >/dev/null
	run -0 cynork -o json webhook list
	run jq -e "(keys == [\"webhooks\"]) and (.webhooks[0] | keys == ($wkeys | sort))" <<<"$output"
	assert_success
	run -0 cynork webhook list --no-headers
	assert_output --regexp "^$id"$'\t'
	for _ in $(seq 1 50); do
		run -0 cynork -o json webhook deliveries "$id"
		[ "$(jq '.deliveries | length' <<<"$output")" -gt 0 ] && break
		sleep 0.2
	done
	run jq -e --arg id "$id" '(keys == ["deliveries", "webhook_id"]) and .webhook_id == $id
		and (.deliveries[0] | keys == (["delivery_id", "event", "event_id", "status", "attempts",
			"last_status", "last_error", "created_at", "delivered_at", "next_attempt_at"] | sort))' \
		<<<"$output"
	assert_success
	run -0 cynork -o json webhook delete -y "$id"
	run jq -e --arg id "$id" 'keys == ["deleted", "webhook_id"] and .webhook_id == $id' <<<"$output"
	assert_success
	# An event is event_id, as in its record line and in webhook deliveries.
	run -0 cynork -o json events --task out-cmds
	run jq -se 'map(keys) == [["event_id", "status", "task_id", "task_name", "time", "type"],
		(["event_id", "previous", "status", "task_id", "task_name", "time", "type"] | sort),
		(["event_id", "previous", "status", "task_id", "task_name", "time", "type"] | sort)]' \
		<<<"$output"
	assert_success
	run -0 cynork -o json events --type node
	run jq -se '.[0] | keys == ["event_id", "node", "status", "time", "type"]' <<<"$output"
	assert_success
	# Accounting: attempt_id is the record's own id.
	run -0 cynork -o json accounting list -l 1
	run jq -e '(keys == ["jobs", "next_cursor"]) and (.jobs[0] | keys == (["attempt_id", "job_id",
		"task_id", "user", "queue", "node", "attempt", "attempts", "state", "exit_code", "req_cpus",
		"req_memory_mb", "req_gpus", "cpu_seconds", "cpu_user_seconds", "cpu_system_seconds",
		"peak_memory_bytes", "gpu_seconds", "wall_seconds", "usage_source", "started_at",
		"ended_at"] | sort))' <<<"$output"
	assert_success
	run -0 cynork -o json accounting summary --by queue
	run jq -e '(keys == ["by", "rows"]) and .by == "queue" and (.rows[0] | keys == (["queue",
		"jobs", "attempts", "completed", "failures", "canceled", "cpu_seconds", "wall_seconds",
		"peak_memory_bytes_max", "gpu_seconds"] | sort))' <<<"$output"
	assert_success
}

@test "yaml: -o yaml is the -o json value as YAML, for records, lists and text" {
	local cmd

	for cmd in "task get out-cmds" "task get out-script" "task result out-cmds" \
		"task list" "nodes get node-01" "nodes list" "version" "whoami" "config status" \
		"user list" "audit list -l 5" "task logs out-cmds"; do
		# shellcheck disable=SC2086
		diff <(cynork -o yaml $cmd | yq -S .) <(cynork -o json $cmd | jq -S .)
	done
	# Strings that would read as something else are quoted; output is a literal block.
	run cynork -o yaml task get out-cmds
	assert_line --regexp '^created_at: "20[0-9-]+T[0-9:]+Z"$'
	run cynork -o yaml task result out-cmds
	assert_line 'stdout: |'
	assert_line '  2b'
	# Several documents (task wait A B) are a YAML stream.
	run -3 cynork -o yaml task wait out-cmds out-script
	[ "$(yq -s -c 'map(.task_name)' <<<"$output")" = '["out-cmds","out-script"]' ]
	[ "$(grep -c '^---$' <<<"$output")" -eq 1 ]
}
