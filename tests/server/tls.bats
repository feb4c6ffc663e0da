#!/usr/bin/env bats
# TLS on every listener: the gateway and the control plane
# serve HTTPS with a certificate from a private CA made by scripts/cynode-tls;
# cynork verifies it (--cacert, CYNORK_CA_FILE, ca_file) and fails clearly
# without; a node verifies the control plane with orchestrator.tls.ca_bundle_path
# and serves its Worker API with its own self-signed key, which the server
# pins from the registration: a wrong pin sends nothing.  Garbage TLS
# settings are refused at startup naming the key, and plain HTTP off
# loopback is warned about.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	PKI=$CY_TMP/pki
	"$STACK_ROOT/scripts/cynode-tls" ca "$PKI" >/dev/null
	"$STACK_ROOT/scripts/cynode-tls" cert "$PKI" localhost 127.0.0.1 >/dev/null
	export PKI
	export STACK_SCHEME=https STACK_CACERT=$PKI/ca.pem
	cy_pg_start
	cy_server_start "TLS_CERT_FILE=$PKI/localhost.pem" "TLS_KEY_FILE=$PKI/localhost-key.pem" \
		"NODES_CA_FILE=$PKI/ca.pem"
	tls_node_start node-tls
	CY_TOKEN=$(cy_admin_token)
	export CY_TOKEN
}

teardown_file() { cy_teardown_file; }

# The pin of a PEM certificate's key, as curl and cynode write it.
pin_of()
{
	printf 'sha256//%s' "$(openssl x509 -in "$1" -pubkey -noout |
		openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
}

# tls_node_start SLUG [key=value...]: a node with the default worker_api.tls
# (auto: its own self-signed key) that trusts the private CA.
tls_node_start()
{
	local slug=$1 conf port i
	shift
	conf=$(cy_node_config "$slug" "worker_api.tls=auto" "worker_api.public_base_url=" \
		"orchestrator.tls.ca_bundle_path=\"$PKI/ca.pem\"" "$@")
	port=$(cat "$CY_TMP/node-$slug/port")
	stack_node_start "$conf" "$CY_TMP/node-$slug.log" "$CY_TMP/node-$slug/pid"
	cy__track "$STACK_NODE_PID"
	# Up once its Worker API listens (the log is new) and its config is applied.
	for i in $(seq 1 600); do
		grep -q worker_api_started "$CY_TMP/node-$slug.log" &&
			[ "$(cy_psql "SELECT count(*) FROM nodes WHERE node_slug = '$slug' AND \
				config_ack_status = 'applied'")" = 1 ] && break
		sleep 0.1
	done
	stack_wait_http "$CY_GATEWAY_URL/readyz" 200 30 "$CY_SERVER_PID" || {
		tail -n 30 "$CY_TMP/node-$slug.log" >&2
		return 1
	}
	export NODE_PORT=$port
}

# wait_task ID STATUS: polls until the task has STATUS (30 s).
wait_task()
{
	local i
	for i in $(seq 1 150); do
		cy_api GET "/v1/tasks/$1" "" "$CY_TOKEN"
		[ "$(jq -r .status <<<"$body")" = "$2" ] && return 0
		sleep 0.2
	done
	echo "task $1: $(jq -r .status <<<"$body"), wanted $2" >&2
	return 1
}

@test "gateway and control plane serve HTTPS that the private CA verifies" {
	run curl -sS --cacert "$PKI/ca.pem" "$CY_GATEWAY_URL/healthz"
	assert_success
	run curl -sS --cacert "$PKI/ca.pem" "$CY_CONTROL_URL/healthz"
	assert_success
	# Without the CA curl refuses the certificate (60: peer certificate cannot be authenticated).
	run curl -sS "$CY_GATEWAY_URL/healthz"
	assert_equal "$status" 60
	run curl -sS "$CY_CONTROL_URL/healthz"
	assert_equal "$status" 60
	# Plain HTTP to the TLS port gets no answer.
	run curl -sS -m 5 "http://${CY_GATEWAY_URL#https://}/healthz"
	assert_failure
	# The certificate is the one configured.
	run bash -c "openssl s_client -connect ${CY_GATEWAY_URL#https://} -CAfile '$PKI/ca.pem' \
		-verify_return_error </dev/null 2>&1"
	assert_success
	assert_output --partial "CN = localhost"
	# The bootstrap URLs the nodes get are https.
	grep -q 'listening.*scheme=https' "$CY_TMP/server.log"
	run grep plain_http_listener "$CY_TMP/server.log"
	assert_failure
}

