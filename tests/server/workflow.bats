#!/usr/bin/env bats
#
# Workflow leases (POST /v1/workflow/{start,resume,checkpoint,release}, on the
# gateway and on the control plane where contract.md puts them) with
# the real server and PostgreSQL: every line of the reference's
# workflow_start_resume_lease.feature, lease expiry and takeover (audited),
# 20 holders racing for one task (exactly one wins), checkpoints and
# releases by a non-holder, unknown tasks and runs, garbage bodies naming
# the field, the runner token (missing, wrong, a user's token, unconfigured:
# 503, never open), its file's checks, and the token configured as its
# SHA-256 only (workflow.runner_token_sha256).

load ../lib/harness
bats_require_minimum_version 1.5.0

RUNNER_TOKEN=wf-runner-token-0123456789abcdef
ZERO=00000000-0000-0000-0000-000000000000

setup_file()
{
	cy_setup_file
	cy_pg_start
	WF_TOKEN_FILE=$CY_TMP/wf-token
	(umask 077 && printf '%s\n' "$RUNNER_TOKEN" >"$WF_TOKEN_FILE")
	cy_server_start "WORKFLOW_RUNNER_BEARER_TOKEN_FILE=$WF_TOKEN_FILE"
	TOKEN=$(cy_admin_token)
	export TOKEN WF_TOKEN_FILE
}

teardown_file()
{
	cy_teardown_file
}

# task NAME: creates a task (queued: no node runs it) and prints its id.
task()
{
	cy_api POST /v1/tasks "$(jq -cn --arg n "$1" '{prompt:"true",input_mode:"commands",task_name:$n}')" "$TOKEN"
	cy_status 201 >&2 || return 1
	jq -r .task_id <<<"$body"
}

# wf VERB JSON [TOKEN]: POST /v1/workflow/VERB with the runner token.
wf()
{
	cy_api POST "/v1/workflow/$1" "$2" "${3-$RUNNER_TOKEN}"
}

detail()
{
	jq -r '.detail // empty' <<<"$body"
}

@test "feature: start returns a run id; the same holder again is already_running; another holder 409" {
	local t run
	t=$(task feat-start)
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-a\"}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	[[ $run =~ ^[0-9a-f-]{36}$ ]]
	cy_eq "$(jq -r .status <<<"$body")" started status
	cy_eq "$(jq -r .holder <<<"$body")" runner-a holder
	[[ $(jq -r .lease_expires_at <<<"$body") =~ ^20[0-9-]+T[0-9:]+Z$ ]]
	# The configured default lease (5m).
	cy_eq "$(jq -r .lease_seconds <<<"$body")" 300 lease_seconds
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-a\"}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" already_running status
	cy_eq "$(jq -r .run_id <<<"$body")" "$run" run_id
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-b\"}"
	cy_status 409
	[[ $(detail) == *"held by 'runner-a'"* ]]
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t'")" 1 runs
}

