#!/usr/bin/env bats
#
# queues.bats: queues, fair share and resource packing with the real
# server, PostgreSQL and a node running jobs in
# bubblewrap: jobs reserve the CPUs they ask for and never overfill the
# node, a request no node can meet is refused with the numbers, a queue's
# priority and its limits (per queue and per user) hold, one user's long
# backlog does not starve another user's single job (the starvation test),
# queue show explains the order, and garbage is refused.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	# RETENTION_INTERVAL: the chores (the load counters' check among them)
	# every second.
	cy_server_start RETENTION_INTERVAL=1s
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
	cy_node_start node-01 sandbox.max_concurrency=4
	TOKEN=$(cy_admin_token)
	ALICE=$(curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"alice",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	CPUS=$(cy_psql "SELECT capability_snapshot->'compute'->>'cpu_cores' FROM node_capabilities")
	export TOKEN ALICE CPUS
}

# job SCRIPT [EXTRA_JSON [TOKEN]]: a commands task; $id its id
job()
{
	cy_api POST /v1/tasks "$(jq -cn --arg s "$1" --argjson x "${2:-{\}}" \
		'{input_mode:"commands", prompt:$s} + $x')" "${3:-$TOKEN}"
	cy_status 201 || return 1
	id=$(jq -r .task_id <<<"$body")
}

# wait_done ID...: waits until every task ended
wait_done()
{
	local t

	for t in "$@"; do
		cy_api GET "/v1/tasks/$t/result?wait=60" "" "$TOKEN"
		[ "$(jq -r .status <<<"$body")" = completed ] || {
			echo "task $t: $body" >&2
			return 1
		}
	done
}

# overlap IDS: the most of these tasks' jobs that ran at the same time
overlap()
{
	cy_psql "WITH j AS (SELECT started_at s, ended_at e FROM jobs
			WHERE task_id = ANY('{$1}'::uuid[]))
		SELECT max((SELECT count(*) FROM j b WHERE b.s <= a.s AND b.e > a.s)) FROM j a"
}

# hold / release: drain the node so that what is created next queues up,
# then let it run (task creation here can be slower than short jobs).
hold()
{
	cy_api POST /v1/nodes/node-01/drain '{"reason":"test"}' "$TOKEN"
	cy_status 200
}

release()
{
	cy_api POST /v1/nodes/node-01/undrain '{}' "$TOKEN"
	cy_status 200
}

queue()
{
	cy_api "$1" "$2" "${3:-}" "${4:-$TOKEN}"
}

@test "packing: jobs reserve the CPUs they ask for; the node never runs more than it has" {
	[ "$CPUS" -ge 1 ]
	hold
	ids=()
	for i in 1 2 3 4; do
		job 'sleep 1' '{"resources":{"cpu_cores":1}}'
		ids+=("$id")
	done
	release
	wait_done "${ids[@]}"
	want=$((CPUS < 4 ? CPUS : 4))
	[ "$(overlap "$(IFS=,; echo "${ids[*]}")")" = "$want" ]
	# Jobs that ask for nothing only take a slot: all four run together.
	hold
	ids=()
	for i in 1 2 3 4; do
		job 'sleep 1'
		ids+=("$id")
	done
	release
	wait_done "${ids[@]}"
	[ "$(overlap "$(IFS=,; echo "${ids[*]}")")" = 4 ]
}

@test "packing: the nodes' load counters follow starts, ends and cancels exactly" {
	hold
	ids=()
	for i in 1 2 3 4 5 6; do
		job 'sleep 2' '{"resources":{"cpu_cores":1,"memory_mb":64}}'
		ids+=("$id")
	done
	release
	for i in $(seq 100); do
		[ "$(cy_psql "SELECT count(*) FROM jobs WHERE status = 'running'")" -ge 1 ] && break
		sleep 0.2
	done
	[ "$(cy_load_drift)" = 0 ]
	cy_api POST "/v1/tasks/${ids[0]}/cancel" '{}' "$TOKEN"
	cy_status 200
	[ "$(cy_load_drift)" = 0 ]
	for t in "${ids[@]:1}"; do
		cy_api GET "/v1/tasks/$t/result?wait=60" "" "$TOKEN"
	done
	[ "$(cy_load_drift)" = 0 ]
	[ "$(cy_psql "SELECT count(*) FROM jobs WHERE status = 'running'")" = 0 ]
	# Six starts and five ends, with the node holding four at a time: the
	# later claims folded the earlier deltas into the base rows.
	[ "$(cy_psql "SELECT count(*) FROM node_load_delta")" -lt 12 ]
}

