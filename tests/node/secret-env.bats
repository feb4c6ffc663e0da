#!/usr/bin/env bats
#
# sandbox.secret_env on the node (cynode-node --run-job, the Worker API's
# code path): the values reach the job's environment, its stdout and
# stderr come back masked (also a value split across reads, repeated, or
# cut by the output cap), short values stay, bad secret_env objects are
# refused without echoing a value, and neither job.json, the state
# directory nor the node's log lines hold a value.

load ../lib/harness
bats_require_minimum_version 1.5.0

SV='n0de-Secret-Value-42'

setup_file()
{
	cy_setup_file
	D=$CY_TMP/node
	mkdir -p "$D/state"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	cat >"$D/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$D/psk"
	node:
	  id: node-01
	logging:
	  level: debug
	storage:
	  state_dir: "$D/state"
	sandbox:
	  max_output_bytes: 4096
	  timeouts:
	    max_seconds: 60
	YAML
	export D
}

# job ID SCRIPT SECRET_ENV_JSON [EXTRA_SANDBOX_JSON]: output in $output, log in $D/ID.log
job()
{
	jq -cn --arg id "$1" --arg s "$2" --argjson se "$3" --argjson x "${4:-{\}}" \
		'{version:1, task_id:"task-1", job_id:$id,
		  sandbox:({command:["/bin/sh","-c",$s], secret_env:$se} + $x)}' >"$D/req-$1.json"
	run --separate-stderr "$CY_BUILD/cynode-node" --config "$D/node.yaml" --run-job "$D/req-$1.json"
	printf '%s\n' "$stderr" >"$D/$1.log"
	rm -f "$D/req-$1.json"
}

field() { printf '%s' "$output" | jq -r "$1"; }

@test "the value is in the job's environment, masked in stdout and stderr" {
	local sum

	sum=$(printf '%s' "$SV" | sha256sum | cut -d' ' -f1)
	job j-env "echo \"tok=\$TOK\"; echo \"\$TOK\" >&2; echo \${#TOK}; [ \"\$(printf %s \"\$TOK\" | sha256sum | cut -d' ' -f1)\" = $sum ] && echo same" \
		"{\"TOK\":\"$SV\"}"
	assert_success
	[ "$(field .status)" = completed ]
	cy_eq "$(field .stdout)" "$(printf 'tok=***\n%s\nsame' "${#SV}")" stdout
	cy_eq "$(field .stderr)" "***" stderr
}

@test "a value split across reads, repeated back to back, and cut by the cap stays masked" {
	job j-split 'printf "%s" "${TOK%????????}"; sleep 0.3; printf "%s|\n" "${TOK#????????????}"; printf "%s%s%s\n" "$TOK" "$TOK" "$TOK"; i=0; while [ $i -lt 400 ]; do printf "%s" "$TOK"; i=$((i+1)); done' \
		"{\"TOK\":\"$SV\"}"
	assert_success
	cy_eq "$(field .stdout | head -n 2)" "$(printf '***|\n***')" "split and repeated"
	[[ "$(field .stdout)" != *"${SV:0:6}"* ]]
	[[ "$output" != *"$SV"* ]]
}

@test "values under 4 bytes are not masked; several secrets each are" {
	job j-short 'echo "$A $B $C"' '{"A":"abc","B":"second-secret","C":"third-one"}'
	assert_success
	cy_eq "$(field .stdout)" "abc *** ***" stdout
}

@test "secret_env wins over env; the node's own variables cannot be set" {
	job j-win 'echo "$X"' '{"X":"from-secret-env"}' '{"env":{"X":"from-env"}}'
	assert_success
	cy_eq "$(field .stdout)" "***" stdout
	for se in '{"CYNODE_TASK_ID":"forged"}' '{"INFERENCE_PROXY_URL":"x"}' '{"1X":"v"}' \
		'{"A":1}' '{"A":null}' '["A"]' '"A=B"'; do
		job j-bad 'echo no' "$se"
		assert_failure 1
		[ "$(field .status)" = 400 ]
		[[ "$(field .detail)" == *secret_env* ]]
		[[ "$output" != *forged* ]]
	done
}

@test "no value in job.json, the state directory or the node's log lines" {
	job j-disk 'cat /job/job.json; echo; env | grep -c TOK' "{\"TOK\":\"$SV\"}"
	assert_success
	[[ "$(field .stdout)" == *'"command"'* ]]
	[[ "$(field .stdout)" != *secret_env* ]]
	[ -f "$D/state/sandbox_mounts/j-disk/job/job.json" ]
	run grep -c secret_env "$D/state/sandbox_mounts/j-disk/job/job.json"
	assert_output 0
	run grep -rlF -- "$SV" "$D"
	assert_failure
}
