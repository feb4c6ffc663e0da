#!/usr/bin/env bats
#
# images.bats: sandbox images.  `cynode-node image import NAME DIR|TARBALL`
# with a tiny root filesystem built from Debian's busybox-static, jobs that
# run on it (and see nothing of the host), sandbox.allowed_images, and the
# import's refusals.  As root with mksquashfs an import is a squashfs image
# the node mounts from a loop device (no host path in a job's mountinfo);
# $D/dir.yaml names no mksquashfs, so its imports stay directories.  Real
# bwrap through `cynode-node --run-job`.

load ../lib/harness

setup_file()
{
	cy_setup_file
	[ -x /bin/busybox ] || skip "busybox-static is not installed (scripts/deps)"
	D=$CY_TMP/node
	mkdir -p "$D/state"
	printf 'x\n' >"$D/psk"
	chmod 0600 "$D/psk"
	cat >"$D/node.yaml" <<-YAML
	version: 1
	orchestrator:
	  url: "http://127.0.0.1:1"
	  registration_psk_file: "$D/psk"
	node:
	  id: node-01
	storage:
	  state_dir: "$D/state"
	YAML
	# A root filesystem: busybox and one symlink per applet.
	R=$CY_TMP/rootfs
	mkdir -p "$R/bin" "$R/etc"
	cp /bin/busybox "$R/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
	done
	echo "busybox-image" >"$R/etc/image-name"
	tar -C "$R" -cf "$CY_TMP/rootfs.tar" .
	sed -e '$a sandbox:\n  mksquashfs_path: "/nonexistent/mksquashfs"' "$D/node.yaml" >"$D/dir.yaml"
	# Imports become squashfs images here?
	SQ=0
	if [ "$(id -u)" = 0 ] && command -v mksquashfs >/dev/null && [ -w /dev/loop-control ]; then
		SQ=1
	fi
	export D R SQ
}

node() { "$CY_BUILD/cynode-node" --config "${CONF:-$D/node.yaml}" "$@"; }

# job JOB_ID IMAGE SCRIPT: run it; $output = response
job()
{
	jq -cn --arg id "$1" --arg img "$2" --arg s "$3" \
		'{version:1, task_id:"t", job_id:$id, sandbox:{image:$img, command:["/bin/sh","-c",$s]}}' \
		>"$D/req-$1.json"
	run node --run-job "$D/req-$1.json"
}

field() { printf '%s' "$output" | jq -r "$1"; }

@test "image import from a directory, list, and a job on it sees only the image" {
	run node image import busybox:1 "$R"
	assert_success
	assert_output --partial "image 'busybox:1' imported"
	run node image list
	assert_success
	assert_output --partial "busybox:1"
	assert_output --partial "host"
	job i-dir busybox:1 'cat /etc/image-name; busybox | head -1; ls /usr/bin/apt 2>&1; id -u; touch /bin/x 2>&1 || echo ro'
	assert_success
	[ "$(field .status)" = completed ]
	[[ "$(field .stdout)" == busybox-image*BusyBox* ]]
	[[ "$(field .stdout)" == *"No such file"* ]]
	[[ "$(field .stdout)" == *65534* ]]
	[[ "$(field .stdout)" == *ro ]]
}

@test "image import from a tarball; a name with a slash" {
	run node image import registry.local/tools/bb:2 "$CY_TMP/rootfs.tar"
	assert_success
	if [ "$SQ" = 1 ]; then
		[ -f "$D/state/images/registry.local%2Ftools%2Fbb:2.sqfs" ]
	else
		[ -d "$D/state/images/registry.local%2Ftools%2Fbb:2/bin" ]
	fi
	job i-tar registry.local/tools/bb:2 'cat /etc/image-name'
	assert_success
	[ "$(field .stdout)" = busybox-image ]
	run node image list
	assert_output --partial "registry.local/tools/bb:2"
}

@test "re-import replaces the image; rm removes it and jobs then get a 400" {
	echo second >"$CY_TMP/second"
	cp -a "$R" "$CY_TMP/rootfs2"
	echo "version-2" >"$CY_TMP/rootfs2/etc/image-name"
	run node image import bb-re "$R"
	assert_success
	run node image import bb-re "$CY_TMP/rootfs2"
	assert_success
	job i-re bb-re 'cat /etc/image-name'
	[ "$(field .stdout)" = version-2 ]
	run node image rm bb-re
	assert_success
	job i-gone bb-re 'true'
	assert_failure 1
	[ "$(field .status)" = 400 ]
	[[ "$(field .detail)" == *"not available"* ]]
	run node image rm bb-re
	assert_failure 1
}

@test "setuid bits are dropped on import" {
	cp -a "$R" "$CY_TMP/rootfs-suid"
	cp /bin/busybox "$CY_TMP/rootfs-suid/bin/suidbox"
	chmod 4755 "$CY_TMP/rootfs-suid/bin/suidbox"
	run node image import bb-suid "$CY_TMP/rootfs-suid"
	assert_success
	job i-suid bb-suid 'stat -c %a /bin/suidbox'
	assert_success
	[ "$(field .stdout)" = 755 ]
}