@test "cynork verifies the gateway with --cacert, CYNORK_CA_FILE or ca_file; without: exit 69, clear" {
	run cynork status
	assert_equal "$status" 69
	assert_output --partial "cannot verify the gateway at $CY_GATEWAY_URL"
	assert_output --partial "--cacert"
	run cynork --cacert "$PKI/ca.pem" status
	assert_success
	assert_output --partial "gateway=ok"
	CYNORK_CA_FILE=$PKI/ca.pem run cynork status
	assert_success
	printf 'gateway_url: %s\nca_file: %s\n' "$CY_GATEWAY_URL" "$PKI/ca.pem" >"$CY_TMP/cynork.yaml"
	run cynork --config "$CY_TMP/cynork.yaml" status
	assert_success
	# A login through the verified gateway, and ca_file survives the rewrite.
	printf '%s\n' "$CY_ADMIN_PASSWORD" |
		cynork --config "$CY_TMP/cynork.yaml" auth login -u admin --password-stdin
	grep -Eq "^ca_file: \"?$PKI/ca.pem\"?$" "$CY_TMP/cynork.yaml"
	run cynork --config "$CY_TMP/cynork.yaml" task list
	assert_success
	# Another CA than the server's: refused the same way.
	"$STACK_ROOT/scripts/cynode-tls" ca "$CY_TMP/other" >/dev/null
	run cynork --cacert "$CY_TMP/other/ca.pem" status
	assert_equal "$status" 69
	assert_output --partial "cannot verify the gateway"
	# A CA file that is not there is a usage error naming it.
	run cynork --cacert "$CY_TMP/nope.pem" status
	assert_equal "$status" 64
	assert_output --partial "$CY_TMP/nope.pem"
	# No plain-HTTP warning for an https gateway.
	refute_output --partial "plain HTTP"
}

@test "cynork warns once about plain HTTP to another host, not for loopback, not with -q" {
	port=$(cy_free_port)
	CYNORK_GATEWAY_URL=http://0.0.0.0:$port run cynork status
	assert_equal "$status" 69
	assert_output --partial "warning: http://0.0.0.0:$port is plain HTTP to another host"
	[ "$(grep -c 'plain HTTP' <<<"$output")" = 1 ]
	CYNORK_GATEWAY_URL=http://0.0.0.0:$port run cynork -q status
	assert_equal "$status" 69
	refute_output --partial "plain HTTP"
	CYNORK_GATEWAY_URL=http://127.0.0.1:$port run cynork status
	refute_output --partial "plain HTTP"
	CYNORK_GATEWAY_URL=http://localhost:$port run cynork status
	refute_output --partial "plain HTTP"
}

