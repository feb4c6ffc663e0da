#!/usr/bin/env bats
#
# attach.bats: cynork task create --attach with every real part (server,
# PostgreSQL, a node running jobs in bubblewrap): files and directories
# reach /workspace, every local problem is a usage error before anything is
# uploaded or created, the server's size cap comes back as exit 65 naming
# the limit.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start ATTACHMENT_MAX_BYTES=2097152
	cy_node_start node-01
	cy_login >/dev/null
}

counts()
{
	cy_psql "SELECT (SELECT count(*) FROM tasks) || ' ' || (SELECT count(*) FROM blobs) || ' ' || (SELECT count(*) FROM blob_chunks)"
}

@test "--attach FILE and --attach DIR put the files in /workspace for the command" {
	printf 'a,b\n1,2\n' >"$CY_TMP/data.csv"
	mkdir -p "$CY_TMP/inputs/sub"
	printf 'one\n' >"$CY_TMP/inputs/one.txt"
	printf 'two\n' >"$CY_TMP/inputs/sub/two.txt"
	head -c 1500000 /dev/urandom >"$CY_TMP/inputs/sub/big.bin"
	want=$(sha256sum <"$CY_TMP/inputs/sub/big.bin" | cut -d' ' -f1)
	run --separate-stderr cynork task create -a "$CY_TMP/data.csv" --attach "$CY_TMP/inputs/" \
		--command "cat data.csv inputs/one.txt inputs/sub/two.txt; sha256sum inputs/sub/big.bin" --wait
	assert_success
	assert_output --partial 'stdout="a,b\n1,2\none\ntwo\n'"$want"'  inputs/sub/big.bin\n"'
	assert_output --partial "exit_code=0"
}

@test "create -o json lists the attachments with size and sha256" {
	printf 'hello\n' >"$CY_TMP/h.txt"
	run --separate-stderr cynork -o json task create --attach "$CY_TMP/h.txt" --command 'cat h.txt'
	assert_success
	[ "$(jq -c '.attachments' <<<"$output")" = \
		"[{\"name\":\"h.txt\",\"sha256\":\"$(sha256sum <"$CY_TMP/h.txt" | cut -d' ' -f1)\",\"size\":6}]" ]
	id=$(jq -r .task_id <<<"$output")
	run cynork -o json task get "$id"
	assert_success
	[ "$(jq -r '.attachments[0].name' <<<"$output")" = h.txt ]
}

@test "a missing file, a symlink, a special file or a name twice is exit 64 with nothing uploaded or created" {
	before=$(counts)
	printf 'ok\n' >"$CY_TMP/ok.txt"
	run --separate-stderr cynork task create --attach "$CY_TMP/ok.txt" --attach /nonexistent/file --command true
	[ "$status" -eq 64 ]
	[[ $stderr == *"--attach '/nonexistent/file'"* ]]
	ln -sf /etc/passwd "$CY_TMP/link"
	run --separate-stderr cynork task create --attach "$CY_TMP/link" --command true
	[ "$status" -eq 64 ]
	[[ $stderr == *"symbolic link"* ]]
	mkdir -p "$CY_TMP/withlink"
	printf 'x\n' >"$CY_TMP/withlink/x"
	ln -sf /etc/passwd "$CY_TMP/withlink/passwd"
	run --separate-stderr cynork task create --attach "$CY_TMP/withlink" --command true
	[ "$status" -eq 64 ]
	[[ $stderr == *"withlink/passwd': is a symbolic link"* ]]
	mkfifo "$CY_TMP/fifo"
	run --separate-stderr cynork task create --attach "$CY_TMP/fifo" --command true
	[ "$status" -eq 64 ]
	mkdir -p "$CY_TMP/other"
	printf 'y\n' >"$CY_TMP/other/ok.txt"
	run --separate-stderr cynork task create --attach "$CY_TMP/ok.txt" --attach "$CY_TMP/other/ok.txt" --command true
	[ "$status" -eq 64 ]
	[[ $stderr == *"attached twice"* ]]
	mkdir -p "$CY_TMP/emptydir"
	run --separate-stderr cynork task create --attach "$CY_TMP/emptydir" --command true
	[ "$status" -eq 64 ]
	run --separate-stderr cynork task create --attach - --command true
	[ "$status" -eq 64 ]
	if [ "$(id -u)" != 0 ]; then
		printf 'secret\n' >"$CY_TMP/unreadable"
		chmod 000 "$CY_TMP/unreadable"
		run --separate-stderr cynork task create --attach "$CY_TMP/unreadable" --command true
		[ "$status" -eq 64 ]
	fi
	[ "$(counts)" = "$before" ]
}

@test "a file over limits.attachment_max_bytes is exit 65 naming the limit, and no task is made" {
	head -c 2097153 /dev/zero >"$CY_TMP/too-big"
	tasks=$(cy_psql "SELECT count(*) FROM tasks")
	run --separate-stderr cynork task create --attach "$CY_TMP/too-big" --command true
	[ "$status" -eq 65 ]
	[[ $stderr == *"limit 2097152 bytes"* ]]
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$tasks" ]
}
