#!/usr/bin/env bats
#
# Skills through the API with the real server and PostgreSQL: POST
# /v1/skills/load, GET /v1/skills (cursor paging), GET/PUT/DELETE
# /v1/skills/{id} with good and garbage bodies, the size limit
# (limits.skill_max_bytes, set small here) as 413 naming it, a duplicate
# name as 409, another user's skill as 404 (an admin's too), API token
# scopes, and the audit rows.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	CY_RATE_LIMIT=1000000 cy_server_start SKILL_MAX_BYTES=1000
	cy_psql "INSERT INTO users (handle) VALUES ('alice');
		INSERT INTO password_credentials (user_id, password_hash)
		SELECT (SELECT id FROM users WHERE handle = 'alice'), password_hash
		FROM password_credentials pc JOIN users u ON u.id = pc.user_id
		WHERE u.handle = 'admin';" >/dev/null
	TOKEN=$(cy_admin_token)
	ALICE=$(curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"alice",password:$p}')" \
		"$CY_GATEWAY_URL/v1/auth/login" | jq -r .access_token)
	ALICE_ID=$(cy_psql "SELECT id FROM users WHERE handle = 'alice'")
	export TOKEN ALICE ALICE_ID
}

teardown_file()
{
	cy_teardown_file
}

# load NAME CONTENT [TOKEN]
load_skill()
{
	cy_api POST /v1/skills/load "$(jq -cn --arg n "$1" --arg c "$2" '{name:$n, content_md:$c}')" \
		"${3:-$ALICE}"
}

