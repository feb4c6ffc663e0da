#!/usr/bin/env bats
#
# capability.bats: the GPU part of the node's capability report (contract
# 3.6).  This machine has no GPU, so the report says gpu.present=false; a
# fake nvidia-smi first on the node's PATH stands in for one, and its
# device reaches the server's snapshot, the capability hash (which leaves
# the free VRAM out) and the inference_backend variant; a GPU added later
# is reported, and nvidia-smi runs once per orchestrator.gpu_refresh_seconds
# (60 s by default), not on every heartbeat.  And sandbox.images_private:
# whether imported images become squashfs images (no host path in a job's
# mountinfo), or stay directories and why.

load ../lib/harness

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
}

# snapshot SLUG: the stored capability snapshot of a node (empty until it reported)
snapshot()
{
	cy_psql "SELECT c.capability_snapshot FROM node_capabilities c JOIN nodes n ON n.id = c.node_id WHERE n.node_slug = '$1'"
}

# wait_snapshot SLUG JQ: waits up to 20 s for a snapshot that satisfies JQ
wait_snapshot()
{
	local i caps

	for i in $(seq 1 100); do
		caps=$(snapshot "$1")
		[ -n "$caps" ] && jq -e "$2" <<<"$caps" >/dev/null && return 0
		sleep 0.2
	done
	echo "no snapshot of $1 with $2; last: $caps" >&2
	return 1
}

host_has_gpu()
{
	local v
	command -v nvidia-smi >/dev/null && return 0
	for v in /sys/class/drm/card*/device/vendor; do
		[ -f "$v" ] || continue
		case $(cat "$v") in 0x10de | 0x1002 | 0x8086) return 0 ;; esac
	done
	return 1
}

@test "without a GPU the report says gpu.present=false and lists no devices" {
	host_has_gpu && skip "this host has a GPU"
	cy_node_start node-nogpu
	wait_snapshot node-nogpu '.gpu'
	jq -e '.gpu == {present:false}' <<<"$(snapshot node-nogpu)"
	cy_node_stop node-nogpu
}

@test "nvidia-smi on the node's PATH: device, VRAM, cuda_capability; stable hash; cuda variant" {
	local bin=$CY_TMP/fakebin caps hash dev
	mkdir -p "$bin"
	# Free VRAM changes on every call, as on a busy GPU; the rest stays.
	cat >"$bin/nvidia-smi" <<-SH
	#!/bin/sh
	[ "\$1" = --query-gpu=name,pci.bus_id,memory.total,memory.free,compute_cap ] || exit 3
	[ "\$2" = --format=csv,noheader,nounits ] || exit 3
	n=\$(cat "$bin/calls" 2>/dev/null || echo 0)
	echo \$((n + 1)) >"$bin/calls"
	echo "NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, \$((20000 + n)), 8.6"
	echo "garbage line"
	cat "$bin/extra" 2>/dev/null || true
	SH
	chmod 0755 "$bin/nvidia-smi"
	PATH=$bin:$PATH cy_node_start node-gpu orchestrator.report_interval_seconds=1 \
		orchestrator.gpu_refresh_seconds=1
	wait_snapshot node-gpu '.gpu.present'
	caps=$(snapshot node-gpu)
	dev=$(jq -c '.gpu.devices' <<<"$caps")
	jq -e '.gpu.devices | length == 1' <<<"$caps"
	jq -e '.gpu.devices[0] | .vendor == "nvidia" and .model == "NVIDIA GeForce RTX 3090"
		and .device_id == "0000:01:00.0" and .vram_mb == 24576
		and .features == {cuda_capability:"8.6"}
		and .available_vram_mb >= 20000' <<<"$caps" || { echo "$dev"; false; }
	jq -e '.gpu.total_vram_mb == 24576
		and .gpu.total_available_vram_mb == .gpu.devices[0].available_vram_mb' <<<"$caps"
	# A later report with other free VRAM keeps the capability hash.
	hash=$(cy_psql "SELECT capability_hash FROM nodes WHERE node_slug = 'node-gpu'")
	[[ $hash == sha256:* ]]
	wait_snapshot node-gpu ".gpu.devices[0].available_vram_mb != $(jq ".gpu.devices[0].available_vram_mb" <<<"$caps")"
	[ "$(cy_psql "SELECT capability_hash FROM nodes WHERE node_slug = 'node-gpu'")" = "$hash" ]
	# The node reports inference.supported=false (it runs no inference yet), so
	# the server's choice of variant is checked with its report marked supported.
	jq -e '.inference.supported == false' <<<"$caps"
	caps=$(jq -c '.node.node_slug = "gpu-inf" | .inference.supported = true' <<<"$caps")
	cy_api POST "$CY_CONTROL_URL/v1/nodes/register" \
		"$(jq -cn --arg p "$CY_PSK" --argjson c "$caps" '{psk:$p, capability:$c}')"
	cy_status 201
	cy_api GET "$CY_CONTROL_URL/v1/nodes/config" "" "$(jq -r .auth.node_jwt <<<"$body")"
	cy_status 200
	jq -e '.inference_backend | .enabled and .variant == "cuda"' <<<"$body"
	# A second GPU shows up in the next detection and changes the hash.
	echo "NVIDIA L4, 00000000:02:00.0, 23034, 23000, 8.9" >"$bin/extra"
	wait_snapshot node-gpu '.gpu.devices | length == 2'
	[ "$(cy_psql "SELECT capability_hash FROM nodes WHERE node_slug = 'node-gpu'")" != "$hash" ]
	cy_node_stop node-gpu
}

