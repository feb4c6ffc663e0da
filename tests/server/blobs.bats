#!/usr/bin/env bats
# Attachments in: POST /v1/uploads streams a raw body into the
# blob store (sha256 checked, size capped with a 413 naming the limit),
# task create attaches the caller's own uploads by name, the node fetches
# them into /workspace before the command runs, and every bad input is
# refused with nothing created.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start HTTP_THREADS=4 ATTACHMENT_MAX_BYTES=3145728 ATTACHMENTS_MAX_COUNT=4 \
		ATTACHMENTS_MAX_TOTAL_BYTES=4194304 DISPATCH_LEASE=3s
	cy_node_start node-01 sandbox.max_concurrency=4
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

# upload FILE [TOKEN] [extra curl args...]: sets status_code and body.
upload()
{
	local file=$1 token=${2:-$CY_TOKEN}
	shift 2 || shift $#
	CY_API_LAST="POST /v1/uploads"
	status_code=$(curl -s -m 60 -o "$CY_TMP/up.body" -w '%{http_code}' \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
		"$@" --data-binary "@$file" "$CY_GATEWAY_URL/v1/uploads")
	body=$(cat "$CY_TMP/up.body")
}

sha()
{
	sha256sum "$1" | cut -d' ' -f1
}

wait_result()
{
	cy_api GET "/v1/tasks/$1/result?wait=30" "" "$CY_TOKEN"
	cy_status 200
}

@test "an upload answers its sha256 and size; the same bytes again are one blob" {
	head -c 2500000 /dev/urandom >"$CY_TMP/rand.bin"
	upload "$CY_TMP/rand.bin"
	cy_status 201
	cy_eq "$(jq -r .sha256 <<<"$body")" "$(sha "$CY_TMP/rand.bin")" sha256
	cy_eq "$(jq -r .size <<<"$body")" 2500000 size
	# three chunk rows of at most 1 MiB hold it
	s=$(sha "$CY_TMP/rand.bin")
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks c JOIN blobs b USING (data_id) WHERE b.sha256 = '$s'")" 3 chunks
	upload "$CY_TMP/rand.bin" "$CY_TOKEN" -H "X-Content-SHA256: $(sha "$CY_TMP/rand.bin" | tr a-f A-F)"
	cy_status 201
	cy_eq "$(cy_psql "SELECT count(*) FROM blobs WHERE sha256 = '$s'")" 1 blobs
	# the duplicate's chunks are gone, not hidden
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks")" \
		"$(cy_psql "SELECT count(*) FROM blob_chunks c JOIN blobs b USING (data_id)")" chunks
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_uploads")" 0 uploads
	# an empty body is a blob too
	: >"$CY_TMP/empty"
	upload "$CY_TMP/empty"
	cy_status 201
	cy_eq "$(jq -r .size <<<"$body")" 0 size
}

@test "an upload with a wrong X-Content-SHA256 is refused and leaves nothing" {
	printf 'hello\n' >"$CY_TMP/h.txt"
	before=$(cy_psql "SELECT count(*) FROM blob_chunks")
	upload "$CY_TMP/h.txt" "$CY_TOKEN" -H "X-Content-SHA256: $(printf '%064d' 0)"
	cy_status 400
	[[ $body == *"not the 0000"* ]]
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks")" "$before" chunks
	cy_eq "$(cy_psql "SELECT count(*) FROM blobs WHERE size = 6")" 0 blobs
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_uploads")" 0 uploads
	for bad in xyz "$(printf '%063d' 0)" "$(printf '%064d' 0)g" "$(printf 'g%063d' 0)"; do
		upload "$CY_TMP/h.txt" "$CY_TOKEN" -H "X-Content-SHA256: $bad"
		cy_status 400
		[[ $body == *"64 hex digits"* ]]
	done
}

