#!/usr/bin/env bats
#
# The Debian packages as an operator gets them (make test-deb): the
# cynode-server, cynode-node and cynork .debs of $CY_DEB_DIR installed with
# `dpkg --root` into a fresh root (maintainer scripts run chrootless with
# DPKG_ROOT, as debhelper's snippets support: the cynode user, the
# directories), their Depends checked against what the binaries link, then
# the stack started from the installed files only (the server with its
# packaged migrations and example server.yaml against the private test
# PostgreSQL, the node running jobs in bubblewrap) and one task run through
# the packaged cynork.  Not root: unpacked with dpkg-deb -x instead (the
# maintainer-script test is skipped).

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	local p
	cy_setup_file
	if ! command -v dpkg-deb >/dev/null; then
		export CY_DEB_SKIP="dpkg-deb is not installed (apt-get install dpkg)"
		return 0
	fi
	D=${CY_DEB_DIR:-$CY_BUILD/deb}
	R=$CY_TMP/root
	DEBS=()
	for p in cynode-server cynode-node cynork; do
		ls "$D/${p}"_*.deb >/dev/null 2>&1 || { echo "no $p .deb in $D: run make deb" >&2; return 1; }
		DEBS+=("$(ls "$D/${p}"_*.deb | head -n 1)")
	done
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
	: >"$R/var/lib/dpkg/status"
	if [ "$(id -u)" = 0 ]; then
		# The libraries are the host's: their packages are not in this root.
		dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null \
			-i "${DEBS[@]}" >"$CY_TMP/dpkg.log" 2>&1 || { cat "$CY_TMP/dpkg.log" >&2; return 1; }
	else
		for p in "${DEBS[@]}"; do dpkg-deb -x "$p" "$R"; done
	fi
	export R D
}

setup()
{
	[ -z "${CY_DEB_SKIP:-}" ] || skip "$CY_DEB_SKIP"
}

# pkg_field PACKAGE FIELD
pkg_field() { dpkg-deb -f "$(ls "$D/$1"_*.deb | head -n 1)" "$2"; }

# linked_pkgs BINARY: the Debian packages of the shared libraries it needs.
linked_pkgs()
{
	local lib path pkg
	for lib in $(objdump -p "$1" | awk '$1 == "NEEDED" { print $2 }'); do
		path=$(ldd "$1" | awk -v l="$lib" '$1 == l { print $3 }')
		pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
		echo "${pkg:-no-package-for-$lib}"
	done | sort -u
}

@test "dpkg --root installs the three packages and their scripts make the user and directories" {
	[ "$(id -u)" = 0 ] || skip "not root: the packages were unpacked with dpkg-deb -x"
	run dpkg --root="$R" -l cynode-server cynode-node cynork
	assert_success
	[ "$(printf '%s\n' "$output" | grep -c '^ii ')" = 3 ]
	grep -q '^cynode:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$R/etc/passwd"
	[ "$(stat -c %a "$R/var/lib/cynode")" = 711 ]
	# Installed, not enabled: nothing starts before it is configured.
	run find "$R/etc" -name 'cynode-*.service'
	assert_success
	assert_output ""
	# Removing the server keeps its configuration (a conffile) until a purge.
	dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null \
		-r cynode-server >/dev/null 2>&1
	[ ! -e "$R/usr/sbin/cynode-server" ]
	[ -f "$R/etc/cynode/server.yaml" ]
	dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null \
		-P cynode-server >/dev/null 2>&1
	[ ! -e "$R/etc/cynode/server.yaml" ]
	dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null \
		-i "$(ls "$D"/cynode-server_*.deb)" >/dev/null 2>&1
	[ -x "$R/usr/sbin/cynode-server" ]
}

@test "each package depends on the package of every library its program links" {
	local prog pkg dep
	for prog in usr/sbin/cynode-server:cynode-server usr/sbin/cynode-node:cynode-node \
		usr/libexec/cynode/cynode-sba:cynode-node usr/bin/cynork:cynork; do
		dep=$(pkg_field "${prog#*:}" Depends)
		for pkg in $(linked_pkgs "$R/${prog%%:*}"); do
			[[ ", $dep" == *", $pkg "* || ", $dep," == *", $pkg,"* ]] ||
				{ echo "${prog#*:}: Depends lacks $pkg: $dep"; false; }
		done
	done
	run linked_pkgs "$R/usr/sbin/cynode-server"
	assert_output --partial "libpq5"
}

