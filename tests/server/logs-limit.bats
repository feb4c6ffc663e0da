#!/usr/bin/env bats
#
# logs-limit.bats: what the log limits cut is reported, never silent.  The
# server keeps logs.max_bytes_per_stream (1 MiB here) of each stream: the
# stored log is exactly the job's first MiB, and the result, the logs
# route (JSON and raw), `cynork task logs -o json` and `--follow` say
# truncated with the bytes lost.  A node's own sandbox.max_log_bytes cuts
# the same way, and the node reports what it could not keep.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start LOGS_MAX_BYTES_PER_STREAM=1048576
	cy_node_start node-01 sandbox.max_concurrency=2
	cy_login >/dev/null
	TOKEN=$(cy_admin_token)
	export TOKEN
}

create()
{
	cy_api POST /v1/tasks "$(jq -cn --arg p "$1" '{prompt:$p, input_mode:"commands"}')" "$TOKEN"
	cy_status 201 || return 1
	jq -r .task_id <<<"$body"
}

# fget PATH: GET as admin to stdout (not through an exported variable).
fget()
{
	curl -s -m 70 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL$1"
}

@test "server limit 1 MiB: the first MiB kept byte for byte, the rest counted as lost" {
	local script='seq 1 450000; echo small >&2' id n lost res

	n=$(sh -c "$script" 2>/dev/null | wc -c)
	lost=$((n - 1048576))
	[ "$lost" -gt 1048576 ]
	id=$(create "$script")
	res=$(fget "/v1/tasks/$id/result?wait=60")
	cy_eq "$(jq -r .status <<<"$res")" completed
	cy_eq "$(jq -r '.jobs[0].logs.stdout.truncated' <<<"$res")" true
	cy_eq "$(jq -r '.jobs[0].logs.stdout.lost_bytes' <<<"$res")" "$lost"
	cy_eq "$(jq -r '.jobs[0].logs.stdout.stored_bytes' <<<"$res")" 1048576
	cy_eq "$(jq -r '.jobs[0].logs.stdout.bytes' <<<"$res")" "$n"
	cy_eq "$(jq -r '.jobs[0].logs.stderr.truncated' <<<"$res")" false
	cy_eq "$(jq -r '.jobs[0].logs.stderr.lost_bytes' <<<"$res")" 0
	# The raw log: exactly the job's first MiB; the headers say what is missing.
	fget "/v1/tasks/$id/logs?stream=stdout&format=raw" >"$CY_TMP/kept"
	sh -c "$script" 2>/dev/null | head -c 1048576 >"$CY_TMP/want"
	cmp "$CY_TMP/kept" "$CY_TMP/want"
	run -0 curl -s -m 30 -D - -o /dev/null -H "Authorization: Bearer $TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/$id/logs?stream=stdout&format=raw"
	assert_output --partial 'Cynode-Log-Truncated: true'
	assert_output --partial "Cynode-Log-Lost-Bytes: $lost"
	cy_eq "$(fget "/v1/tasks/$id/logs?stream=stderr&format=raw")" small
	# JSON, cynork -o json.
	res=$(fget "/v1/tasks/$id/logs")
	cy_eq "$(jq -r .truncated.stdout <<<"$res")" true
	cy_eq "$(jq -r .lost_bytes.stdout <<<"$res")" "$lost"
	cy_eq "$(jq -r .truncated.stderr <<<"$res")" false
	res=$(cynork -o json task logs "$id")
	cy_eq "$(jq -r .truncated.stdout <<<"$res")" true
	cy_eq "$(jq -r .lost_bytes.stdout <<<"$res")" "$lost"
	cy_eq "$(jq -r .stored_bytes.stdout <<<"$res")" 1048576
	# task logs prints the kept MiB byte for byte, then says on stderr what was lost.
	cynork task logs --stream stdout "$id" >"$CY_TMP/printed" 2>"$CY_TMP/printed.err"
	cmp "$CY_TMP/printed" "$CY_TMP/want"
	run cat "$CY_TMP/printed.err"
	assert_output "cynork: stdout truncated: $lost bytes lost to the server's log limit"
	run --separate-stderr cynork task logs --stream stderr "$id"
	assert_output small
	[ -z "$stderr" ]
	# --follow prints the kept MiB, then says on stderr what was lost.
	cynork task logs -F --stream stdout "$id" >"$CY_TMP/followed" 2>"$CY_TMP/follow.err"
	cmp "$CY_TMP/followed" "$CY_TMP/want"
	run cat "$CY_TMP/follow.err"
	assert_output "cynork: stdout truncated: $lost bytes lost to the server's log limit"
	# Nothing past the limit was stored.
	run cy_psql "SELECT sum(octet_length(c.data)) FROM job_log_chunks c JOIN jobs j ON true
		JOIN job_logs l ON l.lease_id = c.lease_id AND l.stream = c.stream AND l.job_id = j.id
		WHERE j.task_id = '$id' AND c.stream = 'stdout'"
	assert_output 1048576
}

@test "node cap sandbox.max_log_bytes: the node keeps 64 KiB, the server reports the rest lost" {
	local id res

	cy_node_stop node-01
	cy_node_start node-02 sandbox.max_log_bytes=65536
	id=$(create 'head -c 200000 /dev/zero | tr "\0" a')
	res=$(fget "/v1/tasks/$id/result?wait=60")
	cy_eq "$(jq -r .status <<<"$res")" completed
	cy_eq "$(jq -r '.jobs[0].logs.stdout.stored_bytes' <<<"$res")" 65536
	cy_eq "$(jq -r '.jobs[0].logs.stdout.lost_bytes' <<<"$res")" $((200000 - 65536))
	cy_eq "$(jq -r '.jobs[0].logs.stdout.truncated' <<<"$res")" true
	cy_eq "$(fget "/v1/tasks/$id/logs?stream=stdout&format=raw" | wc -c)" 65536
	cy_eq "$(fget "/v1/tasks/$id/logs?stream=stdout&format=raw" | tr -d a | wc -c)" 0
}
