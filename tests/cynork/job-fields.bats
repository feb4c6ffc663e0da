#!/usr/bin/env bats
#
# job-fields.bats: every job field from `cynork task create`
# against a private PostgreSQL, cynode-server and one bubblewrap node:
# --image, --timeout, --priority, --max-attempts, --backoff, --label, --gpus,
# --cpus, --memory, --network, --disk and --tmp, each refused with exit 64 on garbage
# before any request, accepted on good values, carried to the node (the job
# reads its own /job/job.json) and shown back by `task get` (table and -o
# json) with the job's exit code, node, attempts, times and durations.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

@test "garbage values of every job flag are usage errors (exit 64) naming the flag" {
	local -a bad=(
		"--image=" "--timeout soon" "--timeout 0s" "--timeout 4h" "--timeout -5s"
		"--priority 1001" "--priority -1001" "--priority high" "--max-attempts 0"
		"--max-attempts 101" "--max-attempts x" "--backoff 25h" "--backoff soon"
		"--backoff -1s" "--label =v" "--label k=" "--label a,b" "--label k=v;rm"
		"--gpus -1" "--gpus 1025" "--gpus two" "--cpus 0" "--cpus 4097" "--cpus 1.5"
		"--memory 15M" "--memory 512X" "--memory 1.5G" "--memory lots" "--memory -1G"
		"--memory 17T" "--network bridge" "--network" "--tmp 0" "--tmp 2T" "--tmp 10Q"
		"--disk 0" "--disk 17T" "--disk 1.5G" "--disk big"
		"--wait-timeout 1s"
	)
	local a flag

	for a in "${bad[@]}"; do
		# shellcheck disable=SC2086
		run -64 --separate-stderr cynork task create --command true $a
		flag=${a%% *}
		flag=${flag%%=*}
		[[ $stderr == *"$flag"* ]] || {
			echo "'$a': stderr does not name $flag: $stderr" >&2
			return 1
		}
	done
	run -64 cynork task create --command true --label "$(printf 'k%.0s' {1..130})"
}

@test "sandbox flags with a prompt task are usage errors" {
	local f

	for f in "--image host" "--network none" "--cpus 1" "--memory 64M" "--tmp 8M" \
		"--disk 8M"; do
		# shellcheck disable=SC2086
		run -64 --separate-stderr cynork task create -p 'hello' $f
		[[ $stderr == *"runs no sandbox"* ]]
	done
}

@test "a job with every field runs with them and task get shows them back" {
	local id out

	id=$(cynork -o name task create --name all-fields --image host --timeout 90s \
		--priority 7 --max-attempts 2 --backoff 0s --cpus 1 --memory 64M --network none \
		--tmp 8M --disk 32M \
		--command 'cat /job/job.json; echo; df -k /tmp | tail -n 1; df -k /workspace | tail -n 1')
	run -0 cynork task wait "$id"
	out=$(cynork -o json task result "$id" | jq -r .stdout)
	# The node got what was asked (its own copy of the request) ...
	run jq -e '.sandbox.image == "host" and .sandbox.timeout_seconds == 90
		and .sandbox.network_policy == "none"
		and .sandbox.resources == {"cpu_cores": 1, "memory_mb": 64, "tmp_mb": 8,
			"workspace_mb": 32}' <<<"$(head -n 1 <<<"$out")"
	assert_success
	# ... and the sandbox's /tmp and /workspace are the 8 and 32 MiB asked for.
	cy_eq "$(sed -n 2p <<<"$out" | awk '{print $2}')" 8192 "/tmp size (KiB)"
	cy_eq "$(sed -n 3p <<<"$out" | awk '{print $2}')" 32768 "/workspace size (KiB)"
	run cynork task get "$id"
	assert_success
	assert_output --partial "task_name=all-fields"
	assert_output --partial "job_status=completed"
	assert_output --partial "exit_code=0"
	assert_output --partial "node=node-01"
	assert_output --partial "attempts=1"
	assert_output --regexp "queued_at=[0-9-]+T[0-9:]+Z started_at=[0-9-]+T[0-9:]+Z ended_at=[0-9-]+T[0-9:]+Z"
	assert_output --regexp "queued_s=[0-9]+\.[0-9]{3} run_s=[0-9]+\.[0-9]{3}"
	assert_output --partial "image=host timeout_s=90 network=none priority=7 max_attempts=2 backoff_s=0"
	assert_output --partial "cpus=1 memory_mb=64 disk_mb=32 tmp_mb=8"
	[ "${#lines[@]}" -eq 1 ]
	run cynork -o json task get "$id"
	assert_success
	# How the job ran at the top (cynork(1) JSON OUTPUT), what it asked for under job.
	run jq -e '.job.status == "completed" and .exit_code == 0 and .node == "node-01"
		and .attempts == 1 and (.queued_at | test("Z$"))
		and (.started_at | test("Z$")) and (.ended_at | test("Z$"))
		and (.queued_seconds | type) == "number" and .run_seconds >= 0
		and .job.image == "host" and .job.timeout_seconds == 90
		and .job.network_policy == "none" and .job.priority == 7
		and .job.max_attempts == 2 and .job.retry_backoff_seconds == 0
		and .job.resources == {"cpu_cores": 1, "memory_mb": 64, "tmp_mb": 8,
			"workspace_mb": 32}
		and .job.requirements == {"labels": [], "gpus": 0, "gpu_model": null, "nodes": []}' <<<"$output"
	assert_success
}

