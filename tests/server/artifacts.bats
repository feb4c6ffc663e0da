#!/usr/bin/env bats
# Artifacts out: after a job (completed or failed) the node uploads the
# workspace files its patterns select (default out/), never following a
# symlink, within its limits, reporting what it dropped and why; users list
# and download them; they expire by artifacts.retention; an attempt cut
# midway (a cut upload, a killed node) leaves nothing half-visible.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start HTTP_THREADS=4 DISPATCH_LEASE=3s ARTIFACT_MAX_BYTES=3000000 \
		RETENTION_INTERVAL=1s
	cy_node_start node-01 sandbox.max_concurrency=4 artifacts.max_count=4 \
		artifacts.max_total_bytes=2500000
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

# run_task SCRIPT [extra JSON members]: creates, waits; $id, $body (the result)
run_task()
{
	cy_api POST /v1/tasks "$(jq -cn --arg s "$1" --argjson x "{${2:-}}" \
		'{input_mode:"commands", prompt:$s} + $x')" "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	cy_status 200
}

summary()
{
	jq -c '.jobs[0].result | fromjson | .artifacts' <<<"$body"
}

@test "a completed job's out/ files are listed and downloaded byte for byte" {
	run_task 'mkdir -p out/sub; echo hello >out/a.txt; head -c 1500000 /dev/urandom >out/sub/b.bin; cp out/sub/b.bin /workspace/copy; echo no >report.txt'
	cy_eq "$(jq -r .status <<<"$body")" completed status
	cy_eq "$(summary | jq -c '[.count, .dropped]')" '[2,[]]' summary
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_status 200
	cy_eq "$(jq -c '[.artifacts[] | [.name, .size_bytes]]' <<<"$body")" '[["out/a.txt",6],["out/sub/b.bin",1500000]]' list
	cy_eq "$(jq -r '.artifacts[0].content_type' <<<"$body")" text/plain content_type
	[[ $(jq -r '.artifacts[0].expires_at' <<<"$body") =~ ^20[0-9-]+T ]]
	aid=$(jq -r '.artifacts[1].artifact_id' <<<"$body")
	bsha=$(jq -r '.artifacts[1].sha256' <<<"$body")
	curl -s -D "$CY_TMP/h" -o "$CY_TMP/b.bin" -H "Authorization: Bearer $CY_TOKEN" \
		"$CY_GATEWAY_URL/v1/tasks/$id/artifacts/$aid"
	cy_eq "$(sha256sum <"$CY_TMP/b.bin" | cut -d' ' -f1)" "$bsha" sha256
	grep -qi '^content-length: 1500000' "$CY_TMP/h"
	grep -qi '^content-disposition: attachment; filename="b.bin"' "$CY_TMP/h"
	# by name: ?name= for names with '/'
	cy_api GET "/v1/tasks/$id/artifacts/content?name=out/a.txt" "" "$CY_TOKEN"
	cy_status 200
	cy_eq "$body" hello body
	cy_api GET "/v1/tasks/$id/artifacts/nope" "" "$CY_TOKEN"
	cy_status 404
	cy_api GET "/v1/tasks/$id/artifacts/content?name=../etc/passwd" "" "$CY_TOKEN"
	cy_status 404
}

@test "a failed job's artifacts are collected too; custom patterns replace out/" {
	run_task 'mkdir -p out logs; echo x >out/x; echo r >report-1.txt; echo l >logs/run.log; exit 3' \
		'"artifacts":["report-*.txt","logs"],"max_attempts":1'
	cy_eq "$(jq -r .status <<<"$body")" failed status
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '[.artifacts[].name]' <<<"$body")" '["logs/run.log","report-1.txt"]' names
}

@test "a timed-out job's artifacts are collected" {
	run_task 'mkdir -p out; echo partial >out/p.txt; sleep 30' '"timeout_seconds":1,"max_attempts":1'
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '[.artifacts[].name]' <<<"$body")" '["out/p.txt"]' names
}

