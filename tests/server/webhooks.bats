#!/usr/bin/env bats
#
# webhooks.bats: a user's webhooks with the real server, a node and a small
# receiver (python3 http.server) that checks the HMAC-SHA256 signature of
# every delivery and fails the first attempt of each: task.finished is
# delivered, retried after the failure, signed; the delivery log shows the
# attempts; node.lost only for admins; another user's webhook is not found;
# garbage bodies are refused.

load ../lib/harness
load ../lib/identity
bats_require_minimum_version 1.5.0

SECRET=webhook-test-secret-0123456789

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start WEBHOOKS_ALLOW_PRIVATE=true
	cy_node_start node-01
	id_user whu user >/dev/null
	id_user whv user >/dev/null
	TOKEN=$(cy_admin_token)
	id_login whu
	U=$access
	id_login whv
	V=$access
	RPORT=$(cy_free_port)
	cat >"$CY_TMP/receiver.py" <<'PY'
import hashlib, hmac, http.server, json, sys
port, secret, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
seen = set()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(want, self.headers.get("Cynode-Signature", ""))
        d = self.headers.get("Cynode-Delivery", "")
        first = d not in seen
        seen.add(d)
        ev = json.loads(body)
        with open(log, "a") as f:
            f.write("%s %s %s %s %s\n" % ("good" if good else "bad", "first" if first else "again",
                self.headers.get("Cynode-Event"), ev.get("type"), ev.get("task_id", ev.get("node"))))
        self.send_response(500 if first else 204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	python3 "$CY_TMP/receiver.py" "$RPORT" "$SECRET" "$CY_TMP/received" &
	cy__track $!
	export TOKEN U V RPORT
}

@test "task.finished: delivered signed, the failed first attempt retried, the log kept" {
	cy_api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/hook\",\"events\":[\"task.finished\"],\"secret\":\"$SECRET\"}" "$U"
	cy_status 201
	hook=$(jq -r .id <<<"$body")
	[ "$(jq -c .events <<<"$body")" = '["task.finished"]' ]
	[ "$(jq -r .secret <<<"$body")" = null ] # a given secret is never shown
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","task_name":"wh-a"}' "$U"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	for _ in $(seq 100); do grep -q "again task.finished task.completed $id" "$CY_TMP/received" 2>/dev/null && break; sleep 0.1; done
	run -0 grep " $id\$" "$CY_TMP/received"
	assert_output "good first task.finished task.completed $id
good again task.finished task.completed $id"
	cy_api GET "/v1/webhooks/$hook/deliveries" "" "$U"
	cy_status 200
	# Two attempts (three when one more failed on the way, a loaded machine's reset).
	run -0 jq -c '.deliveries[] | [.event, .status, .attempts >= 2, .last_status, .last_error]' <<<"$body"
	assert_output '["task.finished","delivered",true,204,null]'
	cy_api GET /v1/webhooks "" "$U"
	run -0 jq -c '.webhooks[] | [.id == "'"$hook"'", .url, .deliveries]' <<<"$body"
	assert_output "[true,\"http://127.0.0.1:$RPORT/hook\",1]"
	# Another user neither sees nor deletes it.
	cy_api GET "/v1/webhooks/$hook/deliveries" "" "$V"
	cy_status 404
	cy_api DELETE "/v1/webhooks/$hook" "" "$V"
	cy_status 404
	cy_api GET /v1/webhooks "" "$V"
	[ "$(jq -c .webhooks <<<"$body")" = '[]' ]
	# Another user's task finishing is not delivered to it.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"exit 2","task_name":"wh-v"}' "$V"
	vid=$(jq -r .task_id <<<"$body")
	cy_api GET "/v1/tasks/$vid/result?wait=30" "" "$V"
	sleep 1.5
	run ! grep -q "$vid" "$CY_TMP/received"
	cy_api DELETE "/v1/webhooks/$hook" "" "$U"
	cy_status 200
	[ "$(cy_psql "SELECT count(*) FROM webhook_deliveries")" = 0 ]
}

@test "node.lost: admins only; a made secret is shown once" {
	cy_api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/n\",\"events\":[\"node.lost\"]}" "$U"
	cy_status 403
	cy_api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/n\",\"events\":[\"node.lost\",\"task.finished\"],\"secret\":\"$SECRET\"}" "$TOKEN"
	cy_status 201
	hook=$(jq -r .id <<<"$body")
	cy_psql "INSERT INTO nodes (node_slug, status) VALUES ('wh-ghost', 'active')"
	cy_psql "UPDATE nodes SET status = 'inactive' WHERE node_slug = 'wh-ghost'"
	for _ in $(seq 100); do grep -q "again node.lost node.lost wh-ghost" "$CY_TMP/received" 2>/dev/null && break; sleep 0.1; done
	run -0 grep "wh-ghost" "$CY_TMP/received"
	assert_output "good first node.lost node.lost wh-ghost
good again node.lost node.lost wh-ghost"
	cy_api DELETE "/v1/webhooks/$hook" "" "$TOKEN"
	cy_status 200
	cy_api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/m\",\"events\":[\"task.finished\"]}" "$U"
	cy_status 201
	[ "$(jq -r .secret <<<"$body" | wc -c)" = 49 ]
	cy_api GET /v1/webhooks "" "$U"
	run ! grep -q secret <<<"$body"
	cy_api DELETE "/v1/webhooks/$(jq -r '.webhooks[0].id' <<<"$body")" "" "$U"
	cy_status 200
}

@test "a receiver that keeps failing: retried with backoff, the error kept" {
	cy_api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:1/down\",\"events\":[\"task.finished\"],\"secret\":\"$SECRET\"}" "$U"
	cy_status 201
	hook=$(jq -r .id <<<"$body")
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"true","task_name":"wh-down"}' "$U"
	sleep 4.5
	cy_api GET "/v1/webhooks/$hook/deliveries" "" "$U"
	run -0 jq -r '.deliveries[0] | "\(.status) \(.attempts) \(.last_status) \(.next_attempt_at != null) \(.last_error | length > 0)"' <<<"$body"
	# Attempts at about 0, 1 and 3 s (then 7 s): three so far.
	assert_output "pending 3 null true true"
	cy_api DELETE "/v1/webhooks/$hook" "" "$U"
}

@test "garbage bodies: 400 naming the field" {
	local b
	for b in '{}|url is required' '{"url":"ftp://x","events":["task.finished"]}|url must be' \
		'{"url":"http://","events":["task.finished"]}|url must be' \
		'{"url":"http://x y","events":["task.finished"]}|url must be' \
		'{"url":"http://x","events":[]}|events' '{"url":"http://x","events":["task.done"]}|events[0]' \
		'{"url":"http://x","events":["task.finished","task.finished"]}|twice' \
		'{"url":"http://x","events":["task.finished"],"secret":"short"}|secret' \
		'{"url":"http://x","events":"task.finished"}|events' \
		'{"url":"http://x","events":["task.finished"],"extra":1}|unknown field'; do
		cy_api POST /v1/webhooks "${b%%|*}" "$U"
		cy_status 400
		run -0 jq -r .detail <<<"$body"
		assert_output --partial "${b#*|}"
	done
	cy_api GET /v1/webhooks/not-a-uuid/deliveries "" "$U"
	cy_status 404
	cy_api GET "/v1/webhooks/00000000-0000-4000-8000-000000000000/deliveries?limit=0" "" "$U"
	cy_status 400
}
