#!/usr/bin/env bats
#
# events.bats: GET /v1/events, the server-sent event stream of task and
# node state changes, with the real server, PostgreSQL and a node running
# jobs in bubblewrap: a task's created/running/completed in order, live
# on a follow stream and afterwards; resuming with Last-Event-ID (or
# since=) gives exactly the missed events; a user sees only their own
# tasks' events and no node events; operators and admins see node events;
# a second replica streams the same ids; the server's own writes are
# announced by its notification sender after they commit, other writers'
# by the triggers; a client that goes away frees its stream; garbage
# parameters are refused.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start HTTP_THREADS=4
	cy_node_start node-01 sandbox.max_concurrency=4
	id_user bob user >/dev/null
	id_user carol user >/dev/null
	id_user olga operator >/dev/null
	TOKEN=$(cy_admin_token)
	id_login bob
	BOB=$access
	id_login carol
	CAROL=$access
	id_login olga
	OLGA=$access
	export TOKEN BOB CAROL OLGA
}

# task TOKEN NAME SCRIPT: creates a commands task; prints its id
task()
{
	cy_api POST /v1/tasks "$(jq -cn --arg n "$2" --arg s "$3" \
		'{task_name:$n, input_mode:"commands", prompt:$s}')" "$1"
	cy_status 201 >&2 || return 1
	jq -r .task_id <<<"$body"
}

# finish TOKEN ID: waits for the task to end
finish()
{
	cy_api GET "/v1/tasks/$2/result?wait=60" "" "$1"
	cy_status 200
}

# events TOKEN QUERY [CURL ARGS...]: a one-off read (follow=false); $body the stream
events()
{
	local tok=$1 q=$2
	shift 2
	body=$(curl -s -m 20 -H "Authorization: Bearer $tok" "$@" \
		"$CY_GATEWAY_URL/v1/events?follow=false${q:+&$q}")
}

# data: the JSON objects of the events in $body, one a line
data() { sed -n 's/^data: //p' <<<"$body"; }

# settle: waits until the event log holds no gap the horizon waits on
settle() { sleep 0.3; }

@test "a task's events in order: created, running, completed, with ids, types and data" {
	local id
	id=$(task "$BOB" ev-order 'echo hi')
	finish "$BOB" "$id"
	settle
	events "$BOB" "task=$id"
	run -0 jq -r '.type' < <(data)
	assert_output $'task.created\ntask.running\ntask.completed'
	# The SSE fields agree with the data; ids ascend.
	run -0 grep -c '^event: task\.' <<<"$body"
	assert_output 3
	ids=$(sed -n 's/^id: //p' <<<"$body" | tail -n 3 | tr '\n' ' ')
	[ "$ids" = "$(data | jq -r .id | tr '\n' ' ')" ]
	[ "$(sed -n 's/^id: //p' <<<"$body" | tail -n 3 | sort -n | tr '\n' ' ')" = "$ids" ]
	run -0 jq -c '[.task_id == "'"$id"'", .task_name, .status, .previous, (.time | test("^[0-9-]{10}T[0-9:.]+Z$"))]' < <(data)
	assert_output $'[true,"ev-order","queued",null,true]\n[true,"ev-order","running","queued",true]\n[true,"ev-order","completed","running",true]'
	# The answer is an event stream that ended (follow=false).
	run -0 curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' -H "Authorization: Bearer $BOB" \
		"$CY_GATEWAY_URL/v1/events?follow=false&task=$id"
	assert_output "200 text/event-stream"
}

