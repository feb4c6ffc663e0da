#!/usr/bin/env bats
#
# The executor and the bubblewrap sandbox, through `cynode-node --run-job`,
# which runs one RunJobRequest through the same validation and sandbox code
# as POST /v1/worker/jobs:run (contract 2.3 and 5).  Real bwrap; no server.

load ../lib/harness

setup_file()
{
	cy_setup_file
	D=$CY_TMP/node
	mkdir -p "$D/state"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	echo "node-secret" >"$D/state/secret.txt"
	cat >"$D/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$D/psk"
	node:
	  id: node-01
	storage:
	  state_dir: "$D/state"
	sandbox:
	  max_output_bytes: 262144
	  timeouts:
	    max_seconds: 60
	YAML
	export D
}

teardown_file() { cy_teardown_file; }

# job JOB_ID SHELL_SCRIPT [extra sandbox JSON members]: run it, $output = response
job()
{
	local id=$1 script=$2 extra=${3:-}
	jq -cn --arg id "$id" --arg s "$script" --argjson x "{${extra}}" \
		'{version:1, task_id:"task-1", job_id:$id,
		  sandbox:({command:["/bin/sh","-c",$s]} + $x)}' >"$D/req-$id.json"
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/req-$id.json"
}

field() { printf '%s' "$output" | jq -r "$1"; }

@test "echo hello completes with exit_code 0" {
	job j-hello 'echo hello'
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .exit_code)" = 0 ]
	[ "$(field .stdout)" = hello ]
	[ "$(field .truncated.stdout)" = false ]
	[ "$(field .version)" = 1 ]
	[ "$(field .job_id)" = j-hello ]
	[ -n "$(field .started_at)" ]
	[ -n "$(field .ended_at)" ]
}

@test "exit 3 fails with exit_code 3 and keeps stderr" {
	job j-exit 'echo oops >&2; exit 3'
	assert_success
	[ "$(field .status)" = failed ]
	[ "$(field .exit_code)" = 3 ]
	[ "$(field .stderr)" = oops ]
}

@test "timeout kills the sandbox quickly" {
	local t0=$SECONDS
	job j-timeout 'sleep 30 & sleep 30' '"timeout_seconds":1'
	assert_success
	[ "$(field .status)" = timeout ]
	[ "$(field .exit_code)" = -1 ]
	[ $((SECONDS - t0)) -lt 10 ]
}

@test "output flood is capped at 262144 bytes with truncated.stdout" {
	job j-flood 'yes | head -c 10000000'
	assert_success
	[ "$(field .status)" = completed ]
	[ "$(field .truncated.stdout)" = true ]
	[ "$(field '.stdout | length')" -le 262144 ]
	[ "$(field '.stdout | length')" -gt 200000 ]
}

@test "truncation never splits a UTF-8 code point" {
	job j-utf8 'i=0; while [ $i -lt 100000 ]; do printf "é€"; i=$((i+1)); done'
	assert_success
	[ "$(field .truncated.stdout)" = true ]
	# jq would have failed on invalid UTF-8; the text is only whole characters
	[ "$(field '.stdout | explode | map(select(. == 65533)) | length')" = 0 ]
}

@test "task context env is set and cannot be forged" {
	job j-env 'echo "T=$CYNODE_TASK_ID J=$CYNODE_JOB_ID W=$CYNODE_WORKSPACE_DIR F=$FOO"; pwd' \
		'"env":{"CYNODE_TASK_ID":"forged","CYNODE_WORKSPACE_DIR":"/etc","FOO":"bar"}'
	assert_success
	assert_output --partial "T=task-1 J=j-env W=/workspace F=bar"
	assert_output --partial '/workspace\n'
}

@test "the node's environment does not reach the sandbox" {
	SECRET_NODE_VAR=leak job j-noenv 'env'
	assert_success
	refute_output --partial SECRET_NODE_VAR
}

@test "no network: only lo exists" {
	job j-net 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "' '"network_policy":"none"'
	assert_success
	[ "$(field .stdout)" = lo ]
}

@test "the sandbox runs as an unprivileged uid" {
	job j-uid 'id -u'
	assert_success
	[ "$(field .stdout)" = 65534 ]
}

@test "the node's state dir is not visible" {
	job j-state "cat '$D/state/secret.txt'; ls '$D' ; ls /root /home /var 2>&1 | head -3"
	assert_success
	refute_output --partial node-secret
	refute_output --partial psk
}

@test "workspace is writable and kept after the run with job.json" {
	job j-ws 'echo data >/workspace/out.txt && cat /job/job.json'
	assert_success
	[ "$(field .status)" = completed ]
	assert_output --partial 'j-ws'
	[ "$(cat "$D/state/sandbox_mounts/j-ws/workspace/out.txt")" = data ]
	[ -f "$D/state/sandbox_mounts/j-ws/job/job.json" ]
}

@test "the root filesystem is read-only" {
	job j-ro 'touch /usr/x 2>&1; echo rc=$?'
	assert_success
	assert_output --partial 'rc=1'
}

@test "version 2 is refused as unsupported-payload-version" {
	echo '{"version":2,"task_id":"t","job_id":"j","sandbox":{"command":["true"]}}' >"$D/v2.json"
	run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/v2.json"
	assert_failure 1
	[ "$(field .type)" = "https://cynode.ai/problems/unsupported-payload-version" ]
	[ "$(field .status)" = 400 ]
}

@test "bad requests are refused with a reason" {
	local body
	for body in \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":[]}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"network_policy":"open"}}' \
		'{"version":1,"task_id":"../etc","job_id":"j","sandbox":{"command":["true"]}}' \
		'{"version":1,"task_id":"t","sandbox":{"command":["true"]}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"env":{"A B":"x"}}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"timeout_seconds":-1}}' \
		'{"version":1,"task_id":"t","job_id":"j","sandbox":{"command":["true"],"image":"alpine:latest"}}' \
		'not json'; do
		printf '%s' "$body" >"$D/bad.json"
		run "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/bad.json"
		assert_failure 1
		[ "$(field .status)" = 400 ]
		[ -n "$(field .detail)" ]
	done
}
