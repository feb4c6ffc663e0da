#!/usr/bin/env bats
#
# logs.bats: complete, durable job logs, end to end with the
# real server, PostgreSQL and node: the node streams a job's stdout and
# stderr to POST /v1/nodes/jobs/{id}/logs while it runs; the stored log is
# byte-exact (sha256) and whole while the result keeps its 256 KiB cap;
# a server killed and restarted mid-job loses nothing; and garbage on the
# chunk endpoint (auth, ids, offsets, streams, sizes, another node's job)
# is refused without changing the stored log.  Truncation at
# logs.max_bytes_per_stream is in logs-limit.bats, follow in
# logs-follow.bats.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01 sandbox.max_concurrency=4
	cy_login >/dev/null
	TOKEN=$(cy_admin_token)
	NODE_JWT=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	export TOKEN NODE_JWT
}

# create SCRIPT: a commands task as admin; prints its id.
create()
{
	cy_api POST /v1/tasks "$(jq -cn --arg p "$1" '{prompt:$p, input_mode:"commands"}')" "$TOKEN"
	cy_status 201 || return 1
	jq -r .task_id <<<"$body"
}

# get PATH: GET as admin into $res (not exported, unlike cy_api's $body:
# one environment string holds at most 128 KiB).
get()
{
	res=$(curl -s -m 70 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL$1")
}

# wait_done TASK: the task's result once it has ended (in $res).
wait_done()
{
	local i

	for i in $(seq 10); do
		get "/v1/tasks/$1/result?wait=30"
		case $(jq -r .status <<<"$res") in
		completed | failed | canceled) return 0 ;;
		esac
	done
	echo "task $1 did not end: ${res:0:2000}" >&2
	return 1
}

# raw TASK STREAM: the stored bytes of a stream, to stdout.
raw()
{
	curl -s -m 60 -H "Authorization: Bearer $TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/$1/logs?stream=$2&format=raw"
}

sha()
{
	sha256sum | cut -d' ' -f1
}

# chunk JOB QUERY [FILE] [JWT]: POST a log chunk (FILE's bytes, or none).
chunk()
{
	local -a args=(-s -m 30 -o "$CY_TMP/chunk.body" -w '%{http_code}'
		-H 'Content-Type: application/octet-stream')

	[ -n "${4-$NODE_JWT}" ] && args+=(-H "Authorization: Bearer ${4-$NODE_JWT}")
	if [ -n "${3:-}" ]; then
		args+=(--data-binary "@$3")
	else
		args+=(--data-binary '')
	fi
	status_code=$(curl "${args[@]}" "$CY_CONTROL_URL/v1/nodes/jobs/$1/logs?$2") || true
	body=$(cat "$CY_TMP/chunk.body" 2>/dev/null)
	CY_API_LAST="POST logs $1?$2"
}