@test "symlinks in out/ are reported, never followed" {
	run_task 'mkdir -p out; ln -s /etc/passwd out/passwd; ln -s /etc out/etc; ln -s ../secret out/up; echo s >secret; echo ok >out/ok.txt; mkfifo out/fifo'
	s=$(summary)
	cy_eq "$(jq -c '.count' <<<"$s")" 1 count
	cy_eq "$(jq -c '[.dropped[] | [.name, .reason]] | sort' <<<"$s")" \
		'[["out/etc","symlink (not followed)"],["out/fifo","not a regular file"],["out/passwd","symlink (not followed)"],["out/up","symlink (not followed)"]]' dropped
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '[.artifacts[].name]' <<<"$body")" '["out/ok.txt"]' names
	cy_eq "$(cy_psql "SELECT count(*) FROM task_artifacts WHERE path IN ('out/passwd', 'out/up')")" 0 rows
}

@test "out itself a symlink (to /etc) is reported, never walked" {
	run_task 'ln -s /etc out'
	cy_eq "$(summary | jq -c '[.count, [.dropped[] | [.name, .reason]]]')" \
		'[0,[["out","symlink (not followed)"]]]' summary
}

@test "the node's limits drop files with the reason, never silently" {
	run_task 'mkdir -p out; for i in 1 2 3 4 5; do echo $i >out/f$i; done; head -c 2600000 /dev/zero >out/zbig'
	s=$(summary)
	cy_eq "$(jq -c '[.count, .limit_count, .limit_bytes]' <<<"$s")" '[4,4,2500000]' counts
	cy_eq "$(jq -c '[.dropped[] | [.name, .reason]]' <<<"$s")" \
		'[["out/f5","over artifacts.max_count (4 files)"],["out/zbig","over artifacts.max_count (4 files)"]]' dropped
	run_task 'mkdir -p out; head -c 2000000 /dev/zero >out/a; head -c 600000 /dev/zero >out/b; echo c >out/c'
	s=$(summary)
	cy_eq "$(jq -c '[.count, .bytes]' <<<"$s")" '[2,2000002]' counts
	cy_eq "$(jq -c '[.dropped[] | [.name, .size, .reason]]' <<<"$s")" \
		'[["out/b",600000,"over artifacts.max_total_bytes (2500000 bytes)"]]' dropped
}

@test "bad artifact patterns are refused at create" {
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	for bad in '["../x"]' '["/etc/*"]' '[""]' '["a//b"]' '["*/../x"]' '[1]' '"out/"' \
		"[$(seq -s, 1 65 | sed 's/[0-9]*/"x&"/g')]"; do
		cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"true\",\"artifacts\":$bad}" "$CY_TOKEN"
		cy_status 400
		[[ $body == *artifacts* ]]
	done
	cy_api POST /v1/tasks '{"prompt":"hi","artifacts":["out/"]}' "$CY_TOKEN"
	cy_status 400
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$n0" tasks
}

@test "the artifact upload endpoint: only the running job's node, safe names, size capped" {
	jwt=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	run_task 'true'
	job=$(jq -r '.jobs[0].id' <<<"$body")
	put()
	{
		status_code=$(printf '%s' "$2" | curl -s -o "$CY_TMP/put.body" -w '%{http_code}' -X PUT \
			-H "Authorization: Bearer ${3:-$jwt}" --data-binary @- \
			"$CY_CONTROL_URL/v1/nodes/jobs/$job/artifacts?name=$1")
		body=$(cat "$CY_TMP/put.body")
	}
	put x.txt data
	cy_status 409
	put x.txt data "$CY_TOKEN"
	[ "$status_code" = 401 ] || [ "$status_code" = 403 ]
	for name in ..%2Fx %2Fetc%2Fpasswd a%2F%2Fb "" a%00b; do
		put "$name" data
		cy_status 400
	done
	head -c 3000001 /dev/zero >"$CY_TMP/big"
	status_code=$(curl -s -o "$CY_TMP/put.body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $jwt" \
		--data-binary "@$CY_TMP/big" "$CY_CONTROL_URL/v1/nodes/jobs/$job/artifacts?name=big")
	cy_eq "$status_code" 413 status
	grep -q 'limit 3000000 bytes' "$CY_TMP/put.body"
}