@test "packing: counters changed behind the trigger's back are corrected by the chores, loudly" {
	# A node that looks full by 100 jobs that do not exist, and a delta of
	# a node that does not exist.
	cy_psql "INSERT INTO node_load (node_id, running, cpus) SELECT id, 100, 100 FROM nodes
		WHERE node_slug = 'node-01' ON CONFLICT (node_id) DO UPDATE
		SET running = node_load.running + 100, cpus = node_load.cpus + 100;
		INSERT INTO node_load_delta VALUES (gen_random_uuid(), 1, 0, 1, 0)"
	# (Not checked here that the drift shows: the chores run every second and
	# may already have corrected it; the log line below says they found it.)
	for i in $(seq 50); do
		grep -q 'event=node_load_corrected' "$CY_TMP/server.log" && break
		sleep 0.2
	done
	run grep 'event=node_load_corrected' "$CY_TMP/server.log"
	assert_output --partial 'nodes=1'
	[ "$(cy_load_drift)" = 0 ]
	[ "$(cy_psql "SELECT count(*) FROM node_load_delta d
		WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = d.node_id)")" = 0 ]
	# And the node takes jobs again.
	job true
	wait_done "$id"
}

@test "packing: a request no node can meet is refused with the numbers, or waits with allow_pending" {
	cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"true\",\"resources\":{\"cpu_cores\":$((CPUS + 1))}}" "$TOKEN"
	cy_status 400
	[[ $body == *"needs cpus=$((CPUS + 1)), the largest node has $CPUS"* ]]
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","resources":{"memory_mb":16777216}}' "$TOKEN"
	cy_status 400
	[[ $body == *"needs memory=16777216MiB, the largest node has"* ]]
	job true "{\"resources\":{\"cpu_cores\":$((CPUS + 1))},\"allow_pending\":true}"
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	jq -e '.job.pending_reason | startswith("NoMatchingNode: needs cpus=")' <<<"$body"
	cy_api POST "/v1/tasks/$id/cancel" '{}' "$TOKEN"
}

@test "queues: admins create, change and delete them; everyone lists; garbage is refused" {
	queue POST /v1/queues '{"name":"batch","priority":-10,"max_running":2,"description":"nightly"}'
	cy_status 201
	jq -e '.name == "batch" and .priority == -10 and .max_running == 2
		and .max_running_per_user == null and .queued == 0' <<<"$body"
	queue POST /v1/queues '{"name":"batch"}'
	cy_status 409
	queue PATCH /v1/queues/batch '{"max_running":null,"max_running_per_user":3}'
	cy_status 200
	jq -e '.max_running == null and .max_running_per_user == 3 and .priority == -10
		and .description == "nightly"' <<<"$body"
	queue GET /v1/queues "" "$ALICE"
	cy_status 200
	jq -e '[.queues[].name] == ["batch", "default"]' <<<"$body"
	# Only admins change queues.
	queue POST /v1/queues '{"name":"mine"}' "$ALICE"
	cy_status 403
	queue PATCH /v1/queues/batch '{"priority":5}' "$ALICE"
	cy_status 403
	queue DELETE /v1/queues/batch "" "$ALICE"
	cy_status 403
	# Garbage.
	for b in '{"name":"Batch"}' '{"name":"1q"}' '{"name":""}' '{"name":"a b"}' \
		'{"name":"q","priority":1001}' '{"name":"q","max_running":0}' \
		'{"name":"q","max_running_per_user":-1}' '{"name":"q","max_running":"2"}' \
		'{"name":"q","bogus":1}' '{}' '[]' 'nope' \
		"{\"name\":\"$(head -c 64 /dev/zero | tr '\0' q)\"}"; do
		queue POST /v1/queues "$b"
		cy_status 400 || { echo "accepted: $b" >&2; false; }
	done
	queue PATCH /v1/queues/nosuch '{"priority":1}'
	cy_status 404
	queue PATCH /v1/queues/BAD '{"priority":1}'
	cy_status 400
	queue GET /v1/queues/nosuch
	cy_status 404
	queue GET "/v1/queues/default?limit=0"
	cy_status 400
	queue GET "/v1/queues/default?limit=x"
	cy_status 400
	# default stays; a queue with live jobs stays; then it goes, audited.
	queue DELETE /v1/queues/default
	cy_status 409
	job 'sleep 2' '{"queue":"batch"}'
	long=$id
	queue DELETE /v1/queues/batch
	cy_status 409
	[[ $body == *"still has 1 queued or running"* ]]
	wait_done "$long"
	queue DELETE /v1/queues/batch
	cy_status 204
	queue DELETE /v1/queues/batch
	cy_status 404
	[ "$(cy_psql "SELECT string_agg(action, ',' ORDER BY created_at) FROM admin_audit_log
		WHERE target = 'batch'")" = "queue.create,queue.update,queue.delete" ]
	# A task naming an unknown or malformed queue is refused.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","queue":"batch"}' "$TOKEN"
	cy_status 400
	[[ $body == *"no queue named 'batch'"* ]]
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","queue":"No!"}' "$TOKEN"
	cy_status 400
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","queue":7}' "$TOKEN"
	cy_status 400
}