@test "a node registers over https and serves its Worker API with its own key, pinned by the server" {
	state=$CY_TMP/node-node-tls/state
	[ "$(stat -c %a "$state/tls/key.pem")" = 600 ]
	pin=$(pin_of "$state/tls/cert.pem")
	[ "$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-tls'")" = "$pin" ]
	[ "$(cy_psql "SELECT worker_api_target_url FROM nodes WHERE node_slug = 'node-tls'")" = \
		"https://127.0.0.1:$NODE_PORT" ]
	[ "$(cy_psql "SELECT capability_snapshot->'worker_api'->>'tls_pubkey_sha256' FROM \
		node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-tls'")" = "$pin" ]
	# The certificate too (contract 3.6 tls.*), and it is the one served.
	[ "$(cy_psql "SELECT capability_snapshot->'tls'->>'trust_material_status' FROM \
		node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-tls'")" = \
		self_signed ]
	cy_psql "SELECT capability_snapshot->'tls'->>'worker_api_server_cert_pem' FROM \
		node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-tls'" \
		>"$CY_TMP/reported.pem"
	[ "$(pin_of "$CY_TMP/reported.pem")" = "$pin" ]
	# The Worker API is HTTPS: the pin verifies it, nothing else does.
	run curl -sS -k --pinnedpubkey "$pin" "https://127.0.0.1:$NODE_PORT/healthz"
	assert_success
	run curl -sS "https://127.0.0.1:$NODE_PORT/healthz"
	assert_equal "$status" 60
	run curl -sS -k --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
		"https://127.0.0.1:$NODE_PORT/healthz"
	assert_equal "$status" 90
	# A job runs through it.
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo over-tls"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	wait_task "$id" completed
	cy_api GET "/v1/tasks/$id/result" "" "$CY_TOKEN"
	[[ $body == *over-tls* ]]
	# The key is kept across restarts: the same pin.
	cy_node_stop node-tls
	tls_node_start node-tls
	[ "$(pin_of "$state/tls/cert.pem")" = "$pin" ]
	[ "$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-tls'")" = "$pin" ]
}

@test "a wrong pin: dispatch fails on the handshake and sends nothing; the right one runs the job" {
	good=$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-tls'")
	cy_psql "UPDATE nodes SET worker_api_tls_pin = \
		'sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' WHERE node_slug = 'node-tls'"
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo wrong-pin"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	for i in $(seq 1 300); do
		grep -q node_tls_failed "$CY_TMP/server.log" && break
		sleep 0.1
	done
	grep node_tls_failed "$CY_TMP/server.log" | grep -q "SSL public key does not match pinned"
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	# The node never saw the job.
	run grep -- "$job" "$CY_TMP/node-node-tls.log"
	assert_failure
	cy_api GET "/v1/tasks/$id" "" "$CY_TOKEN"
	[ "$(jq -r .status <<<"$body")" != completed ]
	cy_psql "UPDATE nodes SET worker_api_tls_pin = '$good' WHERE node_slug = 'node-tls'"
	wait_task "$id" completed
}

# reg_body URL WORKER_API_EXTRA: a registration body (PSK) for node "pinless".
reg_body()
{
	jq -cn --arg url "$1" --argjson wa "$2" --arg psk "$CY_PSK" '{psk: $psk, capability: {
		version: 1, reported_at: "2026-01-01T00:00:00Z", node: {node_slug: "pinless"},
		platform: {os: "linux", arch: "amd64"}, compute: {cpu_cores: 1, ram_mb: 512},
		worker_api: ({base_url: $url} + $wa)}}'
}

@test "node telemetry through the server uses the pinned key: the right pin answers, a wrong one is a 503 and reaches nothing" {
	local good
	cy_api GET /v1/nodes/node-tls/telemetry/stats "" "$CY_TOKEN"
	cy_status 200
	[ "$(jq -r .node_slug <<<"$body")" = node-tls ]
	cy_api GET '/v1/nodes/node-tls/telemetry/logs?source=node' "" "$CY_TOKEN"
	cy_status 200
	jq -e '[.events[].kind] | index("node_registered") != null' <<<"$body"
	good=$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-tls'")
	cy_psql "UPDATE nodes SET worker_api_tls_pin = \
		'sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' WHERE node_slug = 'node-tls'"
	local before
	before=$(grep -c 'path=/v1/worker/telemetry' "$CY_TMP/node-node-tls.log")
	[ "$before" -ge 2 ]	# the node logs each telemetry request it gets
	cy_api GET /v1/nodes/node-tls/telemetry/stats "" "$CY_TOKEN"
	cy_psql "UPDATE nodes SET worker_api_tls_pin = '$good' WHERE node_slug = 'node-tls'"
	cy_status 503
	[[ $(jq -r .detail <<<"$body") == *node-tls* ]]
	[ "$(grep -c 'path=/v1/worker/telemetry' "$CY_TMP/node-node-tls.log")" = "$before" ]
}

@test "registration: a malformed Worker API key pin is refused naming it" {
	cap() { reg_body "$@"; }
	for bad in '"sha256//short="' '"md5//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="' 7 '[]' \
		'"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!="'; do
		cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
			"$(cap https://127.0.0.1:1 "{\"tls_pubkey_sha256\": $bad}")"
		cy_status 400
		[[ $body == *tls_pubkey_sha256* ]]
	done
	[ "$(cy_psql "SELECT count(*) FROM nodes WHERE node_slug = 'pinless'")" = 0 ]
}