@test "the packages depend on what they link and need" {
	run pkg_field cynode-node Depends
	assert_output --partial "bubblewrap"
	assert_output --partial "libseccomp2"
	refute_output --partial "libsystemd0"
	run pkg_field cynode-server Depends
	assert_output --partial "libpq5"
	refute_output --partial "libsystemd0"
	run pkg_field cynode-server Recommends
	assert_output --partial "postgresql"
	run pkg_field cynork Depends
	assert_output --partial "libcurl3-gnutls"
	refute_output --partial "libssl"
	refute_output --partial "libpq5"
	# The server's package makes its user; the node's its directories.
	[ -f "$R/usr/lib/sysusers.d/cynode-server.conf" ]
	[ -f "$R/usr/lib/tmpfiles.d/cynode-node.conf" ]
	run dpkg-deb -I "$(ls "$D"/cynode-server_*.deb)" postinst
	assert_output --partial "systemd-sysusers"
	# Configuration files are conffiles (kept over upgrades).
	run dpkg-deb -I "$(ls "$D"/cynode-server_*.deb)" conffiles
	assert_output --partial "/etc/cynode/server.yaml"
	run dpkg-deb -I "$(ls "$D"/cynode-node_*.deb)" conffiles
	assert_output --partial "/etc/cynode/node.yaml"
}

@test "the unpacked stack runs a task: packaged server, node and cynork" {
	local gw cp node_port conf tid i
	cy_pg_start
	gw=$(stack_free_port)
	cp=$(stack_free_port)
	CY_ADMIN_PASSWORD=$(stack_random 24)
	CY_PSK=$(stack_random 40)
	(umask 077 && printf '%s\n' "$CY_PSK" >"$CY_TMP/psk")
	# No CYNODE_MIGRATIONS_DIR: the packaged server finds its own.
	env -u CYNODE_MIGRATIONS_DIR USER_GATEWAY_LISTEN_ADDR="127.0.0.1:$gw" \
		CONTROL_PLANE_LISTEN_ADDR="127.0.0.1:$cp" \
		ORCHESTRATOR_PUBLIC_URL="http://127.0.0.1:$cp" \
		JWT_SECRET="$(stack_random 48)" NODE_REGISTRATION_PSK="$CY_PSK" \
		BOOTSTRAP_ADMIN_PASSWORD="$CY_ADMIN_PASSWORD" READINESS_REQUIRE_INFERENCE=false \
		"$R/usr/sbin/cynode-server" --config "$R/etc/cynode/server.yaml" \
		>"$CY_TMP/server.log" 2>&1 </dev/null 3>&- &
	cy__track $!
	stack_wait_http "http://127.0.0.1:$gw/healthz" 200 60 $!
	grep 'event=migrations_done' "$CY_TMP/server.log" | grep -q "dir=$R/usr/sbin/../share/cynode/migrations"
	[ "$(cy_psql 'SELECT count(*) FROM schema_migrations')" = "$(ls "$R"/usr/share/cynode/migrations/*.sql | wc -l)" ]

	node_port=$(stack_free_port)
	conf=$CY_TMP/node.yaml
	stack_node_config "$conf" deb-node "$node_port" "$CY_TMP/node" \
		"http://127.0.0.1:$cp" "$CY_TMP/psk" "inference.url=\"http://127.0.0.1:1\"" \
		"inference.ollama_path=\"/nonexistent/ollama\""
	"$R/usr/sbin/cynode-node" --config "$conf" >"$CY_TMP/node-deb.log" 2>&1 </dev/null 3>&- &
	cy__track $!
	stack_wait_http "http://127.0.0.1:$node_port/readyz" 200 60 $!
	stack_wait_http "http://127.0.0.1:$gw/readyz" 200 30

	export XDG_CONFIG_HOME=$CY_TMP/xdg CYNORK_GATEWAY_URL=http://127.0.0.1:$gw
	printf '%s\n' "$CY_ADMIN_PASSWORD" | "$R/usr/bin/cynork" auth login -u admin --password-stdin
	tid=$("$R/usr/bin/cynork" -o json task create --command 'echo packaged-$((6*7))' |
		jq -er '.task_id // .id')
	run "$R/usr/bin/cynork" task wait "$tid"
	assert_success
	run "$R/usr/bin/cynork" task logs "$tid"
	assert_success
	assert_output "packaged-42"
}