@test "feature: resume returns the last checkpoint (last_node_id plan_steps) and its state" {
	local t run
	t=$(task feat-resume)
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-a\",\"lease_seconds\":60}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	wf resume "{\"task_id\":\"$t\",\"holder\":\"runner-a\"}"
	cy_status 200
	cy_eq "$(jq -r .last_node_id <<<"$body")" null "last_node_id before any checkpoint"
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\",\"node_id\":\"load_task\"}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" checkpointed status
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\",\"node_id\":\"plan_steps\",\"state\":{\"steps\":[1,2,3],\"note\":\"x\"}}"
	cy_status 200
	wf resume "{\"task_id\":\"$t\",\"holder\":\"runner-a\"}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" resumed status
	cy_eq "$(jq -r .run_id <<<"$body")" "$run" run_id
	cy_eq "$(jq -r .last_node_id <<<"$body")" plan_steps last_node_id
	cy_eq "$(jq -c .state <<<"$body")" '{"note":"x","steps":[1,2,3]}' state
	cy_eq "$(jq -r .taken_over <<<"$body")" false taken_over
	# The lease the resume asked for.
	wf resume "{\"task_id\":\"$t\",\"holder\":\"runner-a\",\"lease_seconds\":90}"
	cy_status 200
	cy_eq "$(jq -r .lease_seconds <<<"$body")" 90 lease_seconds
	# A checkpoint without state clears the state.
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\",\"node_id\":\"run_step.2\"}"
	cy_status 200
	cy_eq "$(jq -r .state <<<"$body")" null state
	cy_eq "$(jq -r .last_node_id <<<"$body")" run_step.2 last_node_id
}

@test "feature: release lets another holder start (a new run); the old run stays released" {
	local t run run2
	t=$(task feat-release)
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-a\"}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	# Only the holder releases.
	wf release "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-b\"}"
	cy_status 409
	wf release "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\"}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" released status
	cy_eq "$(jq -r .run_status <<<"$body")" released run_status
	[ "$(jq -r .released_at <<<"$body")" != null ]
	# Twice is answered as once.
	wf release "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\"}"
	cy_status 200
	wf start "{\"task_id\":\"$t\",\"holder\":\"runner-b\"}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" started status
	run2=$(jq -r .run_id <<<"$body")
	[ "$run2" != "$run" ]
	# The released run takes no checkpoint; nothing runs for resume after a release.
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"runner-a\",\"node_id\":\"late\"}"
	cy_status 409
	[[ $(detail) == *released* ]]
	wf release "{\"task_id\":\"$t\",\"run_id\":\"$run2\",\"holder\":\"runner-b\"}"
	cy_status 200
	wf resume "{\"task_id\":\"$t\",\"holder\":\"runner-b\"}"
	cy_status 404
	[[ $(detail) == *"no workflow run is running"* ]]
}

@test "an expired lease is taken over by start: same run and checkpoint, audited; the old holder is out" {
	local t run
	t=$(task expiry-start)
	wf start "{\"task_id\":\"$t\",\"holder\":\"crashy\",\"lease_seconds\":1}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"crashy\",\"node_id\":\"step_1\",\"state\":{\"i\":1}}"
	cy_status 200
	# Not yet expired: 409.
	wf start "{\"task_id\":\"$t\",\"holder\":\"rescuer\"}"
	cy_status 409
	sleep 2.2
	wf start "{\"task_id\":\"$t\",\"holder\":\"rescuer\",\"lease_seconds\":30}"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" started status
	cy_eq "$(jq -r .taken_over <<<"$body")" true taken_over
	cy_eq "$(jq -r .run_id <<<"$body")" "$run" run_id
	cy_eq "$(jq -r .last_node_id <<<"$body")" step_1 last_node_id
	cy_eq "$(jq -r .takeovers <<<"$body")" 1 takeovers
	cy_eq "$(cy_psql "SELECT actor_handle || ' ' || (details->>'from_holder') || ' ' || (details->>'to_holder') || ' ' || (details->>'run_id')
		FROM admin_audit_log WHERE action = 'workflow.takeover' AND target = '$t'")" \
		"workflow-runner crashy rescuer $run" audit
	grep -q 'workflow_takeover' "$CY_TMP/server.log"
	# The crashed holder comes back: its checkpoint and release are refused.
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"crashy\",\"node_id\":\"step_2\"}"
	cy_status 409
	[[ $(detail) == *"held by 'rescuer'"* ]]
	wf release "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"crashy\"}"
	cy_status 409
	wf start "{\"task_id\":\"$t\",\"holder\":\"crashy\"}"
	cy_status 409
	cy_eq "$(cy_psql "SELECT last_node_id FROM workflow_runs WHERE id = '$run'")" step_1 "stored checkpoint"
}

@test "after a crash: the same holder resumes at once, another only once the lease expired" {
	local t run
	t=$(task expiry-resume)
	wf start "{\"task_id\":\"$t\",\"holder\":\"w1\",\"lease_seconds\":1}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"w1\",\"node_id\":\"plan_steps\",\"state\":{\"k\":\"v\"}}"
	cy_status 200
	wf resume "{\"task_id\":\"$t\",\"holder\":\"w2\"}"
	cy_status 409
	wf resume "{\"task_id\":\"$t\",\"holder\":\"w1\",\"lease_seconds\":1}"
	cy_status 200
	cy_eq "$(jq -r .taken_over <<<"$body")" false taken_over
	sleep 2.2
	wf resume "{\"task_id\":\"$t\",\"holder\":\"w2\",\"lease_seconds\":60}"
	cy_status 200
	cy_eq "$(jq -r .taken_over <<<"$body")" true taken_over
	cy_eq "$(jq -r .holder <<<"$body")" w2 holder
	cy_eq "$(jq -r .last_node_id <<<"$body")" plan_steps last_node_id
	cy_eq "$(jq -c .state <<<"$body")" '{"k":"v"}' state
	cy_eq "$(cy_psql "SELECT details->>'by' FROM admin_audit_log WHERE action = 'workflow.takeover' AND target = '$t'")" resume audit
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"w2\",\"node_id\":\"next\"}"
	cy_status 200
}

@test "a checkpoint renews the lease; an expired holder nobody took over may still checkpoint" {
	local t run e1 e2
	t=$(task renew)
	wf start "{\"task_id\":\"$t\",\"holder\":\"slow\",\"lease_seconds\":1}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	sleep 2.2
	e1=$(cy_psql "SELECT lease_expires_at <= now() FROM workflow_runs WHERE id = '$run'")
	cy_eq "$e1" t "expired before"
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"slow\",\"node_id\":\"s\"}"
	cy_status 200
	e2=$(cy_psql "SELECT lease_expires_at > now() FROM workflow_runs WHERE id = '$run'")
	cy_eq "$e2" t "renewed after"
	wf start "{\"task_id\":\"$t\",\"holder\":\"other\"}"
	cy_status 409
}

@test "a failing write is a 500 that leaves nothing behind: insert, audit of a takeover, checkpoint at commit" {
	local t run
	t=$(task db-fail)
	cy_refuse workflow_runs "NEW.holder = 'doomed'"
	wf start "{\"task_id\":\"$t\",\"holder\":\"doomed\"}"
	cy_refuse_end workflow_runs
	cy_status 500
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t'")" 0 runs
	wf start "{\"task_id\":\"$t\",\"holder\":\"first\",\"lease_seconds\":1}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"first\",\"node_id\":\"kept\"}"
	cy_status 200
	sleep 2.2
	# The takeover and its audit row commit together, or neither does.
	cy_refuse admin_audit_log "NEW.action = 'workflow.takeover'"
	wf start "{\"task_id\":\"$t\",\"holder\":\"second\"}"
	cy_refuse_end admin_audit_log
	cy_status 500
	cy_eq "$(cy_psql "SELECT holder || ' ' || takeovers FROM workflow_runs WHERE id = '$run'")" "first 0" "run after a failed takeover"
	# A checkpoint refused at commit is not stored.
	cy_refuse workflow_runs "NEW.last_node_id = 'lost'" deferred
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"first\",\"node_id\":\"lost\"}"
	cy_refuse_end workflow_runs
	cy_status 500
	cy_eq "$(cy_psql "SELECT last_node_id FROM workflow_runs WHERE id = '$run'")" kept last_node_id
	wf start "{\"task_id\":\"$t\",\"holder\":\"second\"}"
	cy_status 200
	cy_eq "$(jq -r .taken_over <<<"$body")" true taken_over
}

@test "20 holders start one task at once: exactly one 200, nineteen 409, one run" {
	local t i
	t=$(task race)
	mkdir -p "$CY_TMP/race"
	for i in $(seq 1 20); do
		curl -s -m 30 -o "$CY_TMP/race/$i.body" -w '%{http_code}\n' -X POST \
			-H "Authorization: Bearer $RUNNER_TOKEN" -H 'Content-Type: application/json' \
			--data-binary "{\"task_id\":\"$t\",\"holder\":\"racer-$i\"}" \
			"$CY_GATEWAY_URL/v1/workflow/start" >"$CY_TMP/race/$i.code" &
	done
	wait
	cy_eq "$(cat "$CY_TMP"/race/*.code | grep -c '^200$')" 1 "200s"
	cy_eq "$(cat "$CY_TMP"/race/*.code | grep -c '^409$')" 19 "409s"
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t'")" 1 runs
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t' AND status = 'running'")" 1 running
}

@test "20 holders race to take over one expired lease: exactly one takes it, one audit row" {
	local t i run
	t=$(task race-takeover)
	wf start "{\"task_id\":\"$t\",\"holder\":\"gone\",\"lease_seconds\":1}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	sleep 2.2
	mkdir -p "$CY_TMP/race2"
	for i in $(seq 1 20); do
		curl -s -m 30 -o "$CY_TMP/race2/$i.body" -w '%{http_code}\n' -X POST \
			-H "Authorization: Bearer $RUNNER_TOKEN" -H 'Content-Type: application/json' \
			--data-binary "{\"task_id\":\"$t\",\"holder\":\"heir-$i\",\"lease_seconds\":60}" \
			"$CY_GATEWAY_URL/v1/workflow/$([ $((i % 2)) = 0 ] && echo start || echo resume)" \
			>"$CY_TMP/race2/$i.code" &
	done
	wait
	cy_eq "$(cat "$CY_TMP"/race2/*.code | grep -c '^200$')" 1 "200s"
	cy_eq "$(cat "$CY_TMP"/race2/*.code | grep -c '^409$')" 19 "409s"
	cy_eq "$(cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'workflow.takeover' AND target = '$t'")" 1 audits
	cy_eq "$(cy_psql "SELECT takeovers || ' ' || (holder LIKE 'heir-%') FROM workflow_runs WHERE id = '$run'")" "1 true" run
}

