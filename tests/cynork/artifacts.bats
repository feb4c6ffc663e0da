#!/usr/bin/env bats
#
# artifacts.bats: cynork task create --artifact, task artifacts list and
# get against the real server and a node running jobs in bubblewrap: the
# table and JSON, downloads under -d with subdirectories, --force, names
# and ids, bad patterns refused before anything is sent.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
	TASK=$(cynork -o name task create --command 'mkdir -p out/sub; echo a >out/a.txt; head -c 300000 /dev/urandom >out/sub/b.bin; cp out/sub/b.bin b.copy; echo r >report-1.txt')
	cynork task wait "$TASK" >/dev/null
	export TASK
}

@test "task artifacts list: the table of the spec and -o json" {
	run --separate-stderr cynork task artifacts list "$TASK"
	assert_success
	[ "${lines[0]}" = "$(printf 'artifact_id\tname\tcontent_type\tsize_bytes')" ]
	[[ ${lines[1]} =~ ^[0-9a-f-]{36}$'\t'out/a.txt$'\t'text/plain$'\t'2$ ]]
	[[ ${lines[2]} =~ $'\t'out/sub/b.bin$'\t-\t'300000$ ]]
	[ "${#lines[@]}" -eq 3 ]
	run --separate-stderr cynork task artifacts list --no-headers "$TASK"
	[ "${#lines[@]}" -eq 2 ]
	run --separate-stderr cynork -o json task artifacts list "$TASK"
	assert_success
	[ "$(jq -r '.artifacts | map(.name) | join(",")' <<<"$output")" = "out/a.txt,out/sub/b.bin" ]
	run --separate-stderr cynork task artifacts list no-such-task
	[ "$status" -eq 66 ]
}

@test "task artifacts get: all under -d DIR with subdirectories, checked byte for byte" {
	run --separate-stderr cynork task artifacts get "$TASK" -d "$CY_TMP/dl"
	assert_success
	assert_line "saved=true path=$CY_TMP/dl/out/a.txt"
	[ "$(cat "$CY_TMP/dl/out/a.txt")" = a ]
	want=$(cynork -o json task artifacts list "$TASK" | jq -r '.artifacts[1].sha256')
	[ "$(sha256sum <"$CY_TMP/dl/out/sub/b.bin" | cut -d' ' -f1)" = "$want" ]
	[ -z "$(find "$CY_TMP/dl" -name '*.part')" ]
}

@test "task artifacts get refuses to overwrite without --force, and writes nothing then" {
	mkdir -p "$CY_TMP/dl2/out"
	echo keep >"$CY_TMP/dl2/out/a.txt"
	run --separate-stderr cynork task artifacts get "$TASK" -d "$CY_TMP/dl2"
	[ "$status" -eq 73 ]
	[[ $stderr == *"--force"* ]]
	[ "$(cat "$CY_TMP/dl2/out/a.txt")" = keep ]
	[ ! -e "$CY_TMP/dl2/out/sub" ]
	run --separate-stderr cynork task artifacts get "$TASK" -d "$CY_TMP/dl2" --force
	assert_success
	[ "$(cat "$CY_TMP/dl2/out/a.txt")" = a ]
}

@test "task artifacts get by name or id; an unknown one exits 66 with nothing written" {
	id=$(cynork -o json task artifacts list "$TASK" | jq -r '.artifacts[1].artifact_id')
	run --separate-stderr cynork -o json task artifacts get "$TASK" out/a.txt "$id" -d "$CY_TMP/dl3"
	assert_success
	[ "$(jq -r '.saved | map(.name) | join(",")' <<<"$output")" = "out/a.txt,out/sub/b.bin" ]
	run --separate-stderr cynork task artifacts get "$TASK" out/a.txt nope -d "$CY_TMP/dl4"
	[ "$status" -eq 66 ]
	[ ! -e "$CY_TMP/dl4" ]
}

@test "--artifact picks other files; bad patterns are exit 64 before anything is sent" {
	id=$(cynork -o name task create --artifact 'report-*.txt' --artifact b.copy \
		--command 'echo r >report-9.txt; echo c >b.copy; mkdir -p out; echo o >out/o')
	cynork task wait "$id" >/dev/null
	run --separate-stderr cynork task artifacts list --no-headers "$id"
	assert_success
	[ "$(cut -f2 <<<"$output" | tr '\n' ,)" = "b.copy,report-9.txt," ]
	n0=$(cy_psql "SELECT count(*) FROM tasks")
	for bad in ../x /etc/passwd '' 'a//b' '*/../x'; do
		run --separate-stderr cynork task create --artifact "$bad" --command true
		[ "$status" -eq 64 ] || { echo "accepted '$bad'"; false; }
		[[ $stderr == *"--artifact"* ]]
	done
	[ "$(cy_psql "SELECT count(*) FROM tasks")" = "$n0" ]
}

@test "the shell runs the artifacts commands too" {
	run --separate-stderr cynork shell -c "task artifacts list --no-headers $TASK"
	assert_success
	[ "$(cut -f2 <<<"$output" | tr '\n' ,)" = "out/a.txt,out/sub/b.bin," ]
	run --separate-stderr cynork shell -c "task artifacts get $TASK out/a.txt -d $CY_TMP/sh"
	assert_success
	[ "$(cat "$CY_TMP/sh/out/a.txt")" = a ]
}

@test "task artifacts get --out PATH saves one artifact there; garbage combinations are exit 64" {
	run --separate-stderr cynork task artifacts get "$TASK" out/sub/b.bin --out "$CY_TMP/o/x.bin"
	assert_success
	assert_output "saved=true path=$CY_TMP/o/x.bin"
	[ "$(stat -c %s "$CY_TMP/o/x.bin")" = 300000 ]
	run --separate-stderr cynork task artifacts get "$TASK" out/sub/b.bin --out "$CY_TMP/o/x.bin"
	[ "$status" -eq 73 ]
	run --separate-stderr cynork task artifacts get "$TASK" --out "$CY_TMP/o/y"
	[ "$status" -eq 64 ]
	run --separate-stderr cynork task artifacts get "$TASK" out/a.txt out/sub/b.bin --out "$CY_TMP/o/y"
	[ "$status" -eq 64 ]
	run --separate-stderr cynork task artifacts get "$TASK" out/a.txt --out "$CY_TMP/o/y" -d "$CY_TMP/o"
	[ "$status" -eq 64 ]
	run --separate-stderr cynork task artifacts get "$TASK" out/a.txt --out ""
	[ "$status" -eq 64 ]
	[ ! -e "$CY_TMP/o/y" ]
}