@test "a follow stream sees a new task live, in order, then keeps the connection" {
	local id f=$CY_TMP/follow.out
	curl -s -N -m 30 -H "Authorization: Bearer $BOB" "$CY_GATEWAY_URL/v1/events?type=task" >"$f" &
	pid=$!
	# The stream opens with its starting point (an id line without data).
	for _ in $(seq 50); do grep -q '^id: ' "$f" && break; sleep 0.1; done
	run -0 head -n 2 "$f"
	assert_line --index 0 'retry: 2000'
	id=$(task "$BOB" ev-live 'sleep 0.5; exit 3')
	for _ in $(seq 100); do grep -q 'task.failed' "$f" && break; sleep 0.1; done
	kill -0 "$pid" # still connected
	kill "$pid"
	wait "$pid" || true
	run -0 sed -n 's/^event: //p' "$f"
	assert_output $'task.created\ntask.running\ntask.failed'
	run -0 grep -c "\"task_id\": \"$id\"" "$f"
	assert_output 3
}

@test "follow streams filter live events: own tasks only, node events for admins" {
	local c=$CY_TMP/carol.out a=$CY_TMP/admin.out bid cid
	curl -s -N -m 30 -H "Authorization: Bearer $CAROL" "$CY_GATEWAY_URL/v1/events" >"$c" &
	p1=$!
	curl -s -N -m 30 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL/v1/events?all=true" >"$a" &
	p2=$!
	for _ in $(seq 50); do grep -q '^id: ' "$c" && grep -q '^id: ' "$a" && break; sleep 0.1; done
	bid=$(task "$BOB" ev-live-bob 'true')
	cid=$(task "$CAROL" ev-live-carol 'true')
	cy_psql "INSERT INTO nodes (node_slug, status) VALUES ('live-ghost', 'active'); DELETE FROM nodes WHERE node_slug = 'live-ghost'"
	for _ in $(seq 100); do grep -q 'live-ghost.*removed' "$a" && grep -c 'task.completed' "$a" | grep -q 2 && break; sleep 0.1; done
	for _ in $(seq 50); do grep -q 'task.completed' "$c" && break; sleep 0.1; done
	kill "$p1" "$p2"
	wait "$p1" "$p2" || true
	run -0 sed -n 's/^data: //p' "$c"
	assert_output --partial "$cid"
	refute_output --partial "$bid"
	refute_output --partial live-ghost
	run -0 sed -n 's/^data: //p' "$a"
	assert_output --partial "$cid"
	assert_output --partial "$bid"
	assert_output --partial '"node.removed"'
}

@test "resume: Last-Event-ID and since give exactly the events after that id" {
	local a b first all
	a=$(task "$BOB" ev-resume-a 'true')
	finish "$BOB" "$a"
	b=$(task "$BOB" ev-resume-b 'true')
	finish "$BOB" "$b"
	settle
	events "$BOB" "since=0&type=task"
	all=$(data | jq -r .id)
	first=$(data | jq -r "select(.task_id == \"$a\") | .id" | head -n 1)
	want=$(data | jq -r "select(.id > $first) | .id")
	[ "$(wc -l <<<"$want")" -ge 5 ]
	events "$BOB" "type=task" -H "Last-Event-ID: $first"
	[ "$(data | jq -r .id)" = "$want" ]
	# since= says the same; Last-Event-ID wins over it.
	events "$BOB" "type=task&since=$first"
	[ "$(data | jq -r .id)" = "$want" ]
	events "$BOB" "type=task&since=0" -H "Last-Event-ID: $first"
	[ "$(data | jq -r .id)" = "$want" ]
	# Resuming from the last id gives nothing; a follow stream resumed
	# from an id first sends what was missed, then waits.
	events "$BOB" "type=task" -H "Last-Event-ID: $(tail -n 1 <<<"$all")"
	[ -z "$(data)" ]
	# (curl's time limit ends it: exit 28.)
	run -28 curl -s -N -m 3 -H "Authorization: Bearer $BOB" -H "Last-Event-ID: $first" \
		"$CY_GATEWAY_URL/v1/events?type=task"
	[ "$(sed -n 's/^data: //p' <<<"$output" | jq -r .id)" = "$want" ]
}