# server_refuses EXPECTED ENV...: cynode-server exits 1 naming EXPECTED.
server_refuses()
{
	local want=$1
	shift
	run env -i PATH="$PATH" DATABASE_URL="$DATABASE_URL" "$@" \
		"$CY_BUILD/cynode-server" --dev --print-config
	assert_failure
	assert_output --partial "$want"
}

@test "cynode-server refuses garbage TLS settings naming the key" {
	c=$PKI/localhost.pem k=$PKI/localhost-key.pem
	server_refuses "tls.cert_file (TLS_CERT_FILE) is set without tls.key_file" TLS_CERT_FILE="$c"
	server_refuses "tls.key_file (TLS_KEY_FILE) is set without tls.cert_file" TLS_KEY_FILE="$k"
	server_refuses "tls.key_file: '$CY_TMP/none'" TLS_CERT_FILE="$c" TLS_KEY_FILE="$CY_TMP/none"
	server_refuses "tls.cert_file: '$CY_TMP/none'" TLS_CERT_FILE="$CY_TMP/none" TLS_KEY_FILE="$k"
	cp "$k" "$CY_TMP/open-key.pem" && chmod 0644 "$CY_TMP/open-key.pem"
	server_refuses "tls.key_file: '$CY_TMP/open-key.pem' has mode 0644" \
		TLS_CERT_FILE="$c" TLS_KEY_FILE="$CY_TMP/open-key.pem"
	server_refuses "tls.key_file: '$PKI' is not a regular file" TLS_CERT_FILE="$c" TLS_KEY_FILE="$PKI"
	# A key that is not the certificate's.
	server_refuses "tls.key_file: the key in '$PKI/ca-key.pem' is not the key of tls.cert_file" \
		TLS_CERT_FILE="$c" TLS_KEY_FILE="$PKI/ca-key.pem"
	# Files that are not PEM.
	printf 'garbage\n' >"$CY_TMP/garbage.pem"
	chmod 0600 "$CY_TMP/garbage.pem"
	server_refuses "tls.cert_file: '$CY_TMP/garbage.pem' holds no PEM certificate" \
		TLS_CERT_FILE="$CY_TMP/garbage.pem" TLS_KEY_FILE="$k"
	server_refuses "tls.key_file: '$CY_TMP/garbage.pem' holds no unencrypted PEM private key" \
		TLS_CERT_FILE="$c" TLS_KEY_FILE="$CY_TMP/garbage.pem"
	# The key file where the certificate belongs.
	server_refuses "tls.cert_file: '$k' holds no PEM certificate" TLS_CERT_FILE="$k" TLS_KEY_FILE="$k"
	# An http public_url with TLS on.
	run env -i PATH="$PATH" DATABASE_URL="$DATABASE_URL" TLS_CERT_FILE="$c" TLS_KEY_FILE="$k" \
		ORCHESTRATOR_PUBLIC_URL=http://orch:12082 JWT_SECRET=$CY_JWT_SECRET \
		NODE_REGISTRATION_PSK=$CY_PSK "$CY_BUILD/cynode-server"
	assert_failure
	assert_output --partial "public_url (ORCHESTRATOR_PUBLIC_URL) is 'http://orch:12082' but the control plane serves HTTPS"
	server_refuses "nodes.ca_file (NODES_CA_FILE): '$CY_TMP/none'" NODES_CA_FILE="$CY_TMP/none"
	# The same keys from server.yaml.
	printf 'version: 1\ntls:\n  cert_file: %s\n' "$c" >"$CY_TMP/server.yaml"
	run env -i PATH="$PATH" "$CY_BUILD/cynode-server" --dev --config "$CY_TMP/server.yaml" \
		--print-config
	assert_failure
	assert_output --partial "tls.cert_file (TLS_CERT_FILE) is set without tls.key_file"
	# Good ones: the default public_url follows the scheme; the key is never printed.
	run env -i PATH="$PATH" TLS_CERT_FILE="$c" TLS_KEY_FILE="$k" "$CY_BUILD/cynode-server" --dev \
		--print-config
	assert_success
	assert_output --partial "public_url: https://localhost:12082"
	refute_output --partial "PRIVATE KEY"
}

