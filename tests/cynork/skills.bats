#!/usr/bin/env bats
#
# skills.bats: cynork skills load|list|get|update|delete end to end with the
# real cynode-server and PostgreSQL: the file's name as the default name,
# unreadable, empty, NUL and invalid UTF-8 files refused before any request
# (exit 64), the server's size limit (exit 65 naming it), a duplicate name
# (exit 73), the list table and JSON with cursor paging, get's metadata line
# and content, update, delete with and without confirmation, another user's
# skill (exit 66).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start SKILL_MAX_BYTES=2000
	cy_login >/dev/null
}

@test "skills load: named after the file; prints skill_id=; the content arrives byte for byte" {
	printf '# Review\n\nCheck *everything*. ünïcödé\n\n' >"$CY_TMP/review.md"
	run --separate-stderr cynork skills load "$CY_TMP/review.md"
	assert_success
	[[ "$output" =~ ^skill_id=[0-9a-f-]{36}$ ]]
	id=${output#skill_id=}
	run cy_psql "SELECT name FROM skills WHERE id = '$id'"
	assert_output review
	run cy_psql "SELECT content_md = E'# Review\\n\\nCheck *everything*. ünïcödé\\n\\n' FROM skills WHERE id = '$id'"
	assert_output t
	run --separate-stderr cynork -o json skills load --name 'from stdin' - <<<"stdin skill"
	assert_success
	cy_eq "$(jq -r .name <<<"$output")" "from stdin" "name"
	cy_eq "$(jq -r .scope <<<"$output")" user "scope"
	run --separate-stderr cynork -o name skills load --scope user --name named "$CY_TMP/review.md"
	assert_success
	[[ "$output" =~ ^[0-9a-f-]{36}$ ]]
}

@test "skills load: bad files and flags are exit 64 before any request; duplicate 73; too large 65" {
	local before

	before=$(cy_psql "SELECT count(*) FROM skills")
	run -64 cynork skills load "$CY_TMP/missing.md"
	assert_output --partial "cannot read skill file"
	: >"$CY_TMP/empty.md"
	run -64 cynork skills load "$CY_TMP/empty.md"
	assert_output --partial "is empty"
	printf 'a\0b' >"$CY_TMP/nul.md"
	run -64 cynork skills load "$CY_TMP/nul.md"
	assert_output --partial "NUL byte"
	printf 'bad \xff\xfe utf8' >"$CY_TMP/latin.md"
	run -64 cynork skills load "$CY_TMP/latin.md"
	assert_output --partial "not valid UTF-8"
	run -64 cynork skills load - <<<"x"
	assert_output --partial "--name"
	run -64 cynork skills load --scope global "$CY_TMP/review.md"
	run -64 cynork skills load --scope-id 00000000-0000-0000-0000-000000000000 "$CY_TMP/review.md"
	assert_output --partial "scope user only"
	run -64 cynork skills load --name $'tab\there' "$CY_TMP/review.md"
	run -64 cynork skills load --name "$(printf 'n%.0s' {1..129})" "$CY_TMP/review.md"
	run -64 cynork skills load
	run -64 cynork skills load a.md b.md
	run cy_psql "SELECT count(*) FROM skills"
	assert_output "$before"
	run -73 cynork skills load "$CY_TMP/review.md"
	assert_output --partial "already have a skill named 'review'"
	head -c 2001 /dev/zero | tr '\0' x >"$CY_TMP/big.md"
	run -65 cynork skills load "$CY_TMP/big.md"
	assert_output --partial "limits.skill_max_bytes (2000)"
}

@test "skills list: the header and TAB rows, newest first; -o json; cursor paging" {
	run --separate-stderr cynork skills list
	assert_success
	cy_eq "${lines[0]}" $'skill_id\tname\tscope\tscope_id\towner_id\tupdated_at' "header"
	[[ "${lines[1]}" == *$'\tnamed\tuser\t'* ]]
	n=$(cy_psql "SELECT count(*) FROM skills")
	cy_eq "$((${#lines[@]} - 1))" "$n" "rows"
	run --separate-stderr cynork skills list --no-headers
	[[ "${lines[0]}" != skill_id* ]]
	run --separate-stderr cynork -o json skills list -l 2
	assert_success
	cy_eq "$(jq '.skills | length' <<<"$output")" 2 "page"
	cursor=$(jq -r .next_cursor <<<"$output")
	run --separate-stderr cynork skills list -l 2
	[[ "$stderr" == *"--cursor $cursor"* ]]
	run --separate-stderr cynork -o json skills list -l 2 --cursor "$cursor"
	assert_success
	cy_eq "$(jq '.skills | length' <<<"$output")" 1 "last page"
	cy_eq "$(jq 'has("next_cursor")' <<<"$output")" false "no more"
	run -65 cynork skills list --cursor garbage
	run -64 cynork skills list -l 0
	run -64 cynork skills list --scope project
	run --separate-stderr cynork -o name skills list --scope user
	cy_eq "${#lines[@]}" "$n" "ids"
}

@test "skills get: a metadata line then the content; JSON fields; garbage ids" {
	id=$(cy_psql "SELECT id FROM skills WHERE name = 'review'")
	run --separate-stderr cynork skills get "$id"
	assert_success
	[[ "${lines[0]}" == "skill_id=$id name=review scope=user scope_id="*" updated_at="* ]]
	# run drops the trailing newlines; the JSON check below has them.
	cy_eq "${output#*$'\n'}" $'# Review\n\nCheck *everything*. ünïcödé' "content"
	run --separate-stderr cynork -o json skills get "$id"
	cy_eq "$(jq -r 'keys | join(",")' <<<"$output")" content_md,name,scope,scope_id,skill_id "keys"
	cy_eq "$(jq -r '.content_md == "# Review\n\nCheck *everything*. ünïcödé\n\n"' <<<"$output")" true "content"
	run -64 cynork skills get not-a-uuid
	assert_output --partial "want a UUID"
	run -66 cynork skills get 00000000-0000-0000-0000-000000000000
}

@test "skills update: replaces the content, renames; bad files exit 64" {
	id=$(cy_psql "SELECT id FROM skills WHERE name = 'named'")
	printf 'v2\n' >"$CY_TMP/v2.md"
	run --separate-stderr cynork skills update "$id" "$CY_TMP/v2.md"
	assert_success
	cy_eq "$output" "skill_id=$id updated=true" "output"
	run cy_psql "SELECT content_md FROM skills WHERE id = '$id'"
	assert_output v2
	run --separate-stderr cynork -o json skills update --name renamed "$id" - <<<"v3"
	assert_success
	cy_eq "$(jq -r .name <<<"$output")" renamed "renamed"
	run -73 cynork skills update --name review "$id" "$CY_TMP/v2.md"
	run -64 cynork skills update "$id" "$CY_TMP/nul.md"
	run -64 cynork skills update "$id"
	run -64 cynork skills update bogus "$CY_TMP/v2.md"
	run -65 cynork skills update "$id" "$CY_TMP/big.md"
	run -66 cynork skills update 00000000-0000-0000-0000-000000000000 "$CY_TMP/v2.md"
	run cy_psql "SELECT name || ':' || content_md FROM skills WHERE id = '$id'"
	assert_output "renamed:v3"
}

@test "skills delete: asks on stderr unless -y; a missing skill exits 66" {
	id=$(cy_psql "SELECT id FROM skills WHERE name = 'renamed'")
	run -0 cy_tty_cynork n skills delete "$id"
	assert_output --partial "Delete skill $id? [y/N]"
	assert_output --partial "nothing done"
	run cy_psql "SELECT count(*) FROM skills WHERE id = '$id'"
	assert_output 1
	run -64 --separate-stderr cynork skills delete "$id" <<<"y"
	[[ $stderr == *"standard input is not a terminal; give -y"* ]]
	cy_eq "$output" "" "no output"
	run cy_psql "SELECT count(*) FROM skills WHERE id = '$id'"
	assert_output 1
	run -0 cy_tty_cynork y skills delete "$id"
	assert_output --partial "skill_id=$id deleted=true"
	run -66 cynork skills delete -y "$id"
	run -64 cynork skills delete -y nope
	id=$(cy_psql "SELECT id FROM skills WHERE name = 'review'")
	run --separate-stderr cynork -o json skills rm -y "$id"
	assert_success
	cy_eq "$(jq -r .deleted <<<"$output")" true "json"
}

@test "another user's skill is exit 66 for get, update and delete" {
	uid=$(cy_psql "INSERT INTO users (handle) VALUES ('bob') RETURNING id" | head -1)
	id=$(cy_psql "INSERT INTO skills (owner_id, name, content_md) VALUES ('$uid', 'bobs', 'private') RETURNING id" | head -1)
	run -66 cynork skills get "$id"
	run -66 cynork skills update "$id" "$CY_TMP/v2.md"
	run -66 cynork skills delete -y "$id"
	run --separate-stderr cynork -o name skills list
	refute_output --partial "$id"
	run cy_psql "SELECT content_md FROM skills WHERE id = '$id'"
	assert_output private
}

@test "skills list --owner: yours by handle or me; another user's is refused for a user; garbage" {
	printf '# Owned\n' >"$CY_TMP/owned.md"
	run --separate-stderr cynork skills load "$CY_TMP/owned.md"
	assert_success
	run --separate-stderr cynork skills list --owner me --no-headers
	assert_success
	assert_output --partial owned
	run --separate-stderr cynork skills list --owner admin -o json
	assert_success
	jq -e 'any(.skills[]; .name == "owned")' <<<"$output"
	run --separate-stderr cynork skills list --owner ''
	assert_failure 64
	[[ $stderr == *"--owner needs"* ]]
	run --separate-stderr cynork skills list --owner nobody-at-all
	assert_failure 66
}

@test "task create --skill: usage errors before any request" {
	run --separate-stderr cynork task create --skill x --command true
	assert_failure 64
	[[ $stderr == *"--skill goes with prompt input"* ]]
	run --separate-stderr cynork task create --skill '' -p hi
	assert_failure 64
	run --separate-stderr cynork task create -p hi --skill a --skill b --skill c --skill d --skill e --skill f --skill g --skill h --skill i
	assert_failure 64
	[[ $stderr == *"at most 8"* ]]
	# The server names an unknown skill (no node needed to refuse it).
	run --separate-stderr cynork task create -p hi --skill ghost
	assert_failure
	[[ $stderr == *"you have no skill 'ghost'"* ]]
}