@test "a job printing 5 MiB: the stored log is byte-exact; the result keeps its 256 KiB cap" {
	local script='seq 1 800000; printf "\377\000tail"; seq 1 20000 >&2' id want_out want_err
	local n job

	id=$(create "$script")
	want_out=$(sh -c "$script" 2>/dev/null | sha)
	want_err=$(sh -c "$script" 2>&1 >/dev/null | sha)
	n=$(sh -c "$script" 2>/dev/null | wc -c)
	[ "$n" -gt $((5 * 1024 * 1024)) ]
	wait_done "$id"
	[ "$(jq -r .status <<<"$res")" = completed ]
	# The result: the whole log's counts, its own stdout still capped.
	cy_eq "$(jq -r '.jobs[0].logs.stdout.bytes' <<<"$res")" "$n" bytes
	cy_eq "$(jq -r '.jobs[0].logs.stdout.stored_bytes' <<<"$res")" "$n" stored
	cy_eq "$(jq -r '.jobs[0].logs.stdout.truncated' <<<"$res")" false truncated
	cy_eq "$(jq -r '.jobs[0].logs.stdout.lost_bytes' <<<"$res")" 0 lost
	cy_eq "$(jq -r '.jobs[0].result | fromjson | .truncated.stdout' <<<"$res")" true
	[ "$(jq -r '.jobs[0].result | fromjson | .stdout | length' <<<"$res")" -le 262144 ]
	# The logs: byte for byte what the job printed.
	cy_eq "$(raw "$id" stdout | sha)" "$want_out" "stdout sha256"
	cy_eq "$(raw "$id" stderr | sha)" "$want_err" "stderr sha256"
	run -0 curl -s -m 30 -D - -o /dev/null -H "Authorization: Bearer $TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/$id/logs?stream=stdout&format=raw"
	assert_output --partial 'Cynode-Log-Truncated: false'
	assert_output --partial 'Cynode-Log-Lost-Bytes: 0'
	assert_output --partial 'application/octet-stream'
	cy_eq "$(cynork task logs --stream stdout "$id" | sha)" "$want_out" "cynork stdout sha256"
	cy_eq "$(cynork task logs "$id" | sha)" "$( (sh -c "$script" 2>/dev/null; sh -c "$script" 2>&1 >/dev/null) | sha)" \
		"cynork stdout+stderr sha256"
	# JSON: the whole text (invalid bytes as U+FFFD) and the counts.
	get "/v1/tasks/$id/logs"
	cy_eq "$(jq -r .truncated.stdout <<<"$res")" false
	cy_eq "$(jq -r .lost_bytes.stdout <<<"$res")" 0
	cy_eq "$(jq -r .bytes.stdout <<<"$res")" "$n"
	[[ $(jq -r '.stdout[-20:]' <<<"$res") == *$'800000\n\uFFFD\uFFFDtail' ]]
	res=$(cynork -o json task logs "$id")
	cy_eq "$(jq -r .truncated.stdout <<<"$res")" false
	cy_eq "$(jq -r .lost_bytes.stderr <<<"$res")" 0
	cy_eq "$(jq -r '.lines | length' <<<"$res")" $((800000 + 1 + 20000))
	# Stored as chunks of at most 1 MiB, contiguous from 0.
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	run cy_psql "SELECT count(*) > 1, max(octet_length(data)) <= 1048576,
		sum(octet_length(data)) FROM job_log_chunks c JOIN job_logs l USING (lease_id, stream)
		WHERE l.job_id = '$job' AND stream = 'stdout'"
	assert_output "t|t|$n"
	run cy_psql "SELECT bool_and(ended), sum(end_offset - stored_bytes) FROM job_logs
		WHERE job_id = '$job'"
	assert_output "t|0"
	# The node's spools were unnamed (O_TMPFILE): no file of them is left,
	# only job/job.json.
	[ -f "$CY_TMP/node-node-01/mounts/$job/job/job.json" ]
	[ -z "$(find "$CY_TMP/node-node-01/mounts/$job" -type f ! -path '*/job/job.json')" ]
}

@test "server killed and restarted mid-job: the log loses nothing, the job runs once" {
	local script='for i in $(seq 1 30); do seq $((i * 1000)) $((i * 1000 + 999)); sleep 0.1; done; echo done >&2'
	local id want gw=${CY_GATEWAY_URL##*:} cp=${CY_CONTROL_URL##*:} i

	want=$(sh -c "$script" 2>/dev/null | sha)
	id=$(create "$script")
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT count(*) FROM job_log_chunks c JOIN job_logs l
			USING (lease_id, stream) JOIN jobs j ON j.id = l.job_id
			WHERE j.task_id = '$id'")" -ge 1 ] && break
		sleep 0.1
	done
	kill -9 "$CY_SERVER_PID"
	sleep 1.5 # the job keeps printing while no server listens
	stack_server_start "$gw" "$cp" "$CY_TMP/server-2.log" "$CY_TMP/server.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	CY_SERVER_PID=$STACK_SERVER_PID
	cy__track "$CY_SERVER_PID"
	export CY_SERVER_PID
	wait_done "$id"
	[ "$(jq -r .status <<<"$res")" = completed ]
	raw "$id" stdout >"$CY_TMP/restart.out"
	sh -c "$script" 2>/dev/null >"$CY_TMP/restart.want"
	cmp "$CY_TMP/restart.out" "$CY_TMP/restart.want"
	# The node did have to hold chunks back and send them again.
	grep -q 'event=job_log_send_failed' "$CY_TMP/node-node-01.log"
	cy_eq "$(raw "$id" stdout | sha)" "$want" "stdout sha256 across the restart"
	cy_eq "$(raw "$id" stderr)" done
	cy_eq "$(jq -r '.jobs[0].logs.stdout.lost_bytes' <<<"$res")" 0
	run cy_psql "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		WHERE j.task_id = '$id'"
	assert_output 1
}