@test "nvidia-smi is not run on every heartbeat: the detection is reused for a minute" {
	local bin=$CY_TMP/countbin n
	mkdir -p "$bin"
	cat >"$bin/nvidia-smi" <<-SH
	#!/bin/sh
	echo run >>"$bin/calls"
	echo "NVIDIA GeForce RTX 3090, 00000000:01:00.0, 24576, 20000, 8.6"
	SH
	chmod 0755 "$bin/nvidia-smi"
	PATH=$bin:$PATH cy_node_start node-count orchestrator.heartbeat_interval_seconds=1 \
		orchestrator.report_interval_seconds=1
	wait_snapshot node-count '.gpu.present'
	# Six more heartbeats and reports (each builds a capability report).
	n=$(grep -c 'path=/v1/nodes/heartbeat' "$CY_TMP/server.log" || true)
	for i in $(seq 1 100); do
		[ "$(grep -c 'path=/v1/nodes/heartbeat' "$CY_TMP/server.log")" -ge $((n + 6)) ] && break
		sleep 0.2
	done
	[ "$(grep -c 'path=/v1/nodes/heartbeat' "$CY_TMP/server.log")" -ge $((n + 6)) ]
	[ "$(wc -l <"$bin/calls")" -eq 1 ] || { cat "$bin/calls"; false; }
	cy_node_stop node-count
}

@test "sandbox.images_private: squashfs as root with mksquashfs; without it enforced:false and the reason, logged once" {
	local want=false
	[ "$(id -u)" = 0 ] && command -v mksquashfs >/dev/null && [ -w /dev/loop-control ] && want=true
	local st=$CY_TMP/stage-sq dead=""
	if [ $want = true ]; then
		# An image a node process that no longer runs left mounted: swept at start.
		dead=$(sh -c 'echo $$')
		mkdir -p "$CY_TMP/sq-tree" "$st/images/$dead/1"
		echo x >"$CY_TMP/sq-tree/x"
		mksquashfs "$CY_TMP/sq-tree" "$CY_TMP/stale.sqfs" -quiet -no-progress >/dev/null
		mount -o loop,ro "$CY_TMP/stale.sqfs" "$st/images/$dead/1"
		grep -q " $st/images/$dead/1 " /proc/self/mountinfo
		# And what a probe that did not finish left: its mount and files.
		mkdir -p "$st/images/.probe-$dead/probe.sqfs.mnt" "$st/images/.probe-$dead/tree"
		cp "$CY_TMP/stale.sqfs" "$st/images/.probe-$dead/probe.sqfs"
		mount -o loop,ro "$st/images/.probe-$dead/probe.sqfs" "$st/images/.probe-$dead/probe.sqfs.mnt"
	fi
	cy_node_start node-sq "sandbox.staging_dir=\"$st\""
	wait_snapshot node-sq '.sandbox.images_private'
	jq -e ".sandbox.images_private.enforced == $want" <<<"$(snapshot node-sq)"
	cy_node_stop node-sq
	if [ -n "$dead" ]; then
		run grep -c " $st/images/" /proc/self/mountinfo
		cy_eq "$output" 0
		grep -q "event=image_unmounted path=$st/images/$dead/1" "$CY_TMP/node-node-sq.log"
		grep -q "event=image_unmounted path=$st/images/.probe-$dead/probe.sqfs.mnt" \
			"$CY_TMP/node-node-sq.log"
		[ ! -e "$st/images/$dead" ]
		[ ! -e "$st/images/.probe-$dead" ]
	fi
	cy_node_start node-nosq 'sandbox.mksquashfs_path="/nonexistent/mksquashfs"'
	wait_snapshot node-nosq '.sandbox.images_private'
	run jq -cS .sandbox.images_private <<<"$(snapshot node-nosq)"
	if [ "$(id -u)" = 0 ]; then
		[ -w /dev/loop-control ] || skip "no loop devices"
		assert_output '{"enforced":false,"method":"directory","reason":"sandbox.mksquashfs_path '"'"'/nonexistent/mksquashfs'"'"' not found (Debian: squashfs-tools)"}'
	else
		assert_output --partial '"enforced":false,"method":"directory","reason":"the node is not root'
	fi
	run grep -c image_squashfs_unavailable "$CY_TMP/node-node-nosq.log"
	cy_eq "$output" 1
	cy_node_stop node-nosq
}