@test "an oversized upload is a 413 naming the limit, by Content-Length or while streaming" {
	head -c 3145729 /dev/zero >"$CY_TMP/big.bin"
	upload "$CY_TMP/big.bin"
	cy_status 413
	[[ $(jq -r .detail <<<"$body") == *"limit 3145728 bytes"* ]]
	# chunked: no Content-Length, the running count trips it
	status_code=$(head -c 5000000 /dev/zero | curl -s -m 60 -o "$CY_TMP/up.body" \
		-w '%{http_code}' -H "Authorization: Bearer $CY_TOKEN" \
		-H 'Transfer-Encoding: chunked' --data-binary @- "$CY_GATEWAY_URL/v1/uploads")
	body=$(cat "$CY_TMP/up.body")
	cy_status 413
	[[ $(jq -r .detail <<<"$body") == *"limit 3145728 bytes"* ]]
	sleep 0.5
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_uploads")" 0 uploads
	cy_eq "$(cy_psql "SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.data_id = c.data_id)")" 0 "orphan chunks"
	# exactly the limit is fine
	head -c 3145728 /dev/zero >"$CY_TMP/max.bin"
	upload "$CY_TMP/max.bin"
	cy_status 201
}

@test "uploads need a login" {
	printf 'x' >"$CY_TMP/x"
	status_code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$CY_TMP/x" \
		"$CY_GATEWAY_URL/v1/uploads")
	cy_eq "$status_code" 401 status
}

@test "an attached upload is in /workspace (subdirectories too) when the command runs" {
	printf 'a,b\n1,2\n' >"$CY_TMP/data.csv"
	upload "$CY_TMP/data.csv"
	cy_status 201
	s1=$(jq -r .sha256 <<<"$body")
	printf 'nested\n' >"$CY_TMP/n.txt"
	upload "$CY_TMP/n.txt"
	s2=$(jq -r .sha256 <<<"$body")
	cy_api POST /v1/tasks "$(jq -cn --arg a "$s1" --arg b "$s2" '{input_mode:"commands",
		prompt:"cat data.csv; cat dir/sub/n.txt; echo more >>data.csv; ls -l data.csv | cut -c1-3",
		attachments:[{name:"data.csv",sha256:$a},{name:"dir/sub/n.txt",sha256:$b}]}')" "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_eq "$(jq -c '[.attachments[] | [.name, .size, .sha256]]' <<<"$body")" \
		"[[\"data.csv\",8,\"$s1\"],[\"dir/sub/n.txt\",7,\"$s2\"]]" attachments
	wait_result "$id"
	cy_eq "$(jq -r .status <<<"$body")" completed status
	cy_eq "$(jq -r '.jobs[0].result | fromjson | .stdout' <<<"$body")" "$(printf 'a,b\n1,2\nnested\n-rw')" stdout
	cy_api GET "/v1/tasks/$id" "" "$CY_TOKEN"
	cy_eq "$(jq -r '.attachments | length' <<<"$body")" 2 "task get attachments"
}

@test "attachment names that leave /workspace, or are not names, are refused" {
	printf 'x\n' >"$CY_TMP/x.txt"
	upload "$CY_TMP/x.txt"
	s=$(jq -r .sha256 <<<"$body")
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	for name in ../x /etc/passwd a/../../x a//b ./x "a/" "" "tab	x" 'back\slash' ..; do
		cy_api POST /v1/tasks "$(jq -cn --arg s "$s" --arg n "$name" \
			'{input_mode:"commands",prompt:"true",attachments:[{name:$n,sha256:$s}]}')" "$CY_TOKEN"
		cy_status 400
		[[ $body == *attachments* ]] || { echo "name '$name': $body" >&2; false; }
	done
	# NUL inside a name
	cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"true\",\"attachments\":[{\"name\":\"a\\u0000b\",\"sha256\":\"$s\"}]}" "$CY_TOKEN"
	cy_status 400
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$n0" tasks
}