@test "a user sees only their own tasks' events and no node events" {
	local b c
	b=$(task "$BOB" ev-bob 'true')
	c=$(task "$CAROL" ev-carol 'true')
	finish "$BOB" "$b"
	finish "$CAROL" "$c"
	settle
	events "$CAROL" "since=0"
	[ -n "$(data)" ]
	run -0 jq -r '.task_id // .node' < <(data)
	refute_output --partial "$b"
	assert_output --partial "$c"
	run -0 jq -r 'select(.type | startswith("node.")) | .type' < <(data)
	assert_output ""
	# Another's task by id or name: not found / not owner; all=true is for operators.
	run -0 curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer $CAROL" \
		"$CY_GATEWAY_URL/v1/events?follow=false&task=$b"
	assert_output --regexp ' 40[34]$'
	run -0 curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer $CAROL" \
		"$CY_GATEWAY_URL/v1/events?follow=false&all=true"
	assert_output --partial "Operator role required"
	assert_output --regexp ' 403$'
	# An operator sees every user's with all=true, and one task of another's.
	events "$OLGA" "since=0&type=task&all=true"
	run -0 jq -r .task_id < <(data)
	assert_output --partial "$b"
	assert_output --partial "$c"
	events "$OLGA" "task=$b"
	run -0 jq -r .type < <(data)
	assert_output $'task.created\ntask.running\ntask.completed'
}

@test "node events: admins and operators only; drained, active, lost and removed" {
	run -0 curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer $BOB" \
		"$CY_GATEWAY_URL/v1/events?follow=false&type=node"
	assert_output --regexp ' 403$'
	events "$TOKEN" "since=0&type=node"
	run -0 jq -r '"\(.type) \(.node)"' < <(data)
	assert_line "node.registered node-01"
	events "$OLGA" "since=0&type=node"
	run -0 jq -r '"\(.type) \(.node)"' < <(data)
	assert_line "node.registered node-01"
	last=$(sed -n 's/^id: //p' <<<"$body" | tail -n 1)
	cy_api POST /v1/nodes/node-01/drain '{}' "$TOKEN"
	cy_status 200
	cy_api POST /v1/nodes/node-01/undrain '{}' "$TOKEN"
	cy_status 200
	# A lost node and a removed one, as the liveness check and removal write them.
	cy_psql "INSERT INTO nodes (node_slug, status) VALUES ('ghost', 'active')"
	cy_psql "UPDATE nodes SET status = 'inactive' WHERE node_slug = 'ghost'"
	cy_psql "DELETE FROM nodes WHERE node_slug = 'ghost'"
	settle
	events "$TOKEN" "type=node" -H "Last-Event-ID: $last"
	run -0 jq -r '"\(.type) \(.node) \(.status) \(.previous)"' < <(data)
	assert_output $'node.drained node-01 drained active\nnode.active node-01 active drained\nnode.registered ghost active null\nnode.lost ghost inactive active\nnode.removed ghost removed inactive'
	# A user's default stream has none of them.
	events "$BOB" "since=$last"
	run ! grep -q 'node\.' <<<"$body"
}

@test "a second replica streams the same ids" {
	local gw2 cp2 id
	gw2=$(cy_free_port)
	cp2=$(cy_free_port)
	stack_server_start "$gw2" "$cp2" "$CY_TMP/server-replica.log" "$CY_TMP/replica.pid" \
		"JWT_SECRET=$CY_JWT_SECRET" "NODE_REGISTRATION_PSK=$CY_PSK" \
		"BOOTSTRAP_ADMIN_PASSWORD=$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false
	cy__track "$STACK_SERVER_PID"
	f=$CY_TMP/replica.out
	curl -s -N -m 30 -H "Authorization: Bearer $BOB" "http://127.0.0.1:$gw2/v1/events" >"$f" &
	pid=$!
	for _ in $(seq 50); do grep -q '^id: ' "$f" && break; sleep 0.1; done
	id=$(task "$BOB" ev-replica 'true')
	for _ in $(seq 100); do grep -q 'task.completed' "$f" && break; sleep 0.1; done
	kill "$pid"
	wait "$pid" || true
	events "$BOB" "task=$id"
	want=$(grep -E '^(id|event|data): ' <<<"$body" | grep -v '^id: 0$')
	run -0 grep -E '^(id|event|data): ' "$f"
	# The replica's live stream (after its opening id line) is the first one's answer.
	[ "$(tail -n +2 <<<"$output")" = "$want" ] || { echo "$output"; echo "---"; echo "$want"; false; }
	stack_kill_pid "$(cat "$CY_TMP/replica.pid")" 10
}

