#!/usr/bin/env bats
#
# accounting.bats: cynork accounting list|summary and -o csv (RFC 4180)
# against a real stack (PostgreSQL, cynode-server, one cynode-node running
# jobs in bubblewrap).  The CSV is read back with Python's csv module and
# matches -o json; a value holding commas, double quotes and a line break
# (an audit event's actor: the handle of a failed login) survives the round
# trip; filters reach the server; bad flags are usage errors; commands
# without CSV refuse -o csv.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	cy_login >/dev/null
	cynork -o name task create --name acct-ok --command 'echo fine' --wait >/dev/null
	cynork -o name task create --name acct-fail --command 'exit 7' --wait >/dev/null || true
	cynork -o name task create --name acct-mem --command 'dd if=/dev/zero of=/dev/null bs=8M count=1 2>/dev/null' \
		--wait >/dev/null
}

# csv_json: standard input (CSV) as a JSON list of objects keyed by the header.
csv_json()
{
	python3 -c '
import csv, json, sys
data = sys.stdin.buffer.read().decode()
assert data == "" or data.endswith("\r\n"), "records end with CRLF"
print(json.dumps(list(csv.DictReader(data.splitlines(keepends=True), strict=True))))'
}

@test "accounting list -o csv: every column, parsed by Python's csv as the same records as -o json" {
	run -0 cynork accounting list -o json
	json=$output
	[ "$(jq '.jobs | length' <<<"$json")" -eq 3 ]
	cynork accounting list -o csv >"$CY_TMP/acct.csv"
	head -1 "$CY_TMP/acct.csv" | grep -q $'^ATTEMPT_ID,TASK_ID,JOB_ID,USER,QUEUE,NODE,STATE,EXIT,ATTEMPT,REQ_CPUS,REQ_MEM_MB,REQ_GPUS,CPU_S,CPU_USER_S,CPU_SYS_S,PEAK_MEM_BYTES,GPU_S,WALL_S,USAGE_SOURCE,STARTED,ENDED\r$'
	csv=$(csv_json <"$CY_TMP/acct.csv")
	jq -e --argjson j "$json" '
		length == ($j.jobs | length) and
		([.[] | [.ATTEMPT_ID, .TASK_ID, .USER, .QUEUE, .NODE, .STATE, .EXIT, .ENDED, .GPU_S]] ==
		 [$j.jobs[] | [.attempt_id, .task_id, .user, .queue, .node, .state, (.exit_code | tostring), .ended_at, ""]]) and
		all(.[]; (.CPU_S | tonumber) >= 0 and (.PEAK_MEM_BYTES | tonumber) > 0)' <<<"$csv" || { echo "$csv"; false; }
	# --no-headers: the records only.
	run -0 cynork accounting list -o csv --no-headers
	[ "$(grep -c $'\r$' <<<"$output")" -eq 3 ]
	! grep -q ATTEMPT_ID <<<"$output"
}

@test "accounting list: table, wide, filters, yaml, name" {
	run -0 cynork accounting list
	head -1 <<<"$output" | grep -q $'^TASK_ID\tUSER\tQUEUE\tNODE\tSTATE\tEXIT\tATTEMPT\tCPU_S\tPEAK_MEM_BYTES\tWALL_S\tENDED$'
	[ "${#lines[@]}" -eq 4 ]
	run -0 cynork accounting list -o wide
	head -1 <<<"$output" | grep -q $'^ATTEMPT_ID\tTASK_ID\tJOB_ID\tUSER'
	run -0 cynork accounting list --state failed -o json
	jq -e '(.jobs | length) == 1 and .jobs[0].exit_code == 7 and .jobs[0].state == "failed"' <<<"$output"
	run -0 cynork accounting list -s completed --node node-01 --user admin --since 1h -o json
	jq -e '(.jobs | length) == 2 and all(.jobs[]; .state == "completed" and .node == "node-01")' <<<"$output"
	run -0 cynork accounting list --node elsewhere -o json
	jq -e '.jobs == []' <<<"$output"
	run -0 cynork accounting list --until 2020-01-01T00:00:00Z --no-headers
	[ -z "$output" ]
	run -0 cynork accounting list -o yaml
	grep -q '^jobs:' <<<"$output"
	run -0 cynork accounting list -o name
	[ "${#lines[@]}" -eq 3 ]
	# Pages: --limit 2 then the cursor printed on stderr.
	run -0 --separate-stderr cynork accounting list --limit 2 -o csv --no-headers
	[ "$(grep -c $'\r$' <<<"$output")" -eq 2 ]
	cursor=$(sed -n 's/.*--cursor //p' <<<"$stderr")
	[ -n "$cursor" ]
	run -0 cynork accounting list --limit 2 --cursor "$cursor" -o json
	jq -e '(.jobs | length) == 1 and (has("next_cursor") | not)' <<<"$output"
}