@test "image import refuses bad names, missing sources and non-root filesystems" {
	local n
	for n in "" host ../x /abs "a b" "x/../y" -flag; do
		run node image import "$n" "$R"
		assert_failure 2
		assert_output --partial "not valid"
	done
	run node image import ok-name "$CY_TMP/does-not-exist"
	assert_failure 2
	mkdir -p "$CY_TMP/empty"
	run node image import empty "$CY_TMP/empty"
	assert_failure 1
	assert_output --partial "no /bin/sh"
	[ ! -e "$D/state/images/empty" ]
	printf 'not a tarball' >"$CY_TMP/bad.tar"
	run node image import badtar "$CY_TMP/bad.tar"
	assert_failure 1
	[ ! -e "$D/state/images/badtar" ]
	run node image frobnicate
	assert_failure 2
	assert_output --partial usage
	# nothing half-imported is left behind
	run ls -A "$D/state/images"
	refute_output --partial .import
}

@test "an image name may not end in .sqfs, .old or .mnt: image X.sqfs would be image X's file" {
	local n
	run node image import b1 "$R"
	assert_success
	for n in b1.sqfs b1.old b1.mnt a/b1.sqfs; do
		run node image import "$n" "$R"
		assert_failure 2
		assert_output --partial "image name '$n' is not valid: a name may not end in '.${n##*.}'"
		run node image rm "$n"
		assert_failure 2
		assert_output --partial "may not end in"
		job "i-b1-${n##*.}" "$n" 'true'
		assert_failure 1
		[ "$(field .status)" = 400 ]
	done
	# Image b1 is intact, whichever form it has.
	job i-b1 b1 'cat /etc/image-name'
	assert_success
	[ "$(field .stdout)" = busybox-image ]
	run node image list
	assert_output --partial "b1	$D/state/images/b1"
	refute_output --partial "b1.sqfs	"
	# rm removes only an image's own forms: a directory, or a regular *.sqfs file.
	printf 'not an image\n' >"$D/state/images/plain"
	mkdir -p "$D/state/images/odd.sqfs"
	run node image rm plain
	assert_failure 1
	assert_output --partial "no imported image 'plain'"
	run node image rm odd
	assert_failure 1
	[ -f "$D/state/images/plain" ] && [ -d "$D/state/images/odd.sqfs" ]
	rm -rf "$D/state/images/plain" "$D/state/images/odd.sqfs"
	run node image rm b1
	assert_success
	[ ! -e "$D/state/images/b1" ] && [ ! -e "$D/state/images/b1.sqfs" ]
}

@test "sandbox.allowed_images refuses other images with a reason" {
	run node image import busybox:1 "$R"
	sed -e '$a sandbox:\n  allowed_images: ["busybox:1"]' "$D/node.yaml" >"$D/allow.yaml"
	CONF=$D/allow.yaml job i-allowed busybox:1 'echo ok'
	assert_success
	[ "$(field .stdout)" = ok ]
	CONF=$D/allow.yaml job i-host host 'echo no'
	assert_failure 1
	[ "$(field .status)" = 400 ]
	[[ "$(field .detail)" == *allowed_images* ]]
}

@test "sandbox.images maps a name to a directory; default_image may be an imported image" {
	sed -e "\$a sandbox:\n  default_image: \"busybox:1\"\n  images:\n    mine: \"$R\"" \
		"$D/node.yaml" >"$D/map.yaml"
	CONF=$D/map.yaml job i-map mine 'cat /etc/image-name'
	assert_success
	[ "$(field .stdout)" = busybox-image ]
	jq -cn '{version:1, task_id:"t", job_id:"i-def", sandbox:{command:["/bin/sh","-c","busybox | head -1"]}}' >"$D/def.json"
	CONF=$D/map.yaml run node --run-job "$D/def.json"
	assert_success
	[[ "$(field .stdout)" == BusyBox* ]]
	sed -e '$a sandbox:\n  images_dir: "relative/dir"' "$D/node.yaml" >"$D/bad.yaml"
	CONF=$D/bad.yaml run node --check-config
	assert_failure 2
	assert_output --partial images_dir
}

@test "sandbox.images_private: require refuses an image whose host path would show" {
	CONF=$D/dir.yaml run node image import busybox:1 "$R"
	assert_success
	[ -d "$D/state/images/busybox:1" ]
	sed -e '$a sandbox:\n  images_private: require' "$D/node.yaml" >"$D/priv.yaml"
	CONF=$D/priv.yaml job i-priv busybox:1 'echo ran'
	assert_failure 1
	[ "$(field .status)" = 400 ]
	[[ "$(field .detail)" == *"images_private: require"* ]]
	[[ "$(field .detail)" == *"/state/images/busybox:1"* ]]
	# warn (the default) runs it, and the job does see that path today.
	job i-warn busybox:1 'cat /proc/self/mountinfo'
	assert_success
	[[ "$(field .stdout)" == *"/state/images/busybox:1/bin /bin "* ]]
	sed -e '$a sandbox:\n  images_private: maybe' "$D/node.yaml" >"$D/bad.yaml"
	CONF=$D/bad.yaml run node --check-config
	assert_failure 2
	assert_output --partial images_private
}

