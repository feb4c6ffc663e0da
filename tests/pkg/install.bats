#!/usr/bin/env bats
#
# make install and make uninstall into a DESTDIR: the tree an operator gets
# (programs, man pages, completions, systemd units, sysusers.d, tmpfiles.d,
# example configuration), the units checked by systemd-analyze verify, and
# the example server.yaml and node.yaml against the programs' key tables.

load ../lib/harness
load ../lib/config-keys
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	# The programs under test, installed as they are (-o all: no rebuild
	# with other flags into $CY_BUILD).
	make -C "$CY_ROOT" --no-print-directory -o all O="$CY_BUILD" \
		DESTDIR="$CY_TMP/root" PREFIX=/usr install >"$CY_TMP/install.log" 2>&1
}

# leaves_of FILE: the dotted key paths of a printed configuration.
leaves_of() { cfgk_leaves <"$1" | cut -f1 | LC_ALL=C sort -u; }

@test "make install PREFIX=/usr puts every file where Debian looks for it" {
	local R=$CY_TMP/root f p
	for f in usr/bin/cynork usr/bin/cynode-tls usr/sbin/cynode-server usr/sbin/cynode-node \
		usr/libexec/cynode/cynode-sba; do
		[ -x "$R/$f" ] || { echo "missing program $f"; ls -R "$R" | head -50; false; }
	done
	for f in man/*.[158]; do
		p=$R/usr/share/man/man${f##*.}/${f#man/}
		[ -f "$p" ] || { echo "missing man page $p"; false; }
	done
	cmp "$CY_ROOT/completions/cynork.bash" "$R/usr/share/bash-completion/completions/cynork"
	cmp "$CY_ROOT/completions/_cynork" "$R/usr/share/zsh/vendor-completions/_cynork"
	cmp "$CY_ROOT/completions/cynork.fish" "$R/usr/share/fish/vendor_completions.d/cynork.fish"
	cmp "$CY_ROOT/etc/server.yaml" "$R/etc/cynode/server.yaml"
	cmp "$CY_ROOT/etc/node.yaml" "$R/etc/cynode/node.yaml"
	cmp "$CY_ROOT/systemd/cynode.sysusers" "$R/usr/lib/sysusers.d/cynode.conf"
	cmp "$CY_ROOT/systemd/cynode.tmpfiles" "$R/usr/lib/tmpfiles.d/cynode.conf"
	[ "$(ls "$R/usr/share/cynode/migrations" | wc -l)" = "$(ls "$CY_ROOT"/migrations/*.sql | wc -l)" ]
	# The unit dir is the system's (pkg-config systemd), paths filled in.
	unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/lib/systemd/system)
	for f in cynode-server cynode-node; do
		p=$R$unitdir/$f.service
		[ -f "$p" ] || { echo "missing unit $p"; false; }
		run ! grep -n '@[A-Z]*@' "$p"
		grep -qx "ExecStart=/usr/sbin/$f --config /etc/cynode/${f#cynode-}.yaml" "$p"
		[ "$(stat -c %a "$p")" = 644 ]
	done
	# The installed server finds the installed migrations (../share/cynode).
	run env -u CYNODE_MIGRATIONS_DIR DATABASE_URL=postgresql:///none "$R/usr/sbin/cynode-server" \
		--config "$R/etc/cynode/server.yaml" --print-config
	assert_success
}

@test "the units pass systemd-analyze verify and keep their hardening" {
	local R=$CY_TMP/root V=$CY_TMP/verify u
	unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/lib/systemd/system)
	mkdir -p "$V"
	for u in cynode-server cynode-node; do
		sed "s|/usr/sbin/|$R/usr/sbin/|" "$R$unitdir/$u.service" >"$V/$u.service"
		grep -qx 'Type=notify' "$V/$u.service"
		grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$V/$u.service"
		grep -qx 'NoNewPrivileges=yes' "$V/$u.service"
		grep -qx 'ProtectSystem=strict' "$V/$u.service"
		grep -qx 'ProtectHome=yes' "$V/$u.service"
		grep -qx 'PrivateTmp=yes' "$V/$u.service"
		grep -q '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' "$V/$u.service"
	done
	grep -qx 'User=cynode' "$V/cynode-server.service"
	grep -qx 'Delegate=yes' "$V/cynode-node.service"
	grep -qx 'ReadWritePaths=/var/lib/cynode /run/cynode' "$V/cynode-node.service"
	if ! command -v systemd-analyze >/dev/null; then
		skip "systemd-analyze is not installed (the keys above were checked)"
	fi
	# verify exits 0 on unknown keys and bad values: any line it prints fails.
	run systemd-analyze verify --man=no "$V/cynode-server.service" "$V/cynode-node.service"
	assert_success
	assert_output ""
	# ... and it does notice a bad line (the check can fail).
	printf '[Service]\nExecStart=/bin/true\nProtectSystem=sometimes\n' >"$V/bad.service"
	run systemd-analyze verify --man=no "$V/bad.service"
	assert_output --partial "sometimes"
	# The exposure systemd rates (0 best, 10 worst): the server is locked down
	# (1.5 now, at most 2.0), the node as far as bubblewrap allows (7.3 now,
	# root with the capabilities the sandbox needs; at most 8.0).
	run systemd-analyze security --offline=true --threshold=20 "$V/cynode-server.service"
	assert_success
	assert_output --partial "Overall exposure level for cynode-server.service"
	run systemd-analyze security --offline=true --threshold=80 "$V/cynode-node.service"
	assert_success
	run systemd-analyze security --offline=true --threshold=20 "$V/cynode-node.service"
	assert_failure
}

@test "sysusers.d and tmpfiles.d entries parse" {
	local R=$CY_TMP/root
	command -v systemd-sysusers >/dev/null || skip "systemd-sysusers is not installed"
	run systemd-sysusers --root="$CY_TMP/sysroot" --dry-run "$R/usr/lib/sysusers.d/cynode.conf"
	assert_success
	assert_output --partial "cynode"
	run systemd-tmpfiles --root="$CY_TMP/sysroot" --create "$R/usr/lib/tmpfiles.d/cynode.conf"
	assert_success
	[ "$(stat -c %a "$CY_TMP/sysroot/var/lib/cynode")" = 711 ]
	[ "$(stat -c %a "$CY_TMP/sysroot/run/cynode")" = 711 ]
}

@test "make install keeps an operator's config; make uninstall removes the rest" {
	local R=$CY_TMP/root2
	make -C "$CY_ROOT" --no-print-directory -o all O="$CY_BUILD" DESTDIR="$R" \
		PREFIX=/usr/local install >/dev/null
	[ -x "$R/usr/local/sbin/cynode-server" ]
	[ -x "$R/usr/local/libexec/cynode/cynode-sba" ]
	[ -f "$R/usr/local/share/zsh/site-functions/_cynork" ]
	[ -f "$R/usr/local/lib/systemd/system/cynode-node.service" ]
	grep -qx 'ExecStart=/usr/local/sbin/cynode-node --config /etc/cynode/node.yaml' \
		"$R/usr/local/lib/systemd/system/cynode-node.service"
	echo '# mine' >>"$R/etc/cynode/node.yaml"
	run make -C "$CY_ROOT" --no-print-directory -o all O="$CY_BUILD" DESTDIR="$R" \
		PREFIX=/usr/local install
	assert_success
	assert_output --partial "node.yaml exists, left as it is"
	tail -n 1 "$R/etc/cynode/node.yaml" | grep -qx '# mine'
	run make -C "$CY_ROOT" --no-print-directory -o all O="$CY_BUILD" DESTDIR="$R" \
		PREFIX=/usr/local uninstall
	assert_success
	assert_output --partial "node.yaml was changed, left as it is"
	run find "$R" -type f
	assert_output "$R/etc/cynode/node.yaml"
}

@test "the example server.yaml loads and shows every key of the server's table" {
	local ex=$CY_ROOT/etc/server.yaml
	"$CY_BUILD/cynode-server" --dev --print-config >"$CY_TMP/srv.print"
	leaves_of "$CY_TMP/srv.print" >"$CY_TMP/srv.keys"
	"$CY_ROOT/tests/pkg/example-keys" "$ex" | LC_ALL=C sort -u >"$CY_TMP/srv.ex"
	[ "$(wc -l <"$CY_TMP/srv.keys")" -gt 40 ]
	run comm -23 "$CY_TMP/srv.keys" "$CY_TMP/srv.ex"
	assert_output ""
	run env DATABASE_URL=postgresql:///x "$CY_BUILD/cynode-server" --config "$ex" --print-config
	assert_success
	# The comparison notices a key the example lacks.
	grep -v 'lockout_max' "$ex" >"$CY_TMP/short.yaml"
	"$CY_ROOT/tests/pkg/example-keys" "$CY_TMP/short.yaml" | LC_ALL=C sort -u >"$CY_TMP/short.ex"
	run comm -23 "$CY_TMP/srv.keys" "$CY_TMP/short.ex"
	assert_output "auth.lockout_max"
}

@test "the example node.yaml loads and shows every key of the node's table" {
	local ex=$CY_ROOT/etc/node.yaml
	printf 'psk-for-tests-0123456789\n' >"$CY_TMP/psk"
	chmod 0600 "$CY_TMP/psk"
	sed "s|/etc/cynode/node.psk|$CY_TMP/psk|" "$ex" >"$CY_TMP/node.yaml"
	run "$CY_BUILD/cynode-node" --config "$CY_TMP/node.yaml" --check-config
	assert_success
	printf '%s\n' "$output" >"$CY_TMP/node.print"
	leaves_of "$CY_TMP/node.print" >"$CY_TMP/node.keys"
	"$CY_ROOT/tests/pkg/example-keys" "$ex" | LC_ALL=C sort -u >"$CY_TMP/node.ex"
	[ "$(wc -l <"$CY_TMP/node.keys")" -gt 50 ]
	run comm -23 "$CY_TMP/node.keys" "$CY_TMP/node.ex"
	assert_output ""
}