@test "queue limits: max_running and max_running_per_user hold; the pending reason says QueueLimit" {
	queue POST /v1/queues '{"name":"one","max_running":1}'
	cy_status 201
	ids=()
	for i in 1 2 3; do
		job 'sleep 1' '{"queue":"one"}'
		ids+=("$id")
	done
	for i in $(seq 1 50); do
		cy_api GET "/v1/tasks/${ids[2]}" "" "$TOKEN"
		jq -e '.job.pending_reason | startswith("QueueLimit: queue one runs its max_running=1")' \
			<<<"$body" >/dev/null && break
		sleep 0.1
	done
	jq -e '.job.pending_reason | startswith("QueueLimit: queue one runs its max_running=1")' \
		<<<"$body" || { echo "$body" >&2; false; }
	wait_done "${ids[@]}"
	[ "$(overlap "$(IFS=,; echo "${ids[*]}")")" = 1 ]
	# Per user: each of two users runs one at a time, both run together.
	queue POST /v1/queues '{"name":"peruser","max_running_per_user":1}'
	cy_status 201
	mine=() theirs=()
	for i in 1 2 3; do
		job 'sleep 1' '{"queue":"peruser"}'
		mine+=("$id")
		job 'sleep 1' '{"queue":"peruser"}' "$ALICE"
		theirs+=("$id")
	done
	wait_done "${mine[@]}" "${theirs[@]}"
	[ "$(overlap "$(IFS=,; echo "${mine[*]}")")" = 1 ]
	[ "$(overlap "$(IFS=,; echo "${theirs[*]}")")" = 1 ]
	[ "$(overlap "$(IFS=,; echo "${mine[*]},${theirs[*]}")")" = 2 ]
}

@test "queue priority: a job in a higher-priority queue runs before the default queue's backlog" {
	queue POST /v1/queues '{"name":"urgent","priority":100}'
	cy_status 201
	# A backlog queued first, then the urgent job: it starts first.
	hold
	ids=()
	for i in 1 2 3 4 5 6 7 8; do
		job 'sleep 1'
		ids+=("$id")
	done
	job 'true' '{"queue":"urgent"}'
	urgent=$id
	release
	wait_done "${ids[@]}" "$urgent"
	[ "$(cy_psql "SELECT priority FROM jobs WHERE task_id = '$urgent'")" = 100 ]
	[ "$(cy_psql "SELECT count(*) FROM jobs b, jobs u WHERE u.task_id = '$urgent'
		AND b.task_id = ANY('{$(IFS=,; echo "${ids[*]}")}'::uuid[])
		AND b.started_at < u.started_at")" = 0 ]
}