@test "images_dir on a file system of its own: the job's mountinfo shows only the image's name" {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	O=$CY_TMP/own-images
	mkdir -p "$O"
	mount -t tmpfs -o size=64m tmpfs "$O" || skip "cannot mount a tmpfs here"
	chmod 0755 "$O"
	sed -e "\$a sandbox:\n  images_dir: \"$O\"\n  images_private: require\n  mksquashfs_path: \"/nonexistent/mksquashfs\"" \
		"$D/node.yaml" >"$D/own.yaml"
	CONF=$D/own.yaml run node image import busybox:1 "$R"
	assert_success
	CONF=$D/own.yaml job i-own busybox:1 'cat /proc/self/mountinfo'
	status_=$status out_=$output
	umount -l "$O"
	output=$out_
	[ "$status_" = 0 ]
	[ "$(field .status)" = completed ]
	[[ "$(field .stdout)" == *" /busybox:1/bin /bin "* ]]
	run grep -c -e "$CY_TMP" -e own-images <<<"$(field .stdout)"
	cy_eq "$output" 0
}

@test "as root with mksquashfs an import is a squashfs image: its jobs' mountinfo shows no host path" {
	[ "$SQ" = 1 ] || skip "needs root, mksquashfs and loop devices"
	run node image import bb-sq "$R"
	assert_success
	assert_output --partial "bb-sq.sqfs (squashfs"
	[ -f "$D/state/images/bb-sq.sqfs" ]
	[ ! -e "$D/state/images/bb-sq" ]
	run node image list
	assert_output --partial "bb-sq	$D/state/images/bb-sq.sqfs"
	# images_private: require accepts it: nothing of the host's layout shows.
	sed -e '$a sandbox:\n  images_private: require' "$D/node.yaml" >"$D/priv.yaml"
	CONF=$D/priv.yaml job i-sq bb-sq 'cat /etc/image-name; cat /proc/self/mountinfo'
	assert_success
	[ "$(field .status)" = completed ]
	[[ "$(field .stdout)" == busybox-image* ]]
	[[ "$(field .stdout)" == *" /bin /bin ro,nosuid,nodev"*" - squashfs /dev/loop"* ]]
	run grep -c -e "$CY_TMP" -e /state/ -e /run/cynode <<<"$(field .stdout)"
	cy_eq "$output" 0
	# --run-job unmounted it when it was done: no loop device is left on
	# this file (other files' nodes may hold their own under /run/cynode).
	run losetup -j "$D/state/images/bb-sq.sqfs"
	assert_success
	cy_eq "$output" ""
	# Re-imported without mksquashfs it becomes a directory again (and still runs).
	CONF=$D/dir.yaml run node image import bb-sq "$R"
	assert_success
	[ -d "$D/state/images/bb-sq" ]
	[ ! -e "$D/state/images/bb-sq.sqfs" ]
	job i-sq2 bb-sq 'cat /etc/image-name'
	[ "$(field .stdout)" = busybox-image ]
	run node image rm bb-sq
	assert_success
	[ ! -e "$D/state/images/bb-sq" ]
}

@test "a squashfs image that is a symbolic link is refused with a clear error" {
	[ "$SQ" = 1 ] || skip "needs root, mksquashfs and loop devices"
	run node image import bb-target "$R"
	assert_success
	ln -s "$D/state/images/bb-target.sqfs" "$D/state/images/bb-link.sqfs"
	job i-link bb-link 'true'
	assert_failure 1
	assert_output --partial '"status": 500'
	assert_output --partial "image file '$D/state/images/bb-link.sqfs' is a symbolic link: a squashfs image must be the file itself"
	# The file itself still runs; the link alone goes with rm.
	job i-target bb-target 'cat /etc/image-name'
	assert_success
	run node image rm bb-link
	assert_success
	[ -f "$D/state/images/bb-target.sqfs" ]
	run node image rm bb-target
	assert_success
}

@test "without mksquashfs an import stays a directory, says why, and its jobs run" {
	CONF=$D/dir.yaml run node image import bb-dir "$R"
	assert_success
	assert_output --partial "stays a directory"
	[ "$(id -u)" != 0 ] || assert_output --partial "sandbox.mksquashfs_path '/nonexistent/mksquashfs' not found"
	[ -d "$D/state/images/bb-dir/bin" ]
	job i-fallback bb-dir 'cat /etc/image-name'
	assert_success
	[ "$(field .stdout)" = busybox-image ]
	sed -e '$a sandbox:\n  mksquashfs_path: "relative/mksquashfs"' "$D/node.yaml" >"$D/bad.yaml"
	CONF=$D/bad.yaml run node --check-config
	assert_failure 2
	assert_output --partial "sandbox.mksquashfs_path 'relative/mksquashfs' must be absolute"
}
