#!/usr/bin/env bats
#
# cynode-node --check-config: the node.yaml key table, its checks and the
# registration PSK rules (contract section 6).  No server needed.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file() { cy_setup_file; }

setup()
{
	D=$(mktemp -d "$CY_TMP/cfg.XXXXXX")
	printf 'psk-for-tests\n' >"$D/psk"
	chmod 0600 "$D/psk"
}

# good_yaml [extra yaml lines...]: a valid node.yaml in $D/node.yaml
good_yaml()
{
	{
		cat <<-YAML
		version: 1
		orchestrator:
		  url: "http://127.0.0.1:1/"
		  registration_psk_file: "$D/psk"
		node:
		  id: node-01
		storage:
		  state_dir: "$D/state"
		YAML
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$D/node.yaml"
}

node() { "$CY_BUILD/cynode-node" "$@"; }

@test "check-config prints the effective config with defaults and exits 0" {
	good_yaml
	run node --config "$D/node.yaml" --check-config
	assert_success
	assert_output --partial "id: node-01"
	assert_output --partial "listen_port: 12090"
	assert_output --partial "default_seconds: 3600"
	assert_output --partial "max_seconds: 10800"
	assert_output --partial "mount_root: $D/state/sandbox_mounts"
	assert_output --partial "url: http://127.0.0.1:1"
}

@test "check-config never prints the PSK" {
	good_yaml
	run node --config "$D/node.yaml" --check-config
	assert_success
	refute_output --partial "psk-for-tests"
	assert_output --partial "<redacted>"
}

@test "unknown key is refused with file:line" {
	good_yaml "sandbox:" "  bogus_key: 1"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "node.yaml:10"
	assert_output --partial "bogus_key"
}

@test "bad enum value is refused" {
	good_yaml "sandbox:" "  mode: sometimes"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "sandbox.mode"
}

@test "version other than 1 is refused" {
	good_yaml
	sed -i 's/^version: 1/version: 2/' "$D/node.yaml"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "version"
}

@test "missing node.id is refused" {
	good_yaml
	sed -i '/^node:/d; /^  id: node-01/d' "$D/node.yaml"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "node.id"
}

@test "node.id with uppercase letters is refused" {
	good_yaml
	sed -i 's/id: node-01/id: Node_01/' "$D/node.yaml"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "lowercase"
}

@test "missing orchestrator.url is refused" {
	good_yaml
	sed -i '/url:/d' "$D/node.yaml"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "orchestrator.url"
}

@test "PSK file readable by others (0644) is refused" {
	good_yaml
	chmod 0644 "$D/psk"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "chmod 600"
}

@test "a missing PSK or enrollment token file is refused naming its key and path" {
	good_yaml
	rm "$D/psk"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "orchestrator.registration_psk_file: registration PSK file '$D/psk': No such file"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	good_yaml
	sed -i '/^orchestrator:/a\  enrollment_token_file: "'"$D/no-token"'"' "$D/node.yaml"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "orchestrator.enrollment_token_file: enrollment token file '$D/no-token'"
}

@test "PSK from the env var named by registration_psk_env" {
	good_yaml
	sed -i "s|registration_psk_file:.*|registration_psk_env: MY_NODE_PSK|" "$D/node.yaml"
	MY_NODE_PSK=from-env run node --config "$D/node.yaml" --check-config
	assert_success
	assert_output --partial "from env MY_NODE_PSK"
	refute_output --partial "from-env"
}

@test "no PSK anywhere is refused" {
	good_yaml
	sed -i '/registration_psk_file/d' "$D/node.yaml"
	NODE_REGISTRATION_PSK= run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "no registration secret"
}

@test "CYNODE_SANDBOX_MOUNT_ROOT overrides sandbox.mount_root" {
	good_yaml "sandbox:" "  mount_root: /srv/yaml-root"
	CYNODE_SANDBOX_MOUNT_ROOT=/srv/env-root run node --config "$D/node.yaml" --check-config
	assert_success
	assert_output --partial "mount_root: /srv/env-root"
}

@test "sandbox.staging_dir: /run/cynode/<id> by default as root, absolute when given" {
	good_yaml
	run node --config "$D/node.yaml" --check-config
	assert_success
	if [ "$(id -u)" -eq 0 ]; then
		assert_output --regexp "staging_dir: /run/cynode/[0-9a-f]{12}"
	fi
	good_yaml "sandbox:" "  staging_dir: relative/dir"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "sandbox.staging_dir must be absolute"
	good_yaml "sandbox:" "  staging_dir: /srv/stage"
	run node --config "$D/node.yaml" --check-config
	assert_success
	assert_output --partial "staging_dir: /srv/stage"
}

@test "unknown sandbox.default_image is refused" {
	good_yaml "sandbox:" "  default_image: alpine"
	run node --config "$D/node.yaml" --check-config
	assert_failure 2
	assert_output --partial "default_image"
}

@test "missing --config file is an error" {
	run node --config "$D/nope.yaml" --check-config
	assert_failure 2
	assert_output --partial "nope.yaml"
}

@test "--version and --help" {
	run node --version
	assert_success
	assert_output --partial "cynode-node"
	run node --help
	assert_success
	assert_output --partial "--check-config"
}

@test "every key of the node's table is documented in cynode.yaml(5)" {
	local base k missing=""

	load ../lib/config-keys
	good_yaml
	base=$(node --config "$D/node.yaml" --check-config | cfgk_leaves | cut -f1)
	[ "$(wc -l <<<"$base")" -gt 50 ]
	while IFS= read -r k; do
		# the whole dotted name, not a longer key that starts with it
		grep -Eq "(^|[^a-z0-9_.])${k//./\\.}([^a-z0-9_]|$)" "$CY_ROOT/man/cynode.yaml.5" ||
			missing="$missing $k"
	done <<<"$base"
	[ -z "$missing" ] || { echo "not in man/cynode.yaml.5:$missing" >&2; false; }
	# The check notices a key the page lacks.
	k=sandbox.agent_runner
	run grep -Eq "(^|[^a-z0-9_.])${k//./\\.}([^a-z0-9_]|$)" <(grep -v "$k" "$CY_ROOT/man/cynode.yaml.5")
	assert_failure
}

@test "every key refuses a value of the wrong type or out of range, naming the key and line" {
	local base k v g bad="" n=0

	load ../lib/config-keys
	good_yaml
	base=$(node --config "$D/node.yaml" --check-config | cfgk_leaves)
	[ "$(wc -l <<<"$base")" -gt 50 ]
	while IFS=$'\t' read -r k v; do
		[ "$k" != version ] || continue
		while IFS= read -r g; do
			n=$((n + 1))
			cfgk_yaml "$k" "$g" <<<"$base" >"$D/bad.yaml"
			run --separate-stderr node --config "$D/bad.yaml" --check-config
			if [ "$status" -ne 2 ] || [[ $stderr != *"bad.yaml:"[0-9]*"'$k'"* ]]; then
				bad="$bad [$k: $g -> $status $stderr]"
			fi
		done < <(cfgk_garbage "$v")
	done <<<"$base"
	[ "$n" -gt 150 ]
	[ -z "$bad" ] || { echo "accepted or unclear:$bad" >&2; false; }
	# The base itself is valid (the loop is not failing on it).
	cfgk_yaml none none <<<"$base" >"$D/ok.yaml"
	run node --config "$D/ok.yaml" --check-config
	assert_success
}
