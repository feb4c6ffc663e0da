#!/usr/bin/env bats
# A statement whose connection dies after PostgreSQL ran it: the server
# must not run a write twice (its outcome is unknown, the client is told
# so), while a read is simply run again on a new connection.  tests/lib/pgcut
# relays the server's database connections and loses one reply on demand.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	CY_DIRECT_URL=$DATABASE_URL
	CY_PROXY_DIR=$CY_TMP/pgcut
	mkdir -p "$CY_PROXY_DIR"
	"$BATS_TEST_DIRNAME/../lib/pgcut" "$CY_PROXY_DIR" "$STACK_PG_PORT" \
		"$CY_PG_DIR/.s.PGSQL.$STACK_PG_PORT" 2>"$CY_TMP/pgcut.log" &
	cy__track $!
	local i
	for ((i = 0; i < 50; i++)); do
		[ -S "$CY_PROXY_DIR/.s.PGSQL.$STACK_PG_PORT" ] && break
		sleep 0.1
	done
	DATABASE_URL="postgresql:///cynode?host=$CY_PROXY_DIR&port=$STACK_PG_PORT&user=cynode"
	export DATABASE_URL CY_DIRECT_URL CY_PROXY_DIR
	cy_server_start
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

# Rows counted on a direct connection (the relay may be cutting).
count_tasks()
{
	psql "$CY_DIRECT_URL" -X -Atq -c "SELECT count(*) FROM tasks WHERE prompt LIKE '%$1%'"
}

# Arms the relay: the next database message holding $1 loses its reply.
cut_on()
{
	rm -f "$CY_PROXY_DIR/cut.done"
	printf '%s' "$1" >"$CY_PROXY_DIR/cut"
}

@test "a task insert whose reply is lost is not run again: one task, 503 naming the Idempotency-Key" {
	local m=lost-reply-$RANDOM$RANDOM
	cut_on "$m"
	cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"echo $m\"}" "$CY_TOKEN"
	[ -f "$CY_PROXY_DIR/cut.done" ]
	cy_status 503
	[[ $body == *Idempotency-Key* ]]
	cy_eq "$(count_tasks "$m")" 1
	grep -q 'db_outcome_unknown' "$CY_TMP/server.log"
	# The next request gets a fresh connection.
	cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"prompt\":\"echo after-$m\"}" "$CY_TOKEN"
	cy_status 201
	cy_eq "$(count_tasks "after-$m")" 1
}

@test "retrying a create whose reply was lost with the same Idempotency-Key replays the task" {
	local m=replay-$RANDOM$RANDOM key id
	key=key-$RANDOM$RANDOM-x
	cut_on "$m"
	run curl -s -o "$CY_TMP/first" -w '%{http_code}' -X POST -H "Authorization: Bearer $CY_TOKEN" \
		-H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
		--data-binary "{\"input_mode\":\"commands\",\"prompt\":\"echo $m\"}" "$CY_GATEWAY_URL/v1/tasks"
	cy_eq "$output" 503
	run curl -s -D "$CY_TMP/hdr" -o "$CY_TMP/second" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $CY_TOKEN" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $key" \
		--data-binary "{\"input_mode\":\"commands\",\"prompt\":\"echo $m\"}" "$CY_GATEWAY_URL/v1/tasks"
	cy_eq "$output" 200
	grep -qi '^Idempotent-Replayed: true' "$CY_TMP/hdr"
	id=$(jq -r .task_id "$CY_TMP/second")
	cy_eq "$(psql "$CY_DIRECT_URL" -X -Atq -c "SELECT id FROM tasks WHERE prompt LIKE '%$m%'")" "$id"
}

@test "a read whose reply is lost runs again on a new connection" {
	local id
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo read-again"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cut_on "$id"
	cy_api GET "/v1/tasks/$id" "" "$CY_TOKEN"
	[ -f "$CY_PROXY_DIR/cut.done" ]
	cy_status 200
	cy_eq "$(jq -r .task_id <<<"$body")" "$id"
	grep -q 'db_reconnect' "$CY_TMP/server.log"
}

@test "a transaction whose COMMIT reply is lost: one task, 503, not run again" {
	local m=lost-commit-$RANDOM$RANDOM
	cut_on "commit:$m"
	cy_api POST /v1/tasks "{\"input_mode\":\"commands\",\"task_name\":\"n-$m\",\"prompt\":\"echo $m\"}" "$CY_TOKEN"
	[ -f "$CY_PROXY_DIR/cut.done" ]
	cy_eq "$(count_tasks "$m")" 1
	cy_status 503
	[[ $body == *Idempotency-Key* ]]
}

@test "a result write-back whose reply is lost is not run again as a read: stored once, the task ends" {
	local m=result-$RANDOM$RANDOM id
	# The job prints $m-42" (the prompt has the shell's arithmetic).  Only
	# the write-back holds $m-42 and a backslash: its result is JSON text
	# (the quote escaped), where the log chunk has the bytes as printed.
	cut_on "$m-42\\"
	cy_node_start node-01
	cy_api POST /v1/tasks "$(jq -nc --arg p "echo $m-\$((6*7))\\\"" \
		'{input_mode: "commands", prompt: $p}')" "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$id/result?wait=30" "" "$CY_TOKEN"
	cy_status 200
	cy_eq "$(jq -r .status <<<"$body")" completed
	[ -f "$CY_PROXY_DIR/cut.done" ]
	grep -q 'db_outcome_unknown.*statement=dispatch_finish' "$CY_TMP/server.log"
	run ! grep -q 'db_reconnect.*statement=dispatch_finish' "$CY_TMP/server.log"
	cy_eq "$(psql "$CY_DIRECT_URL" -X -Atq -c "SELECT count(*) || ' ' || string_agg(y.status, ',')
		FROM job_attempts y JOIN jobs j ON j.id = y.job_id WHERE j.task_id = '$id'")" "1 completed"
}