@test "cynode-server warns loudly about plain HTTP on a non-loopback address" {
	gw=$(cy_free_port)
	cp=$(cy_free_port)
	env JWT_SECRET="$CY_JWT_SECRET" NODE_REGISTRATION_PSK="$CY_PSK" DATABASE_URL="$DATABASE_URL" \
		USER_GATEWAY_LISTEN_ADDR="0.0.0.0:$gw" CONTROL_PLANE_LISTEN_ADDR="127.0.0.1:$cp" \
		CYNODE_MIGRATIONS_DIR="$STACK_ROOT/migrations" \
		"$CY_BUILD/cynode-server" >"$CY_TMP/server-plain.log" 2>&1 </dev/null 3>&- &
	pid=$!
	cy__track "$pid"
	STACK_CACERT= stack_wait_http "http://127.0.0.1:$gw/healthz" 200 30 "$pid"
	# Without nodes.ca_file, an https Worker API that registers no pin is refused.
	cy_api POST "http://127.0.0.1:$cp/v1/nodes/register" "$(reg_body https://127.0.0.1:1 '{}')"
	cy_status 400
	[[ $body == *tls_pubkey_sha256* ]]
	[[ $body == *nodes.ca_file* ]]
	# A plain-HTTP Worker API on another host registers, with a warning.
	cy_api POST "http://127.0.0.1:$cp/v1/nodes/register" "$(reg_body http://192.0.2.1:1 '{}')"
	cy_status 201
	cy_psql "DELETE FROM nodes WHERE node_slug = 'pinless'"
	stack_kill_pid "$pid" 10
	grep plain_http_worker_api "$CY_TMP/server-plain.log" | grep -q 'node=pinless'
	run grep plain_http_worker_api "$CY_TMP/server.log"
	assert_failure
	grep plain_http_listener "$CY_TMP/server-plain.log" | grep -q 'listener=gateway'
	grep plain_http_listener "$CY_TMP/server-plain.log" | grep -q 'WARNING: serving plain HTTP'
	# The loopback control plane: no warning.
	run grep -c plain_http_listener "$CY_TMP/server-plain.log"
	assert_output 1
}

# node_refuses EXPECTED YAML-LINES...: cynode-node exits non-zero naming EXPECTED.
node_refuses()
{
	local want=$1 d=$CY_TMP/nodecfg
	shift
	rm -rf "$d"
	mkdir -p "$d/state"
	printf 'psk\n' >"$d/psk"
	chmod 0600 "$d/psk"
	{
		printf 'version: 1\nnode:\n  id: badtls\nstorage:\n  state_dir: "%s/state"\n' "$d"
		[[ "$*" == *orchestrator:* ]] || printf 'orchestrator: {url: "https://127.0.0.1:1"}\n'
		printf '%s\n' "$@"
	} >"$d/node.yaml"
	export NODE_REGISTRATION_PSK=psk
	run timeout "${NODE_RUN_SECS:-20}" "$CY_BUILD/cynode-node" --config "$d/node.yaml"
	assert_failure
	assert_output --partial "$want"
}