@test "the server's own writes notify from its sender, after their commits; psql's from the trigger" {
	local f sender pids
	f=$CY_TMP/listen.out
	# psql prints each notification it has received after each command, with
	# the backend that sent it: a create, its claim and its result are
	# announced by the server's notification connection, not by the
	# transactions that made them (PostgreSQL serialises those on one lock).
	psql "$DATABASE_URL" -X -q -c 'LISTEN cynode_events' -c 'LISTEN cynode_task_closed' \
		-c 'LISTEN cynode_jobs' -c 'SELECT pg_sleep(4)' -c 'SELECT 1' >"$f" 2>&1 &
	pid=$!
	sleep 1
	id=$(task "$BOB" notify-sender 'true')
	cy_api GET "/v1/tasks/$id/result?wait=10" "" "$BOB"
	cy_status 200
	# A write that is not the server's still notifies from its own transaction.
	cy_psql "INSERT INTO nodes (node_slug, status) VALUES ('ghost-n', 'active')"
	cy_psql "DELETE FROM nodes WHERE node_slug = 'ghost-n'"
	wait "$pid"
	sender=$(cy_psql "SELECT pid FROM pg_stat_activity WHERE application_name = 'cynode-server-notify'")
	[ -n "$sender" ]
	cat "$f"
	grep -q "\"cynode_jobs\" received from server process with PID $sender\." "$f"
	grep -q "\"cynode_task_closed\" with payload \"$id\" received from server process with PID $sender\." "$f"
	# Every cynode_events but the psql's two node events came from the sender.
	pids=$(sed -n 's/.*"cynode_events" received from server process with PID \([0-9]*\)\./\1/p' "$f" | sort | uniq -c)
	run -0 awk -v s="$sender" '$2 != s { n += $1 } END { print n + 0 }' <<<"$pids"
	assert_output 2
	cy_psql "DELETE FROM events WHERE node_slug = 'ghost-n'"
}

@test "a client that goes away frees its stream" {
	metric() { curl -s -m 10 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL/metrics" |
		sed -n 's/^cynode_events_streams //p'; }
	# The earlier tests' clients are gone; their streams end at once, at the
	# next event they would send, or at their next keep-alive (every 15 s:
	# a stream whose filter this event does not match has nothing to write
	# before that, so it cannot notice sooner).
	task "$BOB" ev-before 'true' >/dev/null
	for _ in $(seq 250); do [ "$(metric)" = 0 ] && break; sleep 0.1; done
	[ "$(metric)" = 0 ]
	curl -s -N -m 30 -H "Authorization: Bearer $BOB" "$CY_GATEWAY_URL/v1/events" >/dev/null &
	pid=$!
	for _ in $(seq 50); do [ "$(metric)" = 1 ] && break; sleep 0.1; done
	[ "$(metric)" = 1 ]
	kill "$pid"
	wait "$pid" || true
	# Noticed at once (the connection closes) or at the next event.
	task "$BOB" ev-gone 'true' >/dev/null
	for _ in $(seq 100); do [ "$(metric)" = 0 ] && break; sleep 0.1; done
	[ "$(metric)" = 0 ]
}

