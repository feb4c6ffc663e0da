#!/usr/bin/env bats
#
# Request bodies are checked by their routes' tables (lib/jcheck.c): for
# every field of every body the server takes, a wrong type, a value out of
# bounds, a missing required field and an unknown field are a 400 whose
# detail names the field; unknown fields are refused on the user API and
# accepted on the node-facing payloads and chat completions; and cynork
# sends no field the server does not know.

load ../lib/harness

ULID=01ARZ3NDEKTSV4RRFFQ69G5FAV
JOB=6f0c2a52-3c49-4b7e-9b8f-5b1d2c3e4f50
OTHER=0b4ad4a2-2e2b-4f5e-9c35-8c1a6d1e2f3a

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	TOKEN=$(cy_admin_token)
	cy_api POST /v1/users '{"handle":"plain","password":"long enough"}' "$TOKEN"
	cy_status 201
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$(capability body-n)" '{psk:$p, capability:$c}')"
	cy_status 201
	NODE_JWT=$(jq -r .auth.node_jwt <<<"$body")
	# body-n is registered now: it comes back with its credential.
	NODE_CRED=$(jq -r .auth.node_credential <<<"$body")
	cy_api POST /v1/tasks '{"prompt":"true","input_mode":"commands","task_name":"waited"}' "$TOKEN"
	cy_status 201
	TASK=$(jq -r .task_id <<<"$body")
	export TOKEN NODE_JWT NODE_CRED TASK
}

# capability SLUG -> a node_capability_report_v1
capability()
{
	jq -cn --arg s "$1" '{version:1, reported_at:"2026-01-01T00:00:00Z",
		node:{node_slug:$s, labels:["trusted"]}, compute:{cpu_cores:2, ram_mb:2048},
		sandbox:{supported:true, max_concurrency:3}, inference:{supported:false},
		worker_api:{base_url:"http://127.0.0.1:9"}}'
}

# detail: the problem's detail, or the message of an OpenAI-shaped error
detail()
{
	jq -r '.detail // .error.message // empty' <<<"$body"
}