@test "cynode-node refuses garbage TLS settings naming the key" {
	k=$PKI/localhost-key.pem c=$PKI/localhost.pem
	node_refuses "worker_api.tls" 'worker_api: {tls: maybe}'
	node_refuses "worker_api.tls_cert_file is set without worker_api.tls_key_file" \
		"worker_api: {tls_cert_file: \"$c\"}"
	node_refuses "worker_api.tls_key_file is set without worker_api.tls_cert_file" \
		"worker_api: {tls_key_file: \"$k\"}"
	node_refuses "worker_api.tls is off but worker_api.tls_cert_file is set" \
		"worker_api: {tls: \"off\", tls_cert_file: \"$c\", tls_key_file: \"$k\"}"
	node_refuses "worker_api.public_base_url 'http://n1:12090' must be https://" \
		'worker_api: {public_base_url: "http://n1:12090"}'
	node_refuses "worker_api.public_base_url 'https://n1:12090' must be http://" \
		'worker_api: {tls: "off", public_base_url: "https://n1:12090"}'
	node_refuses "orchestrator.tls.pinned_sha256 'sha256//nope' is not" \
		'orchestrator: {url: "https://127.0.0.1:1", tls: {pinned_sha256: "sha256//nope"}}'
	node_refuses "orchestrator.tls.ca_bundle_path '$CY_TMP/none'" \
		"orchestrator: {url: \"https://127.0.0.1:1\", tls: {ca_bundle_path: \"$CY_TMP/none\"}}"
	node_refuses "worker_api.tls_key_file: '$CY_TMP/none'" \
		"worker_api: {tls_cert_file: \"$c\", tls_key_file: \"$CY_TMP/none\"}"
	cp "$k" "$CY_TMP/open-key.pem" && chmod 0644 "$CY_TMP/open-key.pem"
	node_refuses "worker_api.tls_key_file: '$CY_TMP/open-key.pem' has mode 0644" \
		"worker_api: {tls_cert_file: \"$c\", tls_key_file: \"$CY_TMP/open-key.pem\"}"
	node_refuses "worker_api.tls_key_file: the key in '$PKI/ca-key.pem' is not the key of" \
		"worker_api: {tls_cert_file: \"$c\", tls_key_file: \"$PKI/ca-key.pem\"}"
}

@test "cynode-node warns about a plain-HTTP orchestrator on another host, not on loopback" {
	export NODE_RUN_SECS=3
	node_refuses "plain_http_orchestrator" 'orchestrator: {url: "http://0.0.0.0:1"}'
	assert_output --partial "WARNING: the control plane is plain HTTP on another host"
	node_refuses "" 'orchestrator: {url: "http://127.0.0.1:1"}'
	refute_output --partial plain_http_orchestrator
	node_refuses "" 'orchestrator: {url: "https://0.0.0.0:1"}'
	refute_output --partial plain_http_orchestrator
}

@test "a node with a CA-signed certificate from node.yaml registers its pin; plain HTTP off loopback warns" {
	"$STACK_ROOT/scripts/cynode-tls" cert "$PKI" node-ca 127.0.0.1 >/dev/null
	tls_node_start node-ca "worker_api.tls_cert_file=\"$PKI/node-ca.pem\"" \
		"worker_api.tls_key_file=\"$PKI/node-ca-key.pem\""
	[ "$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-ca'")" = \
		"$(pin_of "$PKI/node-ca.pem")" ]
	[ ! -e "$CY_TMP/node-node-ca/state/tls" ]
	[ "$(cy_psql "SELECT capability_snapshot->'tls'->>'trust_material_status' FROM \
		node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = 'node-ca'")" = \
		configured ]
	run curl -sS --cacert "$PKI/ca.pem" "https://127.0.0.1:$NODE_PORT/healthz"
	assert_success
	run grep plain_http_worker_api "$CY_TMP/node-node-ca.log"
	assert_failure
	# Without its pin, the server verifies the node with nodes.ca_file: the
	# CA-signed node runs jobs, the self-signed one gets nothing.
	cy_psql "UPDATE nodes SET enabled = false WHERE node_slug = 'node-tls'"
	cy_psql "UPDATE nodes SET worker_api_tls_pin = NULL WHERE node_slug = 'node-ca'"
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo by-ca"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	wait_task "$id" completed
	[ "$(cy_psql "SELECT n.node_slug FROM jobs j JOIN nodes n ON n.id = j.node_id \
		WHERE j.task_id = '$id'")" = node-ca ]
	cy_psql "UPDATE nodes SET enabled = (node_slug = 'node-tls')"
	good=$(cy_psql "SELECT worker_api_tls_pin FROM nodes WHERE node_slug = 'node-tls'")
	cy_psql "UPDATE nodes SET worker_api_tls_pin = NULL WHERE node_slug = 'node-tls'"
	before=$(grep -c node_tls_failed "$CY_TMP/server.log" || true)
	cy_api POST /v1/tasks '{"input_mode":"commands","prompt":"echo self-signed-by-ca"}' "$CY_TOKEN"
	cy_status 201
	id=$(jq -r .task_id <<<"$body")
	for i in $(seq 1 300); do
		[ "$(grep -c node_tls_failed "$CY_TMP/server.log")" -gt "$before" ] && break
		sleep 0.1
	done
	grep node_tls_failed "$CY_TMP/server.log" | tail -n 1 | grep -q "SSL peer certificate"
	job=$(cy_psql "SELECT id FROM jobs WHERE task_id = '$id'")
	run grep -- "$job" "$CY_TMP/node-node-tls.log"
	assert_failure
	cy_psql "UPDATE nodes SET worker_api_tls_pin = '$good' WHERE node_slug = 'node-tls'"
	wait_task "$id" completed
	cy_node_stop node-ca
	# worker_api.tls: off on all addresses warns.
	cy_psql "DELETE FROM nodes WHERE node_slug = 'node-ca'"
	conf=$(cy_node_config plain "worker_api.listen_host=\"0.0.0.0\"" \
		"orchestrator.tls.ca_bundle_path=\"$PKI/ca.pem\"")
	stack_node_start "$conf" "$CY_TMP/node-plain.log" "$CY_TMP/node-plain/pid"
	cy__track "$STACK_NODE_PID"
	for i in $(seq 1 100); do
		grep -q plain_http_worker_api "$CY_TMP/node-plain.log" && break
		sleep 0.1
	done
	grep plain_http_worker_api "$CY_TMP/node-plain.log" | grep -q 'WARNING: the Worker API serves plain HTTP'
	cy_node_stop plain
}