@test "garbage parameters: 400 naming the parameter" {
	local q
	for q in "type=tasks:type must be task or node" "type=:type must be task or node" \
		"since=-1:since must be an event id" "since=abc:since must be an event id" \
		"since=99999999999999999999:since must be an event id" \
		"follow=yes:follow must be true or false" "all=1:all must be true or false" \
		"type=node&task=x:type=node takes neither task nor all"; do
		cy_api GET "/v1/events?${q%%:*}" "" "$TOKEN"
		cy_status 400
		run -0 jq -r .detail <<<"$body"
		assert_output --partial "${q#*:}"
	done
	run -0 curl -s -m 10 -w ' %{http_code}' -H "Authorization: Bearer $TOKEN" \
		-H 'Last-Event-ID: 12x' "$CY_GATEWAY_URL/v1/events"
	assert_output --regexp 'Last-Event-ID must be an event id.* 400$'
	cy_api GET "/v1/events?task=no-such-task" "" "$TOKEN"
	cy_status 404
	cy_api GET "/v1/events?follow=false" "" ""
	cy_status 401
}

@test "keep-alive comments on an idle stream" {
	run -28 curl -s -N -m 17 -H "Authorization: Bearer $BOB" \
		"$CY_GATEWAY_URL/v1/events?since=999999999"
	assert_line ': keepalive'
}

@test "retention: the chores leader deletes events older than events.retention" {
	cy_psql "UPDATE events SET created_at = now() - interval '9 days' WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 2)"
	before=$(cy_psql "SELECT count(*) FROM events")
	for _ in $(seq 150); do
		[ "$(cy_psql "SELECT count(*) FROM events WHERE created_at < now() - interval '8 days'")" = 0 ] && break
		sleep 0.5
	done
	[ "$(cy_psql "SELECT count(*) FROM events WHERE created_at < now() - interval '8 days'")" = 0 ]
	[ "$(cy_psql "SELECT count(*) FROM events")" -lt "$before" ]
}

@test "a client that stops reading neither blocks the others nor holds its stream past the stall limit" {
	metric() { curl -s -m 10 -H "Authorization: Bearer $TOKEN" "$CY_GATEWAY_URL/metrics" |
		sed -n 's/^cynode_events_streams //p'; }
	# About 20 MB of node events for a one-off read that nobody takes.
	cy_psql "INSERT INTO events (kind, type, node_slug, data) SELECT 'node', 'node.active', 'pad',
		jsonb_build_object('node', 'pad', 'status', 'active', 'pad', repeat('x', 300))
		FROM generate_series(1, 60000)"
	python3 - "${CY_GATEWAY_URL#http://}" "$TOKEN" 95 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, int(port)))
s.sendall(("GET /v1/events?type=node&since=0&follow=false HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
time.sleep(int(sys.argv[3]))  # never reads
PY
	pid=$!
	for _ in $(seq 50); do [ "$(metric)" = 1 ] && break; sleep 0.2; done
	[ "$(metric)" = 1 ]
	# Meanwhile another stream gets its events at once.
	f=$CY_TMP/beside.out
	curl -s -N -m 20 -H "Authorization: Bearer $BOB" "$CY_GATEWAY_URL/v1/events?type=task" >"$f" &
	p2=$!
	for _ in $(seq 50); do grep -q '^id: ' "$f" && break; sleep 0.1; done
	id=$(task "$BOB" ev-beside 'true')
	for _ in $(seq 100); do grep -q "task.completed" "$f" && break; sleep 0.1; done
	kill "$p2"
	wait "$p2" || true
	grep -q "\"task_id\": \"$id\"" "$f"
	# The stalled one is dropped after EVENTS_STALL_MS (60 s), its client still connected.
	for _ in $(seq 90); do [ "$(metric)" = 0 ] && break; sleep 1; done
	[ "$(metric)" = 0 ]
	kill -0 "$pid"
	grep -q 'event=events_client_stalled' "$CY_TMP/server.log"
	kill "$pid"
	wait "$pid" || true
	cy_psql "DELETE FROM events WHERE node_slug = 'pad'"
}