@test "artifacts expire by artifacts.retention; the chore removes them and their blobs" {
	run_task 'mkdir -p out; echo expiring-artifact-body >out/e.txt'
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	sha=$(jq -r '.artifacts[0].sha256' <<<"$body")
	cy_psql "UPDATE task_artifacts SET expires_at = now() - interval '1 second' WHERE task_id = '$id';
		UPDATE blobs SET created_at = now() - interval '1 hour' WHERE sha256 = '$sha'" >/dev/null
	# hidden at once, deleted by the next chore run
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '.artifacts' <<<"$body")" '[]' list
	for i in $(seq 50); do
		[ "$(cy_psql "SELECT count(*) FROM blobs WHERE sha256 = '$sha'")" = 0 ] && break
		sleep 0.2
	done
	cy_eq "$(cy_psql "SELECT count(*) FROM task_artifacts WHERE task_id = '$id'")" 0 rows
	cy_eq "$(cy_psql "SELECT count(*) FROM blobs WHERE sha256 = '$sha'")" 0 blob
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.data_id = c.data_id)")" 0 "orphan chunks"
	grep -q 'event=artifacts_expired' "$CY_TMP/server.log"
}

@test "a node killed mid-job leaves nothing half-visible: a cut upload and the dead attempt's artifacts stay hidden, the retry's show" {
	cy_api POST /v1/tasks "$(jq -cn '{input_mode:"commands", max_attempts:3, retry_backoff_seconds:0,
		prompt:"mkdir -p out; echo final >out/final.txt; sleep 12"}')" "$CY_TOKEN"
	id=$(jq -r .task_id <<<"$body")
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT status FROM jobs WHERE task_id = '$id'")" = running ] && break
		sleep 0.1
	done
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	jwt=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	# attempt 1 uploaded one artifact whole...
	status_code=$(printf 'stale\n' | curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H "Authorization: Bearer $jwt" --data-binary @- \
		"$CY_CONTROL_URL/v1/nodes/jobs/$job/artifacts?name=out/stale.txt")
	cy_eq "$status_code" 201 status
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '[.artifacts[].name]' <<<"$body")" '["out/stale.txt"]' "while attempt 1 runs"
	s0=$SECONDS
	# ... and was cut in the middle of the next (2 of 2.5 MB sent)
	# (curl sends the file's 2 MB under a Content-Length of 2.5 MB, then waits)
	head -c 2000000 /dev/urandom >"$CY_TMP/cut.bin"
	timeout 2 curl -s -o /dev/null -X PUT -H "Authorization: Bearer $jwt" \
		-H 'Content-Length: 2500000' --data-binary "@$CY_TMP/cut.bin" \
		"$CY_CONTROL_URL/v1/nodes/jobs/$job/artifacts?name=out/cut.bin" || true
	for i in $(seq 50); do
		[ "$(cy_psql "SELECT count(*) FROM blob_uploads")" = 0 ] && break
		sleep 0.1
	done
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_uploads")" 0 uploads
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.data_id = c.data_id)")" 0 "orphan chunks"
	cy_eq "$(cy_psql "SELECT count(*) FROM task_artifacts WHERE path = 'out/cut.bin'")" 0 cut
	# attempt 1 must still be running: its own collection would upload final.txt
	[ $((SECONDS - s0)) -lt 8 ]
	kill -9 "$(cat "$CY_TMP/node-node-01/pid")"
	cy_node_start node-02 sandbox.max_concurrency=4
	cy_api GET "/v1/tasks/$id/result?wait=40" "" "$CY_TOKEN"
	cy_eq "$(jq -r .status <<<"$body")" completed status
	cy_api GET "/v1/tasks/$id/artifacts" "" "$CY_TOKEN"
	cy_eq "$(jq -c '[.artifacts[].name]' <<<"$body")" '["out/final.txt"]' "after the retry"
	[ "$(cy_psql "SELECT count(*) FROM job_attempts WHERE job_id = '$job'")" -ge 2 ]
	cy_eq "$(cy_psql "SELECT n.node_slug FROM job_attempts a JOIN nodes n ON n.id = a.node_id
		WHERE a.job_id = '$job' AND a.status = 'completed'")" node-02 "completed on"
	# node-01 died with its job's workspace mounted (its next start would sweep it)
	grep -o " $CY_TMP/node-node-01/mounts/[^ ]*/workspace " /proc/mounts | while read -r m; do
		umount "$m"
	done
}