@test "chunk endpoint: good chunks append once; garbage is refused and changes nothing" {
	local id job lease node other_jwt f="$CY_TMP/chunk" big="$CY_TMP/big" q

	# A queued job given an attempt on node-01 by hand: the node never runs it.
	cy_api POST /v1/nodes/node-01/drain '{}' "$TOKEN"
	cy_status 200
	id=$(create 'echo never')
	cy_api POST /v1/nodes/node-01/undrain '{}' "$TOKEN"
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	node=$(cy_psql "SELECT id FROM nodes WHERE node_slug = 'node-01'")
	lease=$(cy_psql "UPDATE jobs SET status = 'canceled' WHERE id = '$job';
		INSERT INTO job_attempts (job_id, attempt, node_id, lease_id, status)
		VALUES ('$job', 1, '$node', gen_random_uuid(), 'canceled') RETURNING lease_id" | head -1)
	printf 'hello ' >"$f"
	chunk "$job" "lease_id=$lease&stream=stdout&offset=0" "$f"
	cy_status 200
	cy_eq "$(jq -r .next_offset <<<"$body")" 6
	cy_eq "$(jq -r .full <<<"$body")" false
	# The same chunk again (a retry): nothing twice.
	chunk "$job" "lease_id=$lease&stream=stdout&offset=0" "$f"
	cy_status 200
	cy_eq "$(jq -r .next_offset <<<"$body")" 6
	# Overlapping: only the new part is kept.
	printf ' world' >"$f"
	chunk "$job" "lease_id=$lease&stream=stdout&offset=5" "$f"
	cy_status 200
	cy_eq "$(jq -r .next_offset <<<"$body")" 11
	# A gap: 409 with where to go on.
	chunk "$job" "lease_id=$lease&stream=stdout&offset=20" "$f"
	cy_status 409
	cy_eq "$(jq -r .next_offset <<<"$body")" 11
	# Bad queries: 400 each.
	for q in "stream=stdout&offset=0" "lease_id=nope&stream=stdout&offset=0" \
		"lease_id=$lease&offset=0" "lease_id=$lease&stream=stdin&offset=0" \
		"lease_id=$lease&stream=STDOUT&offset=0" "lease_id=$lease&stream=stdout" \
		"lease_id=$lease&stream=stdout&offset=-1" "lease_id=$lease&stream=stdout&offset=abc" \
		"lease_id=$lease&stream=stdout&offset=1.5" "lease_id=$lease&stream=stdout&offset=" \
		"lease_id=$lease&stream=stdout&offset=99999999999999999999" \
		"lease_id=$lease&stream=stdout&offset=11&eof=yes"; do
		chunk "$job" "$q" "$f"
		cy_status 400 || return 1
	done
	chunk not-a-uuid "lease_id=$lease&stream=stdout&offset=11" "$f"
	cy_status 400
	# Oversized: 413.
	head -c $((1024 * 1024 + 1)) /dev/zero >"$big"
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11" "$big"
	cy_status 413
	# Not this node's attempt: another job, another lease, another node.
	chunk "$(cy_psql 'SELECT gen_random_uuid()')" "lease_id=$lease&stream=stdout&offset=11" "$f"
	cy_status 404
	chunk "$job" "lease_id=$(cy_psql 'SELECT gen_random_uuid()')&stream=stdout&offset=11" "$f"
	cy_status 404
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" "$(jq -cn --arg p "$CY_PSK" '{psk:$p,
		capability:{version:1, reported_at:"2026-01-01T00:00:00Z",
		node:{node_slug:"logs-other"}, compute:{cpu_cores:1, ram_mb:512},
		sandbox:{supported:true, max_concurrency:1}, inference:{supported:false},
		worker_api:{base_url:"http://127.0.0.1:9"}}}')"
	cy_status 201
	other_jwt=$(jq -r .auth.node_jwt <<<"$body")
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11" "$f" "$other_jwt"
	cy_status 404
	# No token, a user's token: 401.
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11" "$f" ""
	cy_status 401
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11" "$f" "$TOKEN"
	cy_status 401
	# The end: an empty eof fixes the length; nothing may come after it.
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11&eof=true"
	cy_status 200
	cy_eq "$(jq -r .ended <<<"$body")" true
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11&eof=true"
	cy_status 200
	chunk "$job" "lease_id=$lease&stream=stdout&offset=11" "$f"
	cy_status 409
	chunk "$job" "lease_id=$lease&stream=stdout&offset=12&eof=true"
	cy_status 409
	# The stored log is what the good chunks said, once.
	cy_eq "$(raw "$id" stdout)" "hello world"
	cy_api GET "/v1/tasks/$id/logs" "" "$TOKEN"
	cy_eq "$(jq -r .stdout <<<"$body")" "hello world"
	cy_eq "$(jq -r .truncated.stdout <<<"$body")" false
	# An empty eof past the end: the node lost those bytes itself.
	chunk "$job" "lease_id=$lease&stream=stderr&offset=0" "$f"
	chunk "$job" "lease_id=$lease&stream=stderr&offset=100&eof=true"
	cy_status 200
	cy_api GET "/v1/tasks/$id/logs" "" "$TOKEN"
	cy_eq "$(jq -r .stderr <<<"$body")" " world"
	cy_eq "$(jq -r .lost_bytes.stderr <<<"$body")" 94
	cy_eq "$(jq -r .truncated.stderr <<<"$body")" true
}

@test "logs route: bad format, raw of both streams, unknown task" {
	local id

	id=$(create 'echo x')
	for q in "format=xml" "format=raw" "format=raw&stream=all" "format=raw&stream=stdout&follow=true"; do
		cy_api GET "/v1/tasks/$id/logs?$q" "" "$TOKEN"
		cy_status 400 || return 1
	done
	cy_api GET "/v1/tasks/no-such-task/logs?format=raw&stream=stdout" "" "$TOKEN"
	cy_status 404
}

@test "a silent job costs no log request; a short one a single request (data and end)" {
	local id job

	id=$(create 'true')
	wait_done "$id"
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	cy_eq "$(cy_psql "SELECT count(*) FROM job_logs WHERE job_id = '$job'")" 0
	cy_eq "$(grep -c "path=/v1/nodes/jobs/$job/logs" "$CY_TMP"/server*.log | awk -F: '{ s += $NF } END { print s }')" 0
	# Nor a spool on the node's disk.
	[ -d "$CY_TMP/node-node-01/mounts/$job/job" ]
	[ ! -e "$CY_TMP/node-node-01/mounts/$job/logs" ]
	get "/v1/tasks/$id/logs"
	cy_eq "$(jq -c '[.stdout, .stderr, .truncated.stdout, .lost_bytes.stderr]' <<<"$res")" '["","",false,0]'
	id=$(create 'echo short')
	wait_done "$id"
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	cy_eq "$(grep -h "path=/v1/nodes/jobs/$job/logs" "$CY_TMP"/server*.log | grep -c 'status=200')" 1
	run cy_psql "SELECT stream, stored_bytes, end_offset, ended FROM job_logs WHERE job_id = '$job'"
	assert_output 'stdout|6|6|t'
	cy_eq "$(raw "$id" stdout)" short
}