@test "POST /v1/skills/load: 201 with the skill; scope user, scope_id the owner" {
	load_skill review $'# Code review\n\nBe kind, be *precise*. ünïcödé\n'
	cy_status 201
	cy_eq "$(jq -r .name <<<"$body")" review "name"
	cy_eq "$(jq -r .scope <<<"$body")" user "scope"
	cy_eq "$(jq -r .scope_id <<<"$body")" "$ALICE_ID" "scope_id"
	cy_eq "$(jq -r .owner_id <<<"$body")" "$ALICE_ID" "owner_id"
	cy_eq "$(jq --arg c $'# Code review\n\nBe kind, be *precise*. ünïcödé\n' '.content_md == $c' <<<"$body")" true "content, trailing newline kept"
	[[ "$(jq -r .skill_id <<<"$body")" =~ ^[0-9a-f-]{36}$ ]]
	[[ "$(jq -r .updated_at <<<"$body")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$ ]]
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'skill.create'
		AND target = '$(jq -r .skill_id <<<"$body")' AND details->>'name' = 'review'"
	assert_output 1
	cy_api POST /v1/skills/load '{"name":"scoped","content_md":"x","scope":"user"}' "$ALICE"
	cy_status 201
}

@test "a duplicate name is 409; the same name for another user is fine" {
	load_skill review "again"
	cy_status 409
	[[ "$body" == *"already have a skill named 'review'"* ]]
	load_skill review "admin's own" "$TOKEN"
	cy_status 201
}

@test "load refuses garbage bodies, naming the field" {
	local b
	for b in '' 'nope' '[]' '{}' '{"name":"a"}' '{"content_md":"x"}' \
		'{"name":"","content_md":"x"}' '{"name":"a","content_md":""}' \
		'{"name":"a","content_md":7}' '{"name":7,"content_md":"x"}' \
		'{"name":"a\tb","content_md":"x"}' '{"name":"a","content_md":"x","extra":1}' \
		'{"name":"a","content_md":"x","scope":"global"}' \
		'{"name":"a","content_md":"x","scope":"project"}' \
		'{"name":"a","content_md":"nul\u0000byte"}' \
		"{\"name\":\"$(printf 'n%.0s' {1..129})\",\"content_md\":\"x\"}"; do
		cy_api POST /v1/skills/load "$b" "$ALICE"
		[ "$status_code" = 400 ] || [ "$status_code" = 415 ] ||
			{ echo "body '$b': $status_code $body" >&2; return 1; }
	done
	cy_api POST /v1/skills/load '{"name":"a","content_md":"x","extra":1}' "$ALICE"
	[[ "$body" == *"unknown field 'extra'"* ]]
	cy_api POST /v1/skills/load '{"name":"a","content_md":"x","scope":"global"}' "$ALICE"
	[[ "$body" == *scope* ]]
	# Invalid UTF-8 is refused by the JSON parser.
	printf '{"name":"bad","content_md":"\xff\xfe"}' >"$CY_TMP/bad.json"
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
		-H 'Content-Type: application/json' --data-binary "@$CY_TMP/bad.json" \
		"$CY_GATEWAY_URL/v1/skills/load"
	assert_output 400
	run cy_psql "SELECT count(*) FROM skills WHERE name IN ('a', 'bad')"
	assert_output 0
}

@test "content over limits.skill_max_bytes is 413 naming the limit; at the limit it is taken" {
	load_skill big "$(head -c 1001 /dev/zero | tr '\0' x)"
	cy_status 413
	[[ "$body" == *"limits.skill_max_bytes (1000)"* ]]
	[[ "$body" == *"1001 bytes"* ]]
	# Multibyte: 501 two-byte characters are 1002 bytes.
	load_skill big "$(printf 'é%.0s' {1..501})"
	cy_status 413
	load_skill big "$(head -c 1000 /dev/zero | tr '\0' x)"
	cy_status 201
	id=$(jq -r .skill_id <<<"$body")
	cy_api PUT "/v1/skills/$id" "$(jq -cn --arg c "$(head -c 1001 /dev/zero | tr '\0' y)" '{content_md:$c}')" "$ALICE"
	cy_status 413
	[[ "$body" == *"limits.skill_max_bytes"* ]]
	run cy_psql "SELECT octet_length(content_md) FROM skills WHERE id = '$id'"
	assert_output 1000
}

@test "GET /v1/skills/{id}: the owner gets it; others and an admin get 404; garbage ids 400" {
	load_skill private "alice only"
	cy_status 201
	id=$(jq -r .skill_id <<<"$body")
	cy_api GET "/v1/skills/$id" "" "$ALICE"
	cy_status 200
	cy_eq "$(jq -r .content_md <<<"$body")" "alice only" "content"
	cy_api GET "/v1/skills/$id" "" "$TOKEN"
	cy_status 404
	cy_api PUT "/v1/skills/$id" '{"content_md":"hijack"}' "$TOKEN"
	cy_status 404
	cy_api DELETE "/v1/skills/$id" "" "$TOKEN"
	cy_status 404
	run cy_psql "SELECT content_md FROM skills WHERE id = '$id'"
	assert_output "alice only"
	cy_api GET /v1/skills/00000000-0000-0000-0000-000000000000 "" "$ALICE"
	cy_status 404
	cy_api GET /v1/skills/not-a-uuid "" "$ALICE"
	cy_status 400
	[[ "$body" == *"not a UUID"* ]]
	cy_api GET "/v1/skills/$id" ""
	cy_status 401
}

@test "PUT /v1/skills/{id}: replaces content, renames, refuses garbage and a taken name" {
	load_skill draft "v1"
	cy_status 201
	id=$(jq -r .skill_id <<<"$body")
	sleep 1
	cy_api PUT "/v1/skills/$id" '{"content_md":"v2"}' "$ALICE"
	cy_status 200
	cy_eq "$(jq -r .content_md <<<"$body")" v2 "content"
	cy_eq "$(jq -r .name <<<"$body")" draft "name kept"
	[ "$(jq -r .updated_at <<<"$body")" != "$(jq -r .created_at <<<"$body")" ]
	cy_api PUT "/v1/skills/$id" '{"content_md":"v3","name":"final"}' "$ALICE"
	cy_status 200
	cy_eq "$(jq -r .name <<<"$body")" final "renamed"
	cy_api PUT "/v1/skills/$id" '{"content_md":"v4","name":"review"}' "$ALICE"
	cy_status 409
	local b
	for b in '' '{}' '{"name":"x"}' '{"content_md":""}' '{"content_md":"x","scope":"user"}' \
		'{"content_md":"x","name":""}' '{"content_md":["x"]}'; do
		cy_api PUT "/v1/skills/$id" "$b" "$ALICE"
		[ "$status_code" = 400 ] || [ "$status_code" = 415 ] ||
			{ echo "body '$b': $status_code $body" >&2; return 1; }
	done
	cy_api PUT /v1/skills/bogus '{"content_md":"x"}' "$ALICE"
	cy_status 400
	cy_api PUT /v1/skills/00000000-0000-0000-0000-000000000000 '{"content_md":"x"}' "$ALICE"
	cy_status 404
	run cy_psql "SELECT name || ':' || content_md FROM skills WHERE id = '$id'"
	assert_output "final:v3"
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'skill.update' AND target = '$id'"
	assert_output 2
}

@test "GET /v1/skills: the caller's only, metadata without content, cursor paging" {
	cy_api GET /v1/skills "" "$TOKEN"
	cy_status 200
	cy_eq "$(jq -r '[.skills[].name] | join(",")' <<<"$body")" review "admin's list"
	for i in 1 2 3 4 5; do
		load_skill "page-$i" "p$i"
		cy_status 201
	done
	cy_api GET /v1/skills "" "$ALICE"
	cy_status 200
	n=$(cy_psql "SELECT count(*) FROM skills WHERE owner_id = '$ALICE_ID'")
	cy_eq "$(jq '.skills | length' <<<"$body")" "$n" "all of alice's"
	cy_eq "$(jq -r '.skills[0].name' <<<"$body")" page-5 "newest first"
	cy_eq "$(jq -r '.skills[0] | has("content_md")' <<<"$body")" false "no content in lists"
	cy_eq "$(jq -r '.skills[0] | keys | join(",")' <<<"$body")" \
		created_at,name,owner_id,scope,scope_id,size,skill_id,updated_at "keys"
	cy_eq "$(jq -r 'has("next_cursor")' <<<"$body")" false "no next_cursor on the last page"
	# Pages of 2 walk every skill once.
	local seen="" cursor="" pages=0
	while :; do
		cy_api GET "/v1/skills?limit=2${cursor:+&cursor=$cursor}" "" "$ALICE"
		cy_status 200
		seen+=$(jq -r '.skills[].skill_id' <<<"$body")$'\n'
		pages=$((pages + 1))
		cursor=$(jq -r '.next_cursor // empty' <<<"$body")
		[ -n "$cursor" ] || break
	done
	cy_eq "$(grep -c . <<<"$seen")" "$n" "paged count"
	cy_eq "$(sort -u <<<"$seen" | grep -c .)" "$n" "no repeats"
	cy_eq "$pages" "$(((n + 1) / 2))" "pages"
	local q
	for q in limit=0 limit=201 limit=x cursor=junk cursor=1_notauuid scope=global; do
		cy_api GET "/v1/skills?$q" "" "$ALICE"
		[ "$status_code" = 400 ] || { echo "$q: $status_code $body" >&2; return 1; }
	done
	cy_api GET "/v1/skills?scope=user&cursor=" "" "$ALICE"
	cy_status 200
}

@test "DELETE /v1/skills/{id}: 204, then 404; audited" {
	load_skill doomed "bye"
	id=$(jq -r .skill_id <<<"$body")
	cy_api DELETE "/v1/skills/$id" "" "$ALICE"
	cy_status 204
	cy_api DELETE "/v1/skills/$id" "" "$ALICE"
	cy_status 404
	cy_api GET "/v1/skills/$id" "" "$ALICE"
	cy_status 404
	cy_api DELETE /v1/skills/x "" "$ALICE"
	cy_status 400
	run cy_psql "SELECT count(*) FROM admin_audit_log WHERE action = 'skill.delete' AND target = '$id'"
	assert_output 1
}

@test "API tokens: tasks:read lists and reads, tasks:write changes, others are 403" {
	cy_api POST /v1/tokens '{"name":"sk-read","scopes":["tasks:read"]}' "$ALICE"
	read_tok=$(jq -r .token <<<"$body")
	cy_api POST /v1/tokens '{"name":"sk-write","scopes":["tasks:write"]}' "$ALICE"
	write_tok=$(jq -r .token <<<"$body")
	cy_api POST /v1/tokens '{"name":"sk-inf","scopes":["inference"]}' "$ALICE"
	inf_tok=$(jq -r .token <<<"$body")
	cy_api GET /v1/skills "" "$read_tok"
	cy_status 200
	load_skill by-read-token "x" "$read_tok"
	cy_status 403
	load_skill by-write-token "x" "$write_tok"
	cy_status 201
	cy_api GET /v1/skills "" "$inf_tok"
	cy_status 403
}

@test "a deleted user's skills go with them" {
	uid=$(cy_psql "INSERT INTO users (handle) VALUES ('bob') RETURNING id" | head -1)
	cy_psql "INSERT INTO skills (owner_id, name, content_md) VALUES ('$uid', 's', 'c')" >/dev/null
	cy_psql "DELETE FROM users WHERE id = '$uid'" >/dev/null
	run cy_psql "SELECT count(*) FROM skills WHERE owner_id = '$uid'"
	assert_output 0
}

@test "GET /v1/skills?owner=: your own by handle, id or me; another user's for admins only" {
	load_skill owned-by-alice '# mine'
	cy_status 201
	for o in alice "$ALICE_ID" me; do
		cy_api GET "/v1/skills?owner=$o" "" "$ALICE"
		cy_status 200
		jq -e 'any(.skills[]; .name == "owned-by-alice")' <<<"$body" >/dev/null
	done
	# Alice may not list the admin's; the admin may list hers (no content).
	cy_api GET /v1/skills?owner=admin "" "$ALICE"
	cy_status 403
	assert_output --partial "only an admin"
	cy_api GET /v1/skills?owner=alice "" "$TOKEN"
	cy_status 200
	jq -e 'any(.skills[]; .name == "owned-by-alice") and all(.skills[]; has("content_md") | not)' <<<"$body"
	cy_api GET "/v1/skills?owner=$ALICE_ID" "" "$TOKEN"
	cy_status 200
	jq -e 'all(.skills[]; .owner_id == env.ALICE_ID)' <<<"$body"
	cy_api GET /v1/skills?owner=nobody-here "" "$TOKEN"
	cy_status 404
	cy_api GET "/v1/skills?owner=" "" "$TOKEN"
	cy_status 400
	cy_api GET "/v1/skills?owner=$(printf 'x%.0s' $(seq 1 200))" "" "$TOKEN"
	cy_status 400
}