@test "a node verifies the control plane: a key pin instead of the CA works; a wrong pin or no trust fails" {
	cy_psql "UPDATE nodes SET enabled = false"
	tls_node_start node-pin "orchestrator.tls.ca_bundle_path=" \
		"orchestrator.tls.pinned_sha256=\"$(pin_of "$PKI/localhost.pem")\""
	[ "$(cy_psql "SELECT config_ack_status FROM nodes WHERE node_slug = 'node-pin'")" = applied ]
	cy_node_stop node-pin
	cy_psql "UPDATE nodes SET enabled = false WHERE node_slug = 'node-pin'"
	for how in pin none; do
		if [ $how = pin ]; then
			extra="orchestrator.tls.pinned_sha256=\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""
		else
			extra="orchestrator.tls.pinned_sha256="
		fi
		conf=$(cy_node_config node-untrusting "worker_api.tls=auto" \
			"worker_api.public_base_url=" "orchestrator.tls.ca_bundle_path=" "$extra")
		run timeout 5 "$CY_BUILD/cynode-node" --config "$conf"
		assert_failure
		if [ $how = pin ]; then
			assert_output --partial "public key does not match pinned public key"
		else
			assert_output --regexp "SSL certificate problem|certificate verification failed"
		fi
	done
	[ "$(cy_psql "SELECT count(*) FROM nodes WHERE node_slug = 'node-untrusting'")" = 0 ]
}

@test "over HTTPS end to end: cynork uploads an attachment, waits (long poll), follows logs, gets the artifact" {
	cy_psql "UPDATE nodes SET enabled = (node_slug = 'node-tls')"
	export CYNORK_CA_FILE=$PKI/ca.pem XDG_CONFIG_HOME=$CY_TMP/xdg-e2e
	printf '%s\n' "$CY_ADMIN_PASSWORD" | cynork auth login -u admin --password-stdin
	printf 'attached over tls\n' >"$CY_TMP/data.txt"
	run cynork task create -a "$CY_TMP/data.txt" \
		--command 'mkdir -p out && tr a-z A-Z <data.txt | tee out/r.txt' --wait
	assert_success
	assert_output --partial "ATTACHED OVER TLS"
	id=$(cy_psql "SELECT id FROM tasks ORDER BY created_at DESC LIMIT 1")
	run cynork task logs "$id" --follow
	assert_success
	assert_output --partial "ATTACHED OVER TLS"
	run cynork task artifacts get "$id" -d "$CY_TMP/arts"
	assert_success
	grep -qr "ATTACHED OVER TLS" "$CY_TMP/arts"
}