@test "unknown task 404; unknown run 404; a run of another task 404" {
	local t1 t2 run
	wf start "{\"task_id\":\"$ZERO\",\"holder\":\"a\"}"
	cy_status 404
	[[ $(detail) == *"task $ZERO not found"* ]]
	wf resume "{\"task_id\":\"$ZERO\",\"holder\":\"a\"}"
	cy_status 404
	t1=$(task unknown-1)
	t2=$(task unknown-2)
	wf start "{\"task_id\":\"$t1\",\"holder\":\"a\"}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	wf checkpoint "{\"task_id\":\"$t1\",\"run_id\":\"$ZERO\",\"holder\":\"a\",\"node_id\":\"n\"}"
	cy_status 404
	wf checkpoint "{\"task_id\":\"$t2\",\"run_id\":\"$run\",\"holder\":\"a\",\"node_id\":\"n\"}"
	cy_status 404
	wf release "{\"task_id\":\"$t2\",\"run_id\":\"$run\",\"holder\":\"a\"}"
	cy_status 404
	wf release "{\"task_id\":\"$ZERO\",\"run_id\":\"$run\",\"holder\":\"a\"}"
	cy_status 404
	# A deleted task takes its runs along.
	cy_psql "DELETE FROM tasks WHERE id = '$t1'"
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE id = '$run'")" 0 runs
}

# bad VERB BASE: each line "WORDS|JQ" of stdin edits BASE into a body that
# must be 400 with WORDS in the detail; BASE itself must not be 400.
bad()
{
	local verb=$1 base=$2 words edit b n=0

	while IFS='|' read -r words edit; do
		[ -n "$words" ] || continue
		b=$(jq -c "$edit" <<<"$base")
		wf "$verb" "$b"
		cy_status 400 || { echo "edit: $edit"; return 1; }
		[[ $(detail) == *"$words"* ]] || { echo "$verb $b: detail '$(detail)' lacks '$words'"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
	wf "$verb" "$base"
	[ "$status_code" != 400 ] || { echo "base refused: $body"; return 1; }
}

@test "garbage bodies are 400 naming the field" {
	local t run
	t=$(task garbage)
	wf start "{\"task_id\":\"$t\",\"holder\":\"g\"}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	for verb in start resume; do
		bad $verb "{\"task_id\":\"$t\",\"holder\":\"g\"}" <<'EOT'
task_id is required|del(.task_id)
task_id must be a UUID|.task_id = "nope"
task_id must be|.task_id = 5
holder is required|del(.holder)
holder must be 1 to 128|.holder = ""
holder must be 1 to 128|.holder = ("h" * 129)
holder must be 1 to 128|.holder = "-leading-dash"
holder must be 1 to 128|.holder = "sp ace"
holder must be 1 to 128|.holder = "new\nline"
holder must be|.holder = 7
lease_seconds must be|.lease_seconds = 0
lease_seconds must be|.lease_seconds = 86401
lease_seconds must be|.lease_seconds = "60"
lease_seconds must be|.lease_seconds = 1.5
unknown field 'holdr'|.holdr = "g"
EOT
	done
	bad checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"g\",\"node_id\":\"n1\"}" <<'EOT'
run_id is required|del(.run_id)
run_id must be a UUID|.run_id = "x"
node_id is required|del(.node_id)
node_id must be 1 to 128|.node_id = ""
node_id must be 1 to 128|.node_id = "a/b"
node_id must be 1 to 128|.node_id = ("n" * 129)
node_id must be|.node_id = []
state must be|.state = [1]
state must be|.state = "s"
state must be|.state = 3
state is larger than 65536 bytes|.state = {big: ("x" * 70000)}
unknown field 'step'|.step = "n1"
holder is required|del(.holder)
task_id must be a UUID|.task_id = ""
EOT
	# A state of exactly 64 KiB of compact JSON is taken, however many members it
	# has (its jsonb text form is larger); one byte more is refused.
	jq -cn --arg t "$t" --arg r "$run" '{task_id:$t, run_id:$r, holder:"g", node_id:"n2",
		state:{a:([range(32763) | 1] + [10])}}' >"$CY_TMP/dense.json"
	cy_eq "$(jq -cj .state "$CY_TMP/dense.json" | wc -c)" 65536 "compact size"
	wf checkpoint "@$CY_TMP/dense.json"
	cy_status 200
	cy_eq "$(jq '.state.a | length' <<<"$body")" 32764 "dense state"
	jq -c '.state.a[-1] = 100' "$CY_TMP/dense.json" >"$CY_TMP/dense2.json"
	wf checkpoint "@$CY_TMP/dense2.json"
	cy_status 400
	[[ $(detail) == *"state is larger than 65536 bytes"* ]]
	wf checkpoint "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"g\",\"node_id\":\"n1\"}"
	cy_status 200
	bad release "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"g\"}" <<'EOT'
run_id is required|del(.run_id)
run_id must be a UUID|.run_id = 1
holder must be|.holder = null
unknown field 'state'|.state = {}
EOT
	# Not JSON, not an object, too large.
	wf start 'not json'
	cy_status 400
	wf start '[1]'
	cy_status 400
	jq -cn --arg t "$t" --arg r "$run" '{task_id:$t, run_id:$r, holder:"g", node_id:"n", state:{b:("x" * 140000)}}' >"$CY_TMP/big.json"
	wf checkpoint "@$CY_TMP/big.json"
	cy_status 413
	# Nothing of this reached the run.
	cy_eq "$(cy_psql "SELECT coalesce(last_node_id, '-') FROM workflow_runs WHERE id = '$run'")" n1 last_node_id
}

@test "the runner token: none 401, wrong 401, a user's login or API token 401" {
	local t admin_api
	t=$(task tokens)
	for v in start resume checkpoint release; do
		wf $v "{\"task_id\":\"$t\",\"holder\":\"x\"}" ""
		cy_status 401
		[[ $(detail) == *"Missing authorization"* ]]
		wf $v "{\"task_id\":\"$t\",\"holder\":\"x\"}" "${RUNNER_TOKEN}x"
		cy_status 401
		wf $v "{\"task_id\":\"$t\",\"holder\":\"x\"}" "${RUNNER_TOKEN:0:20}"
		cy_status 401
		wf $v "{\"task_id\":\"$t\",\"holder\":\"x\"}" "$TOKEN"
		cy_status 401
	done
	cy_api POST /v1/tokens '{"name":"wf-admin","scopes":["admin"]}' "$TOKEN"
	cy_status 201
	admin_api=$(jq -r .token <<<"$body")
	wf start "{\"task_id\":\"$t\",\"holder\":\"x\"}" "$admin_api"
	cy_status 401
	# The runner token opens nothing else.
	cy_api GET /v1/tasks "" "$RUNNER_TOKEN"
	cy_status 401
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t'")" 0 runs
	# The token is never logged.
	! grep -q "$RUNNER_TOKEN" "$CY_TMP/server.log"
}

@test "--routes: the workflow routes have their own auth kind" {
	run "$CY_BUILD/cynode-server" --routes
	assert_success
	assert_output --partial "$(printf 'gateway\tPOST\t/v1/workflow/start\tworkflow\t-\t-')"
	assert_output --partial "$(printf 'gateway\tPOST\t/v1/workflow/checkpoint\tworkflow\t-\t-')"
	run awk -F'\t' '$4 == "workflow" { print $1, $2, $3 }' <<<"$output"
	assert_output "gateway POST /v1/workflow/start
gateway POST /v1/workflow/resume
gateway POST /v1/workflow/checkpoint
gateway POST /v1/workflow/release
control POST /v1/workflow/start
control POST /v1/workflow/resume
control POST /v1/workflow/checkpoint
control POST /v1/workflow/release"
}

@test "the control plane (contract.md 2.2) serves the same routes with the same token; a run moves between listeners" {
	local t run
	t=$(task on-control)
	# No token, a wrong one, a user's: 401 there too.
	for v in start resume checkpoint release; do
		cy_api POST "$CY_CONTROL_URL/v1/workflow/$v" "{\"task_id\":\"$t\",\"holder\":\"x\"}"
		cy_status 401
		cy_api POST "$CY_CONTROL_URL/v1/workflow/$v" "{\"task_id\":\"$t\",\"holder\":\"x\"}" "${RUNNER_TOKEN}x"
		cy_status 401
		cy_api POST "$CY_CONTROL_URL/v1/workflow/$v" "{\"task_id\":\"$t\",\"holder\":\"x\"}" "$TOKEN"
		cy_status 401
	done
	cy_api POST "$CY_CONTROL_URL/v1/workflow/start" "{\"task_id\":\"$t\",\"holder\":\"cp\"}" "$RUNNER_TOKEN"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" started status
	run=$(jq -r .run_id <<<"$body")
	# The same lease, whichever listener is asked.
	wf start "{\"task_id\":\"$t\",\"holder\":\"other\"}"
	cy_status 409
	cy_api POST "$CY_CONTROL_URL/v1/workflow/checkpoint" \
		"{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"cp\",\"node_id\":\"a\",\"state\":{\"k\":1}}" "$RUNNER_TOKEN"
	cy_status 200
	wf resume "{\"task_id\":\"$t\",\"holder\":\"cp\"}"
	cy_status 200
	cy_eq "$(jq -r .last_node_id <<<"$body")" a last_node_id
	cy_api POST "$CY_CONTROL_URL/v1/workflow/resume" "{\"task_id\":\"$t\",\"holder\":\"cp\"}" "$RUNNER_TOKEN"
	cy_status 200
	cy_eq "$(jq -c .state <<<"$body")" '{"k":1}' state
	# Garbage is refused there as on the gateway, naming the field.
	cy_api POST "$CY_CONTROL_URL/v1/workflow/release" "{\"task_id\":\"$t\",\"holder\":\"cp\"}" "$RUNNER_TOKEN"
	cy_status 400
	[[ $(detail) == *"run_id is required"* ]]
	cy_api POST "$CY_CONTROL_URL/v1/workflow/release" "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"cp\"}" "$RUNNER_TOKEN"
	cy_status 200
	cy_eq "$(jq -r .run_status <<<"$body")" released run_status
	# The control plane still serves nothing for users.
	cy_api GET "$CY_CONTROL_URL/v1/tasks" "" "$TOKEN"
	cy_status 404
}

@test "the token file: 0600 only, a regular file, at least 16 bytes; env token wins; redacted" {
	local bin=$CY_BUILD/cynode-server f=$CY_TMP/tok
	(umask 077 && printf 'short\n' >"$f")
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$f" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "at least 16"
	printf '%s\n' "$RUNNER_TOKEN" >"$f"
	chmod 0644 "$f"
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$f" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "mode 0644"
	chmod 0640 "$f"
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$f" "$bin" --dev --print-config
	assert_failure
	chmod 0600 "$f"
	ln -sf "$f" "$CY_TMP/tok-link"
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$CY_TMP/tok-link" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "workflow runner token"
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$CY_TMP/missing" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "missing"
	mkdir -p "$CY_TMP/tokdir" && chmod 0700 "$CY_TMP/tokdir"
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$CY_TMP/tokdir" "$bin" --dev --print-config
	assert_failure
	run env WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$f" "$bin" --dev --print-config
	assert_success
	assert_output --partial "# workflow runner token: <redacted>"
	assert_output --partial "runner_token_file: $f"
	refute_output --partial "$RUNNER_TOKEN"
	# In the YAML file too.
	printf 'version: 1\nworkflow:\n  runner_token_file: %s\n  lease_ttl: 90s\n' "$f" >"$CY_TMP/wf.yaml"
	run "$bin" --dev --config "$CY_TMP/wf.yaml" --print-config
	assert_success
	assert_output --partial "# workflow runner token: <redacted>"
	# The env token wins over the file (a short one is refused although the file is good).
	run env WORKFLOW_RUNNER_BEARER_TOKEN=tooshort WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$f" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "8 bytes long"
	run "$bin" --dev --print-config
	assert_success
	assert_output --partial "# workflow runner token: (unset"
}

@test "workflow.runner_token_sha256: only the digest configured; the token opens the routes; with a token it is a config error" {
	local bin=$CY_BUILD/cynode-server sha t run
	sha=$(printf '%s' "$RUNNER_TOKEN" | sha256sum | cut -d' ' -f1)
	# Config: checked, printed without the token, never together with a token.
	run env WORKFLOW_RUNNER_TOKEN_SHA256="$sha" "$bin" --dev --print-config
	assert_success
	assert_output --partial "runner_token_sha256: \"$sha\""
	assert_output --partial "# workflow runner token: (its sha256 only"
	# Upper-case hex is the same digest.
	run env WORKFLOW_RUNNER_TOKEN_SHA256="${sha^^}" "$bin" --dev --print-config
	assert_success
	for bad in "${sha:1}" "${sha}0" "${sha:1}g" "$RUNNER_TOKEN"; do
		run env WORKFLOW_RUNNER_TOKEN_SHA256="$bad" "$bin" --dev --print-config
		assert_failure
		assert_output --partial "must be 64 hex digits"
	done
	run env WORKFLOW_RUNNER_TOKEN_SHA256="$sha" WORKFLOW_RUNNER_BEARER_TOKEN_FILE="$WF_TOKEN_FILE" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "do not go together"
	run env WORKFLOW_RUNNER_TOKEN_SHA256="$sha" WORKFLOW_RUNNER_BEARER_TOKEN="$RUNNER_TOKEN" "$bin" --dev --print-config
	assert_failure
	assert_output --partial "do not go together"
	printf 'version: 1\nworkflow:\n  runner_token_sha256: "%s"\n' "$sha" >"$CY_TMP/wf-sha.yaml"
	run "$bin" --dev --config "$CY_TMP/wf-sha.yaml" --print-config
	assert_success
	assert_output --partial "(its sha256 only"
	# A second server (same database) given only the digest: the token works on both
	# listeners, nothing else does.  The first one keeps serving the other tests.
	cy_server_start "WORKFLOW_RUNNER_TOKEN_SHA256=$sha"
	TOKEN=$(cy_admin_token)
	t=$(task hashed)
	wf start "{\"task_id\":\"$t\",\"holder\":\"h\"}"
	cy_status 200
	run=$(jq -r .run_id <<<"$body")
	cy_api POST "$CY_CONTROL_URL/v1/workflow/release" "{\"task_id\":\"$t\",\"run_id\":\"$run\",\"holder\":\"h\"}" "$RUNNER_TOKEN"
	cy_status 200
	wf start "{\"task_id\":\"$t\",\"holder\":\"h\"}" "${RUNNER_TOKEN}x"
	cy_status 401
	# The digest itself is not the token.
	wf start "{\"task_id\":\"$t\",\"holder\":\"h\"}" "$sha"
	cy_status 401
	wf start "{\"task_id\":\"$t\",\"holder\":\"h\"}" ""
	cy_status 401
	# The server's environment holds the digest, not the token.
	run ! grep -qa "$RUNNER_TOKEN" "/proc/$CY_SERVER_PID/environ"
	cy_server_stop
}

# Last: restarts the server without a token.
@test "unconfigured: every workflow route answers 503 whatever the request carries (never open)" {
	local t
	t=$(task unconfigured)
	cy_server_stop
	cy_server_start
	for v in start resume checkpoint release; do
		for tok in "" "$RUNNER_TOKEN" "$(cy_admin_token)"; do
			wf $v "{\"task_id\":\"$t\",\"holder\":\"x\"}" "$tok"
			cy_status 503
			[[ $(detail) == *"workflow runner not configured"* ]]
			cy_api POST "$CY_CONTROL_URL/v1/workflow/$v" "{\"task_id\":\"$t\",\"holder\":\"x\"}" "$tok"
			cy_status 503
		done
	done
	cy_eq "$(cy_psql "SELECT count(*) FROM workflow_runs WHERE task_id = '$t'")" 0 runs
}