# bad METHOD PATH TOKEN BASE: each line "WORDS|JQ" of stdin turns the valid
# body BASE into a bad one (jq program JQ), which must be answered 400 with
# WORDS in its detail.  Then BASE itself must not be a 400 (so the 400s
# came from the edits).
bad()
{
	local method=$1 path=$2 token=$3 base=$4 words edit b n=0

	while IFS='|' read -r words edit; do
		[ -n "$words" ] || continue
		b=$(jq -c "$edit" <<<"$base") || { echo "bad jq: $edit"; return 1; }
		cy_api "$method" "$path" "$b" "$token"
		cy_status 400 || { echo "edit: $edit"; return 1; }
		[[ $(detail) == *"$words"* ]] ||
			{ printf '%s %s\n  body:   %s\n  detail: %s\n  wanted: %s\n' "$method" "$path" \
				"$b" "$(detail)" "$words"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || { echo "no cases"; return 1; }
	cy_api "$method" "$path" "$base" "$token"
	[ "$status_code" != 400 ] || { echo "the base body of $path is refused: $body"; return 1; }
}

@test "login: each field's garbage is 400 naming it" {
	bad POST /v1/auth/login "" "$(jq -cn --arg p "$CY_ADMIN_PASSWORD" '{handle:"admin",password:$p}')" <<'EOT'
handle is required|del(.handle)
handle must be a non-empty string of at most 256 bytes|.handle = 5
handle must be a non-empty string|.handle = ""
handle must be|.handle = ("h" * 257)
password is required|del(.password)
password must be a non-empty string of at most 4096 bytes|.password = null
password must be|.password = ("p" * 4097)
unknown field 'user' (known: handle, password)|.user = "admin"
EOT
}

@test "refresh and logout: each field's garbage is 400 naming it" {
	bad POST /v1/auth/refresh "" '{"refresh_token":"garbage"}' <<'EOT'
refresh_token is required|del(.refresh_token)
refresh_token must be a non-empty string of at most 4096 bytes|.refresh_token = 7
refresh_token must be|.refresh_token = ""
refresh_token must be|.refresh_token = ("t" * 4097)
unknown field 'token' (known: refresh_token)|.token = "x"
EOT
	bad POST /v1/auth/logout "$(cy_admin_token)" '{"refresh_token":""}' <<'EOT'
refresh_token must be a string of at most 4096 bytes|.refresh_token = 5
refresh_token must be|.refresh_token = null
refresh_token must be|.refresh_token = ("t" * 4097)
unknown field 'all' (known: refresh_token)|.all = true
EOT
}

@test "users: create, password, reset_password and role bodies" {
	bad POST /v1/users "$TOKEN" \
		'{"handle":"body-u","password":"long enough","email":"b@example.com","role":"user"}' <<'EOT'
handle is required|del(.handle)
handle must be 1-64 letters, digits|.handle = "bad handle"
handle must be|.handle = ("h" * 65)
handle must be|.handle = ["h"]
password is required|del(.password)
password must be a string of 8 to 4096 bytes|.password = "short"
password must be|.password = 12345678
password must be|.password = ("p" * 4097)
email must be an email address|.email = "nope"
email must be|.email = 5
role must be admin, operator or user|.role = "root"
role must be|.role = null
unknown field 'name' (known: handle, password, email, role)|.name = "x"
EOT
	bad POST /v1/users/me/password "$TOKEN" \
		'{"current_password":"wrong current","new_password":"new password ok"}' <<'EOT'
current_password is required|del(.current_password)
current_password must be a non-empty string|.current_password = ""
current_password must be|.current_password = false
new_password is required|del(.new_password)
new_password must be a string of 8 to 4096 bytes|.new_password = "short"
new_password must be|.new_password = ("p" * 4097)
unknown field 'password' (known: current_password, new_password)|.password = "x"
EOT
	bad POST /v1/users/plain/reset_password "$TOKEN" '{"password":"long enough"}' <<'EOT'
password is required|del(.password)
password must be a string of 8 to 4096 bytes|.password = "1234567"
unknown field 'role' (known: password)|.role = "user"
EOT
	bad POST /v1/users/plain/role "$TOKEN" '{"role":"user"}' <<'EOT'
role is required|del(.role)
role must be admin, operator or user|.role = "wizard"
role must be|.role = 3
unknown field 'password' (known: role)|.password = "x"
EOT
}

@test "tokens: the create body" {
	bad POST /v1/tokens "$TOKEN" '{"name":"body-t","ttl":"1d","scopes":["tasks:read"]}' <<'EOT'
name is required|del(.name)
name must be 1-64 letters|.name = "no spaces"
name must be|.name = 5
scopes must be a non-empty array of at most 16 items|.scopes = []
scopes must be|.scopes = "tasks:read"
scopes must be|.scopes = [range(17) | "tasks:read"]
scopes[1] must be one of tasks:read, tasks:write, nodes:read, nodes:write, inference, secrets, metrics, admin|.scopes = ["tasks:read", "root"]
ttl must be a duration|.ttl = "soon"
ttl must be|.ttl = [1]
unknown field 'expires' (known: name, ttl, scopes)|.expires = 1
EOT
}

@test "tasks: every field of the create body" {
	bad POST /v1/tasks "$TOKEN" '{"prompt":"true","input_mode":"commands"}' <<'EOT'
prompt is required|del(.prompt)
prompt must be a non-empty string|.prompt = ""
prompt must be|.prompt = ["echo"]
input_mode must be one of prompt, script, commands|.input_mode = "shell"
input_mode must be|.input_mode = 1
task_name must be a string of at most 200 bytes|.task_name = ("n" * 201)
task_name must be|.task_name = 5
project_id must be a UUID|.project_id = "p1"
attachments must be an array of at most 4096 items|.attachments = "a.txt"
attachments must be|.attachments = [range(4097) | "f\(.)"]
attachments[0] is a path string; attachments are uploaded files now|.attachments = ["a", ""]
attachments[0] must be an object|.attachments = [7]
attachments[0]: name must be a non-empty string of at most 1024 bytes|.attachments = [{"name":"","sha256":("0"*64)}]
attachments[0]: sha256 is required|.attachments = [{"name":"a"}]
attachments[0]: unknown field 'x'|.attachments = [{"name":"a","sha256":("0"*64),"x":1}]
attachments[0].name 'a/../b': the name has a '.' or '..' component|.attachments = [{"name":"a/../b","sha256":("0"*64)}]
artifacts must be an array of at most 64 items|.artifacts = "out/"
artifacts[0] must be a non-empty string of at most 1024 bytes|.artifacts = [""]
artifacts[1] must be|.artifacts = ["out/", 7]
artifacts[0] '../x': the name has a '.' or '..' component|.artifacts = ["../x"]
artifacts[0] '/tmp/*': the name is absolute|.artifacts = ["/tmp/*"]
image must be a non-empty string of at most 1024 bytes|.image = ""
image must be|.image = 7
timeout_seconds must be an integer from 1 to 10800|.timeout_seconds = 0
timeout_seconds must be|.timeout_seconds = 10801
timeout_seconds must be|.timeout_seconds = "60"
priority must be an integer from -1000 to 1000|.priority = 1001
priority must be|.priority = 1.5
max_attempts must be an integer from 1 to 100|.max_attempts = 0
retry_backoff_seconds must be an integer from 0 to 86400|.retry_backoff_seconds = 86401
requirements must be an object|.requirements = ["gpu"]
requirements.labels must be an array of at most 32 items|.requirements = {labels: [range(33) | "l\(.)"]}
requirements.labels[0] must be a non-empty string of at most 128 bytes|.requirements = {labels: [("l" * 129)]}
requirements.gpus must be an integer from 0 to 1024|.requirements = {gpus: 1025}
unknown field 'requirements.gpu' (known: labels, gpus, gpu_model, nodes)|.requirements = {gpu: 1}
network_policy must be one of restricted, none, host|.network_policy = "bridge"
network_policy must be|.network_policy = 1
resources must be an object|.resources = "2G"
resources.cpu_cores must be an integer from 1 to 4096|.resources = {cpu_cores: 0}
resources.memory_mb must be an integer from 16 to 16777216|.resources = {memory_mb: 8}
resources.tmp_mb must be an integer from 1 to 1048576|.resources = {tmp_mb: 1.5}
resources.workspace_mb must be an integer from 1 to 16777216|.resources = {workspace_mb: 0}
unknown field 'resources.disk' (known: cpu_cores, memory_mb, workspace_mb, tmp_mb)|.resources = {disk: 1}
use_inference must be true or false|.use_inference = "yes"
model must be a model name|.model = "a b"
model must be|.model = 7
env must be an object|.env = ["A=B"]
env: 'CYNODE_X' is not a variable name|.env = {CYNODE_X: "x"}
env: '1A' is not|.env = {"1A": "x"}
env.A must be a string of at most 32768 bytes|.env = {A: 1}
env.A must be|.env = {A: ("x" * 32769)}
env has more than 256 variables|.env = ([range(257)] | map({key: "V\(.)", value: "x"}) | from_entries)
secrets must be an array of at most 64 items|.secrets = {name: "X"}
secrets must be|.secrets = [range(65) | {name: "S\(.)"}]
secrets[0] must be an object|.secrets = ["X"]
secrets[0].name is required|.secrets = [{env: "X"}]
secrets[0].name must be a secret name|.secrets = [{name: "CYNODE_X"}]
secrets[0].env must be a variable name|.secrets = [{name: "X", env: "INFERENCE_PROXY_URL"}]
unknown field 'secrets[0].value' (known: name, env)|.secrets = [{name: "X", value: "v"}]
variable 'A' is set by env and by secret 'A'|.env = {A: "x"} | .secrets = [{name: "A"}]
unknown secret 'NOT_SET'|.secrets = [{name: "NOT_SET"}]
env and secrets go with sandbox jobs|.input_mode = "prompt" | .env = {A: "b"}
use_sba must be true or false|.use_sba = 1
allow_pending must be true or false|.allow_pending = "yes"
skills must be a non-empty array of at most 8 items|.skills = []
skills[0] must be a skill's name or id|.skills = [7]
skills go with prompt tasks and agent jobs|.skills = ["x"]
job_spec_json goes with use_sba|.job_spec_json = {}
use_sba runs an agent on the prompt|.use_sba = true
unknown field 'promt' (known: prompt, input_mode, task_name, project_id, attachments, artifacts, image, timeout_seconds, priority, max_attempts, retry_backoff_seconds, requirements, network_policy, resources, use_inference, use_sba, allow_pending, after, array, skills, job_spec_json, env, secrets, model, queue)|.promt = "x"
array must be indexes and ranges such as "0-99"|.array = ""
array must be|.array = 7
array: range 5-3 ends before it starts|.array = "5-3"
array: more than 10000 elements|.array = "0-10000"
unknown field 'timeout'|.timeout = 5
EOT
}

@test "secrets: the put body" {
	bad PUT /v1/secrets/BODY_S "$TOKEN" '{"value":"v-1234"}' <<'EOT'
value is required|del(.value)
value must be a non-empty string of at most 65536 bytes|.value = ""
value must be|.value = ("x" * 65537)
value must be|.value = 5
value must be|.value = {}
project_id must be a UUID|.project_id = "p"
unknown field 'name' (known: value, project_id)|.name = "X"
EOT
}

@test "tasks: the wait body" {
	bad POST /v1/tasks:wait "$TOKEN" "$(jq -cn --arg t "$TASK" '{task_ids:[$t], wait:0}')" <<'EOT'
task_ids is required|del(.task_ids)
task_ids must be a non-empty array of at most 1000 items|.task_ids = []
task_ids must be|.task_ids = "x"
task_ids must be|.task_ids = [range(1001) | "t\(.)"]
task_ids[0] must be a task id or name|.task_ids = [""]
task_ids[1] must be|.task_ids = ["x", 5]
wait must be an integer from 0 to 60|.wait = 61
wait must be|.wait = -1
any must be true or false|.any = 1
unknown field 'timeout' (known: task_ids, wait, any)|.timeout = 1
EOT
}

@test "nodes: drain, enrollment tokens; actions without parameters refuse them" {
	bad POST /v1/nodes/body-n/drain "$TOKEN" '{"reason":"bodies"}' <<'EOT'
reason must be a string of at most 500 bytes|.reason = ("r" * 501)
reason must be|.reason = 7
unknown field 'why' (known: reason)|.why = "x"
EOT
	bad POST /v1/nodes/enrollment-tokens "$TOKEN" \
		'{"node_slug":"body-e","labels":["gpu"],"ttl_seconds":600}' <<'EOT'
node_slug must be a node slug (1-63 characters of [a-z0-9-])|.node_slug = "Bad_Slug"
node_slug must be|.node_slug = 5
labels must be an array of at most 32 items|.labels = "gpu"
labels must be|.labels = [range(33) | "l\(.)"]
labels[0] must be a label|.labels = ["GPU!"]
ttl_seconds must be an integer from 60 to|.ttl_seconds = 59
ttl_seconds must be|.ttl_seconds = "1h"
ttl_seconds must be an integer from 60 to 604800|.ttl_seconds = 604801
unknown field 'name' (known: node_slug, labels, ttl_seconds)|.name = "x"
EOT
	for act in undrain enable disable; do
		cy_api POST "/v1/nodes/body-n/$act" '{"reason":"x"}' "$TOKEN"
		cy_status 400
		[[ $(detail) == *"takes no parameters"* ]]
	done
	cy_api POST /v1/nodes/body-n/undrain '{}' "$TOKEN"
	cy_status 200
}

@test "config push: the body, and the document inside it" {
	bad POST /v1/config/push "$TOKEN" '{"document":{"notes":"bodies"},"nodes":["body-n"],"dry_run":true}' <<'EOT'
document is required|del(.document)
document must be an object|.document = "notes: x"
invalid configuration document: constraints.max_concurrency must be an integer from 1 to 1024|.document = {constraints: {max_concurrency: 0}}
invalid configuration document: unknown field 'policy.x' (known: sandbox, updates)|.document = {policy: {x: 1}}
nodes must be an array of at most 1000 items|.nodes = "body-n"
nodes[0] must be a node slug|.nodes = ["Bad_Slug"]
all must be true or false|.all = "yes"
dry_run must be true or false|.dry_run = 1
unknown field 'node' (known: document, nodes, all, dry_run, force)|.node = "body-n"
EOT
}

@test "node payloads: register, config ack, capability, heartbeat, job sync and result" {
	bad POST "$CY_CONTROL_URL/v1/nodes/register" "" \
		"$(jq -cn --arg k "$NODE_CRED" --argjson c "$(capability body-n)" '{node_credential:$k, capability:$c}')" <<'EOT'
capability is required|del(.capability)
capability must be an object|.capability = "x"
psk must be a string|.psk = 5
node_credential must be a string of at most 256 bytes|.node_credential = 5
enrollment_token must be|.enrollment_token = ("t" * 257)
running_config_version must be a ULID|.running_config_version = "v1"
compute.cpu_cores must be an integer from 0 to 1048576|.capability.compute.cpu_cores = "2"
unsupported capability report version 2|.capability.version = 2
EOT
	NODE_JWT=$(jq -r .auth.node_jwt <<<"$body")
	bad POST "$CY_CONTROL_URL/v1/nodes/config" "$NODE_JWT" \
		"{\"version\":1,\"node_slug\":\"body-n\",\"status\":\"failed\",\"config_version\":\"$ULID\"}" <<'EOT'
node_slug must be a string|.node_slug = 5
status is required|del(.status)
status must be one of applied, failed|.status = "ok"
config_version is required|del(.config_version)
config_version must be a ULID|.config_version = "v2"
ack_at must be a string|.ack_at = 5
error must be an object|.error = "boom"
error.message must be a string|.error = {message: 5}
unsupported config ack version 2; supported versions: 1|.version = 2
EOT
	bad POST "$CY_CONTROL_URL/v1/nodes/capability" "$NODE_JWT" "$(capability body-n)" <<'EOT'
compute.ram_mb must be an integer from 0 to|.compute.ram_mb = -1
sandbox must be an object|.sandbox = true
sandbox.max_concurrency must be an integer from 1 to 100000|.sandbox.max_concurrency = 0
inference.mode must be a string|.inference.mode = 5
node.labels[0] must be a string|.node.labels = [1]
reported_at must be a string|.reported_at = 5
unsupported capability report version 3|.version = 3
EOT
	bad POST "$CY_CONTROL_URL/v1/nodes/heartbeat" "$NODE_JWT" \
		'{"version":1,"node_slug":"body-n","config_version":"","running_jobs":0,"capability_hash":"x"}' <<'EOT'
running_jobs must be an integer from 0 to 1048576|.running_jobs = -1
running_jobs must be|.running_jobs = "0"
config_version must be a string|.config_version = 5
capability_hash must be a string|.capability_hash = []
node_slug must be a string|.node_slug = 5
unsupported heartbeat version (none)|del(.version)
EOT
	bad POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" "$NODE_JWT" '{"version":1,"running":[],"finished":[]}' <<EOT
running must be an array|.running = "x"
running[0] must be a job id (UUID)|.running = ["x"]
finished[1] must be a job id (UUID)|.finished = ["$JOB", 5]
unsupported job sync version 2|.version = 2
EOT
	bad POST "$CY_CONTROL_URL/v1/nodes/jobs/$JOB/result" "$NODE_JWT" \
		"{\"version\":1,\"job_id\":\"$JOB\",\"status\":\"completed\",\"exit_code\":0}" <<EOT
job_id is required|del(.job_id)
job_id must be the job's id (a UUID)|.job_id = "j1"
job_id '$OTHER' is not the job of the path|.job_id = "$OTHER"
status is required|del(.status)
status must be one of completed, failed, timeout, canceled|.status = "done"
exit_code must be an integer from -2147483648 to 2147483647|.exit_code = 4294967296
lease_id must be a UUID|.lease_id = "l1"
stdout must be a string|.stdout = 5
truncated must be an object|.truncated = true
unsupported job result version 2|.version = 2
EOT
}

@test "chat completions: garbage is 400 in OpenAI's shape naming the field" {
	bad POST /v1/chat/completions "$TOKEN" '{"messages":[{"role":"user","content":"x"}]}' <<'EOT'
messages is required|del(.messages)
messages must be a non-empty array of at most 4096 items|.messages = []
messages[0] must be an object|.messages = ["hi"]
messages[0].role is required|.messages = [{content: "x"}]
messages[0].role must be one of system, user, assistant, tool, developer|.messages = [{role: "wizard"}]
messages[0].content must be a string or an array of parts|.messages = [{role: "user", content: 7}]
model must be a model name|.model = "a b"
stream must be true or false|.stream = "yes"
stream_options must be an object|.stream_options = 1
EOT
	[ "$(jq -r .error.code <<<"$(chat_bad)")" = invalid_request ]
}

# chat_bad: the answer to a chat request with a bad field
chat_bad()
{
	cy_api POST /v1/chat/completions '{"messages":[]}' "$TOKEN"
	printf '%s' "$body"
}

# same METHOD PATH TOKEN BODY: BODY and BODY with unknown fields get the same status
same()
{
	local want

	cy_api "$1" "$2" "$4" "$3"
	want=$status_code
	[ "$want" != 400 ] || { echo "$2: the base body is refused: $body"; return 1; }
	cy_api "$1" "$2" "$(jq -c '.new_optional_field = {"from": "a newer version"} |
		.another = [1, 2]' <<<"$4")" "$3"
	cy_eq "$status_code" "$want" "$2 with unknown fields" || { echo "$body"; return 1; }
}

@test "unknown fields are accepted on node payloads and chat completions" {
	same POST "$CY_CONTROL_URL/v1/nodes/register" "" \
		"$(jq -cn --arg k "$NODE_CRED" --argjson c "$(capability body-n | jq -c '.gpu_v2 = {}')" '{node_credential:$k, capability:$c}')"
	NODE_JWT=$(jq -r .auth.node_jwt <<<"$body")
	same POST "$CY_CONTROL_URL/v1/nodes/capability" "$NODE_JWT" \
		"$(capability body-n | jq -c '.compute.npu = 1 | .inference.engines = ["x"]')"
	same POST "$CY_CONTROL_URL/v1/nodes/heartbeat" "$NODE_JWT" '{"version":1,"node_slug":"body-n"}'
	same POST "$CY_CONTROL_URL/v1/nodes/config" "$NODE_JWT" \
		"{\"version\":1,\"node_slug\":\"body-n\",\"status\":\"failed\",\"config_version\":\"$ULID\",\"error\":{\"type\":\"x\",\"message\":\"m\"}}"
	same POST "$CY_CONTROL_URL/v1/nodes/jobs/sync" "$NODE_JWT" '{"version":1,"running":[]}'
	same POST "$CY_CONTROL_URL/v1/nodes/jobs/$JOB/result" "$NODE_JWT" \
		"{\"version\":1,\"job_id\":\"$JOB\",\"status\":\"failed\",\"inference_usage\":[]}"
	# No inference node here: 503 with or without OpenAI's optional fields.
	same POST /v1/chat/completions "$TOKEN" \
		'{"messages":[{"role":"user","content":"x","name":"me"}],"temperature":0.2,"tools":[]}'
}

@test "cynork sends no field the server does not know" {
	local out=$CY_TMP/cynork.out doc=$CY_TMP/doc.yaml

	cy_login >/dev/null
	printf 'notes: from cynork\n' >"$doc"
	printf 'attached\n' >"$CY_TMP/a.txt"
	{
		cynork task create --command true --name every-flag --attach "$CY_TMP/a.txt" --artifact "out/" \
			--idempotency-key k-1 --input-mode commands --timeout 1m
		cynork task create -p "hello" --name with-model --model qwen3.5:0.8b \
			--project-id "$OTHER"
		cynork task create --command true --use-inference
		printf 'secret value\n' | cynork secret set EVERY_FLAG
		printf 'secret value\n' | cynork secret set EVERY_FLAG --project-id "$OTHER"
		printf 'B=c\n' >"$CY_TMP/every.env"
		cynork task create --command true --env A=b --env-file "$CY_TMP/every.env" \
			--secret EVERY_FLAG=X
		cynork secret delete EVERY_FLAG --project-id "$OTHER" -y
		cynork task wait "$TASK" --timeout 1s
		cynork token create --name every-flag --scope tasks:read --scope nodes:read --ttl 24h
		printf 'long enough\n' | cynork user create every-flag --role operator \
			--email e@example.com --password-stdin
		cynork user set-role every-flag user
		printf 'long enough\n' | cynork user reset-password every-flag --password-stdin -y
		printf 'wrong current\nlong enough 2\n' | cynork user passwd --password-stdin
		cynork nodes drain body-n --reason "every flag" -y
		cynork nodes undrain body-n
		cynork nodes disable body-n -y
		cynork nodes enable body-n -y
		cynork nodes enroll --name every-flag --labels gpu,edge --ttl 10m
		cynork config push -f "$doc" --node body-n --dry-run
		cynork task cancel "$TASK" -y
		cynork auth refresh
		cynork auth logout
	} >"$out" 2>&1 || true
	if grep -q 'unknown field' "$out"; then
		cat "$out"
		false
	fi
	# Every command reached the server: an error cynork found itself would
	# leave its request unchecked.
	run grep -v -e 'HTTP [0-9]' -e 'gave up waiting' <(grep 'cynork: error:' "$out")
	assert_output ""
}
