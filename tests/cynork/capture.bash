# shellcheck shell=bash
#
# capture.bash: a recording HTTP server for the cynork tests that check
# what cynork sends (request bodies and headers), loaded by chat.bats and
# models.bats after the harness.
#
#   capture_start        start it; exports CAPTURE_URL; every request is
#                        appended to $CY_TMP/capture.jsonl as one JSON line
#                        {"method","path","headers":{lower-case name: value},
#                        "body": the parsed JSON body or null}.
#   capture_last [JQ]    the last recorded request (filtered by jq JQ).
#
# Answers: POST /v1/chat/completions with "captured reply to N messages"
# (server-sent events in three chunks, after a comment and a named "ping"
# event that are no chunks, when "stream" is true, else one
# chat.completion object), GET /v1/models with two models, POST /v1/tasks
# with 201 and a task id, anything else 404 in OpenAI's error shape.

capture_start()
{
	local port i

	port=$(cy_free_port) || return 1
	: >"$CY_TMP/capture.jsonl"
	python3 - "$port" "$CY_TMP/capture.jsonl" >"$CY_TMP/capture.out" 2>&1 <<'EOF' &
import json, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

PORT, LOG = int(sys.argv[1]), sys.argv[2]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": parsed}
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return parsed

    def send(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.record(b"")
        if self.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 1, "owned_by": "cynode", "nodes": n}
                    for m, n in (("zeta:1b", 1), ("alpha:7b", 2))]
            return self.send(200, "application/json", json.dumps({"object": "list", "data": data}).encode())
        self.send(404, "application/json", b'{"error":{"message":"no such path","type":"cynodeai_error","param":null,"code":"not_found"}}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        req = self.record(body) or {}
        if self.path == "/v1/tasks":
            return self.send(201, "application/json",
                             b'{"task_id":"00000000-0000-4000-8000-000000000001","status":"queued"}')
        if self.path != "/v1/chat/completions":
            return self.do_GET()
        text = "captured reply to %d messages" % len(req.get("messages") or [])
        if not req.get("stream"):
            obj = {"id": "c", "object": "chat.completion", "created": 1, "model": "zeta:1b",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop"}]}
            return self.send(200, "application/json", json.dumps(obj).encode())
        words = text.split(" ")
        parts = [words[0], " " + " ".join(words[1:3]), " " + " ".join(words[3:])]
        # a comment and a named event that are not chunks: a client skips them
        out = b": keep-alive\n\nevent: ping\ndata: not json\n\n"
        for p in parts:
            chunk = {"id": "c", "object": "chat.completion.chunk", "model": "zeta:1b",
                     "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            out += b"data: " + json.dumps(chunk).encode() + b"\n\n"
        out += b"data: [DONE]\n\n"
        self.send(200, "text/event-stream", out)

ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
EOF
	cy__track $!
	CAPTURE_URL=http://127.0.0.1:$port
	export CAPTURE_URL
	for i in $(seq 1 100); do
		curl -s -o /dev/null "$CAPTURE_URL/" && return 0
		sleep 0.1
	done
	echo "capture server did not start:" >&2
	cat "$CY_TMP/capture.out" >&2
	return 1
}

capture_last()
{
	tail -n 1 "$CY_TMP/capture.jsonl" | jq -c "${1:-.}"
}