@test "accounting summary: per user and per queue, csv and json" {
	run -0 cynork accounting summary -o json
	jq -e '.by == "user" and (.rows | length) == 1 and .rows[0].user == "admin" and .rows[0].jobs == 3
		and .rows[0].failures == 1 and .rows[0].completed == 2' <<<"$output" || { echo "$output"; false; }
	cynork accounting summary --by queue -o csv >"$CY_TMP/sum.csv"
	csv=$(csv_json <"$CY_TMP/sum.csv")
	jq -e 'length == 1 and .[0].QUEUE == "default" and .[0].JOBS == "3" and .[0].FAILURES == "1"' <<<"$csv" || { echo "$csv"; false; }
	run -0 cynork accounting summary
	head -1 <<<"$output" | grep -q $'^USER\tJOBS\tATTEMPTS\tCOMPLETED\tFAILURES\tCANCELED\tCPU_S\tWALL_S\tPEAK_MEM_MAX_BYTES$'
	run -0 cynork acct summary --state completed -o json
	jq -e '.rows[0].jobs == 2 and .rows[0].failures == 0' <<<"$output"
}

@test "audit list -o csv quotes commas, double quotes and line breaks (RFC 4180)" {
	evil=$'ev,il "quoted"\nline two'
	curl -s -m 10 -o /dev/null -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg h "$evil" '{handle:$h,password:"wrong-password"}')" \
		"$CY_GATEWAY_URL/v1/auth/login"
	cynork audit list --source auth -o csv >"$CY_TMP/audit.csv"
	grep -qF '"ev,il ""quoted""' "$CY_TMP/audit.csv"
	csv=$(csv_json <"$CY_TMP/audit.csv")
	jq -e --arg h "$evil" 'any(.[]; .ACTOR == $h and .ACTION == "login_failure" and .RESULT == "failed")
		and (.[0] | keys_unsorted) == ["EVENT_ID","TS","SOURCE","ACTOR","ACTION","TARGET","RESULT","IP_ADDRESS","TOKEN_ID"]' <<<"$csv" || { cat "$CY_TMP/audit.csv"; false; }
	run -0 cynork audit list --source auth -o json
	[ "$(jq '.events | length' <<<"$output")" -eq "$(jq length <<<"$csv")" ]
}

@test "bad flags are usage errors; commands without CSV refuse -o csv" {
	run -64 cynork accounting list --since yesterday
	[[ $output == *"invalid time 'yesterday' for --since"* ]]
	run -64 cynork accounting list --until 2026-13-40T00:00:00Z
	run -64 cynork accounting list --state done
	run -64 cynork accounting list --limit 0
	run -64 cynork accounting list --limit 1001
	run -64 cynork accounting summary --by node
	run -64 cynork accounting summary --limit 5
	run -64 cynork accounting list extra
	run -64 cynork task list -o csv
	[[ $output == *"'-o csv' is not supported by 'task list'"* ]]
	run -64 cynork accounting list -o tsv
	# The server refuses what the CLI cannot check: an empty name.
	run cynork accounting list --node ''
	[ "$status" -ne 0 ]
}