@test "bad attachment lists are refused: strings, garbage, twice, too many, unknown or another user's upload" {
	printf 'y\n' >"$CY_TMP/y.txt"
	upload "$CY_TMP/y.txt"
	s=$(jq -r .sha256 <<<"$body")
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","attachments":["path/a.txt"]}' "$CY_TOKEN"
	cy_status 400
	[[ $body == *"/v1/uploads"* ]]
	for bad in '[1]' '[null]' '[{"name":"a"}]' "[{\"sha256\":\"$s\"}]" \
		"[{\"name\":\"a\",\"sha256\":\"$s\",\"x\":1}]" '[{"name":"a","sha256":"abc"}]' \
		"[{\"name\":\"a\",\"sha256\":\"${s^^}\"}]" '"a"' '{}'; do
		cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"true\",\"attachments\":$bad}" "$CY_TOKEN"
		cy_status 400
	done
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands",prompt:"true",
		attachments:[{name:"a",sha256:$s},{name:"a",sha256:$s}]}')" "$CY_TOKEN"
	cy_status 400
	[[ $body == *"twice"* ]]
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands",prompt:"true",
		attachments:[range(5) | {name:"f\(.)",sha256:$s}]}')" "$CY_TOKEN"
	cy_status 400
	[[ $body == *"at most 4"*"limits.attachments_max_count"* ]]
	cy_api POST /v1/tasks "$(jq -cn '{input_mode:"commands",prompt:"true",
		attachments:[{name:"a",sha256:("0"*64)}]}')" "$CY_TOKEN"
	cy_status 400
	[[ $body == *"no upload"* ]]
	# prompt tasks take no attachments
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{prompt:"hi",attachments:[{name:"a",sha256:$s}]}')" "$CY_TOKEN"
	cy_status 400
	# another user's upload cannot be attached, even knowing its hash
	id_user blobuser user >/dev/null
	id_login blobuser
	other=$access
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands",prompt:"true",
		attachments:[{name:"a",sha256:$s}]}')" "$other"
	cy_status 400
	[[ $body == *"no upload"* ]]
	# ... until they upload the same bytes themselves
	upload "$CY_TMP/y.txt" "$other"
	cy_status 201
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands",prompt:"true",
		attachments:[{name:"a",sha256:$s}]}')" "$other"
	cy_status 201
	cy_eq "$(cy_psql "SELECT count(*) FROM tasks")" "$((n0 + 1))" tasks
}

@test "total attachment bytes are capped per task" {
	head -c 3000000 /dev/urandom >"$CY_TMP/t1"
	head -c 3000000 /dev/urandom >"$CY_TMP/t2"
	upload "$CY_TMP/t1"
	a=$(jq -r .sha256 <<<"$body")
	upload "$CY_TMP/t2"
	b=$(jq -r .sha256 <<<"$body")
	cy_api POST /v1/tasks "$(jq -cn --arg a "$a" --arg b "$b" '{input_mode:"commands",prompt:"true",
		attachments:[{name:"a",sha256:$a},{name:"b",sha256:$b}]}')" "$CY_TOKEN"
	cy_status 400
	[[ $body == *"6000000 bytes"*"4194304"* ]]
}

@test "the node fetches attachments only for its own running jobs" {
	jwt=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	printf 'z\n' >"$CY_TMP/z.txt"
	upload "$CY_TMP/z.txt"
	s=$(jq -r .sha256 <<<"$body")
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands",prompt:"true",
		attachments:[{name:"z",sha256:$s}]}')" "$CY_TOKEN"
	id=$(jq -r .task_id <<<"$body")
	wait_result "$id"
	job=$(jq -r '.jobs[0].id' <<<"$body")
	# finished: no longer fetchable
	cy_api GET "$CY_CONTROL_URL/v1/nodes/jobs/$job/attachments/$s" "" "$jwt"
	cy_status 404
	cy_api GET "$CY_CONTROL_URL/v1/nodes/jobs/$job/attachments/$s" "" "$CY_TOKEN"
	[ "$status_code" = 401 ] || [ "$status_code" = 403 ]
	cy_api GET "$CY_CONTROL_URL/v1/nodes/jobs/not-a-uuid/attachments/$s" "" "$jwt"
	cy_status 404
	cy_api GET "$CY_CONTROL_URL/v1/nodes/jobs/$job/attachments/..%2f..%2fetc" "" "$jwt"
	cy_status 404
}