@test "fair share: one user's backlog of 40 does not starve another user's single job" {
	hold
	ids=()
	for i in $(seq 1 40); do
		job 'sleep 0.3'
		ids+=("$id")
	done
	job 'true' '{}' "$ALICE"
	single=$id
	# queue show explains the order: the single job is second, after the
	# head of the backlog it shares the virtual time with.
	cy_api GET "/v1/queues/default?limit=10" "" "$ALICE"
	cy_status 200
	jq -e '[.head[] | select(.mine)] | length == 1 and .[0].position == 2' <<<"$body" ||
		{ echo "$body" >&2; false; }
	jq -e '.queued == 41 and .head[0].pending_reason == "NodesUnavailable: the nodes that fit are drained, disabled or offline"' <<<"$body"
	# Alice sees her own job's task, not the admin's.
	jq -e '[.head[] | select(.mine | not) | .task_id, .owner] | all(. == null)' <<<"$body"
	jq -e --arg t "$single" '[.head[] | select(.mine)][0].task_id == $t' <<<"$body"
	jq -e '[.users[] | select(.mine)][0].owner == "alice" and ([.users[] | select(.mine | not)][0].owner == null)' <<<"$body"
	# The admin sees every owner.
	cy_api GET "/v1/queues/default?limit=3" "" "$TOKEN"
	jq -e '[.head[].owner] == ["admin", "alice", "admin"]' <<<"$body"
	release
	cy_api GET "/v1/tasks/$single/result?wait=60" "" "$ALICE"
	[ "$(jq -r .status <<<"$body")" = completed ]
	# It started after at most a few of the backlog, not after all 40.
	before=$(cy_psql "SELECT count(*) FROM jobs b, jobs s WHERE s.task_id = '$single'
		AND b.task_id = ANY('{$(IFS=,; echo "${ids[*]}")}'::uuid[])
		AND b.started_at < s.started_at")
	[ "$before" -le 1 ] || { echo "$before of the backlog ran first" >&2; false; }
	for t in "${ids[@]}"; do cy_api POST "/v1/tasks/$t/cancel" '{}' "$TOKEN"; done
}

@test "GPUs: one GPU runs one gpus=1 job at a time; gpu_model and nodes select; garbage refused" {
	local bin=$CY_TMP/fakebin
	mkdir -p "$bin"
	# A stand-in for nvidia-smi (as tests/node/capability.bats): one RTX 3090.
	cat >"$bin/nvidia-smi" <<-'SH'
	#!/bin/sh
	echo "NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 20000, 8.6"
	SH
	chmod 0755 "$bin/nvidia-smi"
	PATH=$bin:$PATH cy_node_start node-gpu sandbox.max_concurrency=4
	for _ in $(seq 1 100); do
		[ "$(cy_psql "SELECT c.capability_snapshot->'gpu'->'present' FROM node_capabilities c
			JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-gpu'")" = true ] && break
		sleep 0.1
	done
	ids=()
	for i in 1 2 3; do
		job 'sleep 1' '{"requirements":{"gpus":1}}'
		ids+=("$id")
	done
	# A GPU model alone reserves one GPU of it.
	job 'sleep 1; echo on-3090' '{"requirements":{"gpu_model":"rtx 3090"}}'
	ids+=("$id")
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	jq -e '.job.requirements.gpus == 1 and .job.requirements.gpu_model == "rtx 3090"' <<<"$body"
	wait_done "${ids[@]}"
	[ "$(overlap "$(IFS=,; echo "${ids[*]}")")" = 1 ]
	[ "$(cy_psql "SELECT DISTINCT n.node_slug FROM jobs j JOIN nodes n ON n.id = j.node_id
		WHERE j.task_id = ANY('{$(IFS=,; echo "${ids[*]}")}'::uuid[])")" = node-gpu ]
	# gpu_model alone asks for one GPU of that model.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","requirements":{"gpu_model":"A100"}}' "$TOKEN"
	cy_status 400
	[[ $body == *"needs gpus=1 of model A100, the most a node has is 0"* ]]
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","requirements":{"gpus":2,"gpu_model":"nvidia"}}' "$TOKEN"
	cy_status 400
	[[ $body == *"needs gpus=2"* ]]
	# nodes: only these.
	for n in node-01 node-gpu; do
		job 'true' "{\"requirements\":{\"nodes\":[\"$n\"]}}"
		wait_done "$id"
		[ "$(cy_psql "SELECT n.node_slug FROM jobs j JOIN nodes n ON n.id = j.node_id
			WHERE j.task_id = '$id'")" = "$n" ]
	done
	cy_api GET "/v1/tasks/$id" "" "$TOKEN"
	jq -e '.job.requirements.nodes == ["node-gpu"] and .job.requirements.gpu_model == null
		and .job.queue == "default"' <<<"$body"
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","requirements":{"nodes":["nosuch"]}}' "$TOKEN"
	cy_status 400
	[[ $body == *"needs one of the nodes nosuch: none is registered"* ]]
	for r in '{"nodes":[]}' '{"nodes":["Bad_Slug"]}' '{"nodes":"node-01"}' '{"nodes":[1]}' \
		'{"gpu_model":""}' '{"gpu_model":7}' "{\"gpu_model\":\"$(head -c 129 /dev/zero | tr '\0' x)\"}" \
		'{"gpu_model":"a\u0001b"}'; do
		cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"true\",\"requirements\":$r}" "$TOKEN"
		cy_status 400 || { echo "accepted: $r" >&2; false; }
	done
	cy_node_stop node-gpu
}
