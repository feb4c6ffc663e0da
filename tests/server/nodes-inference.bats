#!/usr/bin/env bats
#
# The capability report's inference object on the control plane (contract
# 3.6): inference.running and the model lists the node reports
# (available_models from /api/tags, loaded_models from /api/ps) are type
# checked at registration and in later reports (400 naming the field,
# nothing stored), bounded in count and length, and stored as sent.  curl
# plays the node.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
}

# capability SLUG -> a node_capability_report_v1 with an inference object
capability()
{
	jq -cn --arg s "$1" '{version:1, reported_at:"2026-01-01T00:00:00Z",
		node:{node_slug:$s, labels:[]}, platform:{os:"linux", arch:"amd64"},
		compute:{cpu_cores:2, ram_mb:2048}, sandbox:{supported:true, max_concurrency:3},
		inference:{supported:true, mode:"allow", existing_service:true, running:true,
			available_models:["qwen3.5:0.8b", "llama3.2:1b"], loaded_models:["qwen3.5:0.8b"],
			backend:{runtime:"existing", version:"0.5.1"}},
		worker_api:{base_url:"http://127.0.0.1:9"}}'
}

register()
{
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$1" '{psk:$p, capability:$c}')"
}

snapshot()
{
	cy_psql "SELECT capability_snapshot FROM node_capabilities WHERE node_id = (SELECT id FROM nodes WHERE node_slug = '$1')"
}

@test "inference.running and the model lists are stored as reported" {
	register "$(capability node-inf)"
	cy_status 201
	jq -e '.inference | .running and .available_models == ["qwen3.5:0.8b", "llama3.2:1b"]
		and .loaded_models == ["qwen3.5:0.8b"] and .backend.version == "0.5.1"' <<<"$(snapshot node-inf)"
}

@test "wrong inference fields are 400 naming the field, at register and later; nothing stored" {
	local jwt snap field jq_edit bad long
	register "$(capability node-inf-typed)"
	cy_status 201
	jwt=$(jq -r .auth.node_jwt <<<"$body")
	snap=$(snapshot node-inf-typed)
	long=$(printf 'm%.0s' $(seq 1 257))
	while IFS='|' read -r field jq_edit; do
		bad=$(capability node-inf-typed | jq -c --arg long "$long" "$jq_edit")
		cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$bad" "$jwt"
		cy_status 400 || { echo "$jq_edit -> $status_code $body"; false; }
		[ "$(jq -r .type <<<"$body")" = urn:cynodeai:error:validation ]
		[[ $(jq -r .detail <<<"$body") == "$field "* ]] || { echo "$jq_edit -> $body"; false; }
		bad=$(capability node-inf-new | jq -c --arg long "$long" "$jq_edit")
		register "$bad"
		cy_status 400 || { echo "register $jq_edit -> $status_code $body"; false; }
		[[ $(jq -r .detail <<<"$body") == "$field "* ]]
	done <<'EOT'
inference.running|.inference.running = "yes"
inference.running|.inference.running = 1
inference.existing_service|.inference.existing_service = "no"
inference.available_models|.inference.available_models = "qwen3.5:0.8b"
inference.available_models|.inference.available_models = {"a": 1}
inference.available_models[1]|.inference.available_models = ["a", 7]
inference.available_models[0]|.inference.available_models = [""]
inference.available_models[0]|.inference.available_models = [null]
inference.available_models[0]|.inference.available_models = [["a"]]
inference.available_models[2]|.inference.available_models = ["a", "b", $long]
inference.available_models|.inference.available_models = [range(1025) | "m\(.)"]
inference.loaded_models|.inference.loaded_models = true
inference.loaded_models[0]|.inference.loaded_models = [{"name": "a"}]
EOT
	[ "$(snapshot node-inf-typed)" = "$snap" ]
	[ "$(cy_psql "SELECT count(*) FROM nodes WHERE node_slug = 'node-inf-new'")" = 0 ]
	# At the bounds: accepted.
	bad=$(capability node-inf-typed | jq -c --arg m "${long:1}" \
		'.inference.available_models = [range(1024) | "m\(.)"] | .inference.loaded_models = [$m]')
	cy_api POST "$CY_CONTROL_URL/v1/nodes/capability" "$bad" "$jwt"
	cy_status 204
	[ "$(snapshot node-inf-typed | jq '.inference.available_models | length')" = 1024 ]
}
