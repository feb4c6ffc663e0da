#!/usr/bin/env bash
# Manual check (not part of `make test`): cynode-node's per-job cgroup v2
# code (node/sandbox-cgroup.c) on a pure cgroup v2 host, the Debian 12
# default, in a throw-away VM.  Hosts with cgroup v1 controllers (hybrid)
# never take that path, so tests/node/*.bats cannot cover it.
#
#   sudo tests/vm/cgroup-v2.sh    # after `make`; a few minutes the first
#                                 # time (debootstrap), 2 minutes after that
#
# Needs root, debootstrap, qemu-system-x86 and e2fsprogs (apt-get install
# qemu-system-x86 debootstrap), and only Debian's archive: it debootstraps
# a minimal bookworm (kernel, bubblewrap, jq and the node's libraries) into
# $CYNODE_VM_DIR (default /tmp/cynode-vm, kept between runs; delete it to
# start over), copies build/cynode-node and tests/vm/cgroup-v2-guest.sh in,
# makes an ext4 image of it and boots it with qemu (TCG; CYNODE_VM_KVM=1
# for KVM) with the guest script as init.  The guest mounts
# cgroup2 at /sys/fs/cgroup and runs jobs through `cynode-node --run-job`
# with memory, pids and cpu limits, OOM, fork bomb, timeout and cancel,
# checking the limits in the job's cgroup and that no cgroup or process is
# left (see the guest script).  Prints the guest's "VM:" lines; exits 0
# when every check passed.  The consoles are in $CYNODE_VM_DIR/console*.log.
# Two boots: the guest script as init (node in a delegated cgroup and in
# the root cgroup), then systemd with the script in a unit (the node as a
# transient service, with and without Delegate=yes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
W=${CYNODE_VM_DIR:-/tmp/cynode-vm}
MIRROR=${CYNODE_VM_MIRROR:-http://deb.debian.org/debian}
PKGS=linux-image-amd64,bubblewrap,jq,procps,libmicrohttpd12,libcurl3-gnutls,libjansson4,libyaml-0-2
PKGS=$PKGS,libseccomp2,libnettle8,systemd-sysv

die() { echo "cgroup-v2.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mkfs.ext4 -d of a root-owned tree)"
for t in debootstrap qemu-system-x86_64 mkfs.ext4; do
	command -v "$t" >/dev/null || die "needs $t (apt-get install qemu-system-x86 debootstrap)"
done
[ -x "$top/build/cynode-node" ] || die "build cynode-node first: make -C $top"
mkdir -p "$W"

if [ ! -e "$W/rootfs/.cynode-ready" ]; then
	rm -rf "$W/rootfs"
	echo "cgroup-v2.sh: debootstrap bookworm into $W/rootfs (log: $W/debootstrap.log)"
	debootstrap --variant=minbase --include="$PKGS" bookworm "$W/rootfs" "$MIRROR" \
		>"$W/debootstrap.log" 2>&1 || die "debootstrap failed, see $W/debootstrap.log"
	touch "$W/rootfs/.cynode-ready"
fi
install -m 0755 "$top/build/cynode-node" "$W/rootfs/usr/local/bin/cynode-node"
install -m 0755 "$here/cgroup-v2-guest.sh" "$W/rootfs/cynode-guest.sh"

# The second boot runs the guest script from a unit under systemd.
cat >"$W/rootfs/etc/systemd/system/cynode-vm.service" <<'UNIT'
[Unit]
Description=cynode cgroup v2 checks (tests/vm/cgroup-v2.sh)
After=basic.target

[Service]
Type=oneshot
ExecStart=/cynode-guest.sh
StandardOutput=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$W/rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/cynode-vm.service \
	"$W/rootfs/etc/systemd/system/multi-user.target.wants/cynode-vm.service"

kernel=$(find "$W/rootfs/boot" -name 'vmlinuz-*' | sort | tail -1)
initrd=$(find "$W/rootfs/boot" -name 'initrd.img-*' | sort | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || die "no kernel or initrd in $W/rootfs/boot"
rm -f "$W/disk.img"
truncate -s 3G "$W/disk.img"
mkfs.ext4 -q -F -d "$W/rootfs" "$W/disk.img"

# TCG by default: it needs nothing of the host and takes a minute a boot;
# CYNODE_VM_KVM=1 uses KVM (a nested-virtualization host may hang in it).
# One CPU: with two, TCG on a busy host once stalled the guest's timers
# (RCU stalls, soft lockups) until the timeout.
accel=(-machine accel=tcg -cpu max)
if [ "${CYNODE_VM_KVM:-0}" = 1 ]; then
	accel=(-enable-kvm)
fi
# boot LOG [KERNEL ARGS...]: one run of the VM, its console in $W/LOG
boot()
{
	local log=$1
	shift
	echo "cgroup-v2.sh: booting $(basename "$kernel") (${accel[*]}) $*"
	timeout "${CYNODE_VM_TIMEOUT:-420}" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 1 \
		-nographic -no-reboot -kernel "$kernel" -initrd "$initrd" \
		-drive "file=$W/disk.img,if=virtio,format=raw" \
		-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet $*" \
		</dev/null >"$W/$log" 2>&1 || true
	tr -d '\r' <"$W/$log" | grep '^VM: ' || true
	tr -d '\r' <"$W/$log" | grep -q '^VM: summary .* 0 failed$'
}

rc=0
# 1: the guest script as init, cgroup2 mounted by hand (no systemd).
boot console.log init=/cynode-guest.sh || rc=1
# 2: systemd as init; the script runs from cynode-vm.service.
boot console-systemd.log systemd.mask=serial-getty@ttyS0.service || rc=1
[ "$rc" = 0 ] || die "FAILED (or the VM did not finish): see $W/console*.log"
echo "cgroup-v2.sh: all checks passed"