@test "the node refuses attachment names that leave the workspace even when the server sent them" {
	jwt=$(cat "$CY_TMP/node-node-01/state/credentials/node.jwt")
	tok=$(curl -s -m 10 -H "Authorization: Bearer $jwt" "$CY_CONTROL_URL/v1/nodes/config" |
		jq -er .worker_api.orchestrator_bearer_token)
	s=$(printf '%064d' 0)
	for name in ../escape /etc/cron.d/x a/../../b "a//b" "."; do
		jq -cn --arg n "$name" --arg s "$s" '{version:1, task_id:"task-att",
			job_id:"job-att", sandbox:{command:["/bin/true"],
			attachments:[{name:$n, sha256:$s, size:1}]}}' >"$CY_TMP/req.json"
		cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" "@$CY_TMP/req.json" "$tok"
		cy_status 400
		[[ $body == *"sandbox.attachments[0].name"* ]]
	done
	[ ! -e "$CY_TMP/escape" ]
	# a job the server does not run on this node gets no attachment: the attempt fails
	jq -cn --arg s "$s" '{version:1, task_id:"task-att", job_id:"job-att2",
		sandbox:{command:["/bin/true"], attachments:[{name:"x", sha256:$s, size:1}]}}' >"$CY_TMP/req.json"
	cy_api POST "$CY_NODE_URL/v1/worker/jobs:run" "@$CY_TMP/req.json" "$tok"
	cy_status 500
	[[ $body == *"attachment 'x'"* ]]
}

@test "the node checks what it fetched: a blob corrupted at rest fails the attempt, retried by max_attempts" {
	printf 'pristine bytes\n' >"$CY_TMP/p.txt"
	upload "$CY_TMP/p.txt"
	s=$(jq -r .sha256 <<<"$body")
	cy_psql "UPDATE blob_chunks SET data = overlay(data PLACING 'X'::bytea FROM 1 FOR 1)
		WHERE data_id = (SELECT data_id FROM blobs WHERE sha256 = '$s')" >/dev/null
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands", prompt:"cat p.txt",
		max_attempts:2, retry_backoff_seconds:0, attachments:[{name:"p.txt", sha256:$s}]}')" "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	wait_result "$id"
	cy_eq "$(jq -r .status <<<"$body")" failed status
	[[ $(jq -r '.jobs[0].result' <<<"$body") == *"attachment 'p.txt': sha256"* ]]
	cy_eq "$(cy_psql "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.task_id = '$id'")" 2 attempts
}

@test "attachments bigger than the job's own workspace fail the job for good, and leave no mount behind" {
	head -c 2500000 /dev/urandom >"$CY_TMP/w.bin"
	upload "$CY_TMP/w.bin"
	s=$(jq -r .sha256 <<<"$body")
	cy_api POST /v1/tasks "$(jq -cn --arg s "$s" '{input_mode:"commands", prompt:"true",
		max_attempts:3, resources:{workspace_mb:1}, attachments:[{name:"w.bin", sha256:$s}]}')" "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	wait_result "$id"
	cy_eq "$(jq -r .status <<<"$body")" failed status
	job=$(jq -r '.jobs[0].id' <<<"$body")
	[[ $(jq -r '.jobs[0].result' <<<"$body") == *"do not fit in the job's 1 MiB workspace"* ]]
	cy_eq "$(cy_psql "SELECT count(*) FROM job_attempts WHERE job_id = '$job'")" 1 attempts
	! grep -q " $CY_TMP/node-node-01/mounts/$job/workspace " /proc/mounts
}