@test "defaults: a plain job shows the server's defaults and exit code" {
	local id

	id=$(cynork -o name task create --command 'exit 3')
	run -3 cynork task wait "$id"
	run cynork -o json task get "$id"
	run jq -e '.job.status == "failed" and .exit_code == 3 and .job.timeout_seconds == 3600
		and .job.network_policy == "restricted" and .job.priority == 0
		and .job.max_attempts == 3 and .job.retry_backoff_seconds == 5
		and .job.resources == null and .job.image == null' <<<"$output"
	assert_success
	run cynork task get "$id"
	assert_output --partial "exit_code=3"
	refute_output --partial "cpus="
}

@test "--memory is enforced: a job using more is killed as out of memory" {
	run -137 --separate-stderr cynork task create --memory 32M --wait \
		--command 'head -c 200M /dev/zero | tail >/dev/null'
	[[ $stderr == *"memory"* || $output == *"memory"* ]]
}

@test "--timeout stops the job; --wait-timeout only stops waiting" {
	local t0=$SECONDS id

	run -124 cynork task create --command 'sleep 30' --timeout 1s --wait
	assert_output --partial "status=failed"
	[ $((SECONDS - t0)) -lt 20 ]
	id=$(cynork -o name task create --command 'sleep 3; echo done')
	run -124 --separate-stderr cynork task wait "$id" --timeout 1s
	run -124 --separate-stderr cynork task create --command 'sleep 3' --wait --wait-timeout 1s
	[[ $stderr == *"gave up waiting"* ]]
	run -0 cynork task wait "$id"
	assert_output --partial "done"
}

@test "--label and --gpus place the job: no node matches, it stays queued and shows them" {
	local id gpu

	id=$(cynork -o name task create --command true --label zone=mars --label tier:x=1 \
		--gpus 2 2>/dev/null) || true
	[ -z "$id" ]
	run -64 --separate-stderr cynork task create --command true --label tier:x=1
	[[ $stderr == *"--label"* ]]
	# No node has them: refused, naming what is missing, unless --allow-pending.
	run --separate-stderr cynork task create --command true --label zone=mars --gpus 2
	assert_failure 65
	[[ $stderr == *"no node can run this task: needs gpus=2, the largest node has 0"* ]]
	id=$(cynork -o name task create --command true --label zone=mars --label ssd --gpus 2 --allow-pending)
	sleep 1
	run cynork task get "$id"
	assert_success
	assert_output --partial "status=queued"
	assert_output --partial "job_status=queued"
	assert_output --partial 'labels="zone=mars,ssd"'
	assert_output --partial "gpus=2"
	refute_output --partial "node="
	refute_output --partial "started_at="
	run cynork -o json task get "$id"
	run jq -e '.job.requirements == {"labels": ["zone=mars", "ssd"], "gpus": 2, "gpu_model": null, "nodes": []}
		and .attempts == 0 and .started_at == null and .queued_seconds > 0
		and .run_seconds == null' <<<"$output"
	assert_success
	run -0 cynork task cancel -y "$id"
	# A node with the labels takes such a job; the one asking for GPUs still waits.
	cy_node_stop node-01
	cy_node_start node-01 'node.labels=["zone=mars", "ssd"]'
	id=$(cynork -o name task create --command 'echo placed' --label zone=mars --label ssd)
	gpu=$(cynork -o name task create --command true --label ssd --gpus 1 --allow-pending)
	run -0 cynork task wait "$id"
	assert_output --partial "placed"
	run cynork task get "$id"
	assert_output --partial "node=node-01"
	run cynork task get "$gpu"
	assert_output --partial "job_status=queued"
	run -0 cynork task get "$gpu" -o json
	jq -e '.job.pending_reason == "NoMatchingNode: needs gpus=1, the largest node has 0"' <<<"$output"
	run -0 cynork task cancel -y "$gpu"
}

@test "--network host is refused by a node that does not allow it, with the reason" {
	run --separate-stderr cynork -o json task create --command true --network host \
		--max-attempts 1 --wait
	[ "$status" -ne 0 ]
	[[ $output == *"allow_host_network"* ]]
}

@test "--image names an image the node lacks: the job fails saying so" {
	run --separate-stderr cynork -o json task create --command true --image no-such-image \
		--max-attempts 1 --wait
	[ "$status" -ne 0 ]
	[[ $output == *"no-such-image"* ]]
}

@test "help and completion list the job flags" {
	run cynork task create --help
	assert_success
	for f in --image --timeout --priority --max-attempts --backoff --label --gpus --cpus \
		--memory --network --disk --tmp --wait-timeout; do
		assert_output --partial -- "$f"
	done
	run cynork __complete task create --net
	assert_output --partial -- "--network"
	run cynork __complete task create --network ''
	assert_output --partial "none"
	assert_output --partial "host"
}
