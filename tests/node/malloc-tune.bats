#!/usr/bin/env bats
#
# The node daemon's allocator settings (node/malloc-tune.c): it execs
# itself once with glibc's per-thread block cache and thread-stack cache
# off, keeping its pid; an operator's own GLIBC_TUNABLES naming either
# wins and no exec happens; started through the dynamic loader it runs
# untuned; --check-config runs as it is.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_login >/dev/null
}

TUNED='glibc.malloc.tcache_count=0:glibc.pthread.stack_cache_size=0'

@test "node: the daemon runs with glibc's caches off, same pid, and still runs jobs" {
	cy_node_start node-t
	grep -q "event=node_starting .*malloc=\"\?$TUNED" "$CY_TMP/node-node-t.log"
	# The pid the harness started is the exec'd image (its first
	# environment holds what the exec saved: nothing, "-"), still named
	# for its file.
	tr '\0' '\n' <"/proc/$CY_NODE_PID/environ" | grep -qx 'CYNODE_NODE_TUNABLES_SAVED=-'
	[ "$(cat "/proc/$CY_NODE_PID/comm")" = cynode-node ]
	[ "$(readlink "/proc/$CY_NODE_PID/exe")" = "$(readlink -f "$CY_BUILD/cynode-node")" ]
	# One node_starting line: the first image exec'd before logging anything.
	[ "$(grep -c 'event=node_starting' "$CY_TMP/node-node-t.log")" = 1 ]
	run -0 cynork task create --command 'echo tuned' --wait
	assert_output --partial tuned
	cy_node_stop node-t
}

@test "node: an operator's GLIBC_TUNABLES naming the caches is kept, no exec" {
	GLIBC_TUNABLES=glibc.malloc.tcache_count=3 cy_node_start node-o
	grep -q "event=node_starting .*malloc=\"the operator's GLIBC_TUNABLES\"" "$CY_TMP/node-node-o.log"
	tr '\0' '\n' <"/proc/$CY_NODE_PID/environ" >"$CY_TMP/environ-o"
	grep -qx 'GLIBC_TUNABLES=glibc.malloc.tcache_count=3' "$CY_TMP/environ-o"
	! grep -q CYNODE_NODE_TUNABLES_SAVED "$CY_TMP/environ-o" || false
	cy_node_stop node-o
}

@test "node: other GLIBC_TUNABLES are kept beside the node's" {
	GLIBC_TUNABLES=glibc.malloc.arena_max=1 cy_node_start node-a
	grep -q "event=node_starting .*malloc=\"\?$TUNED" "$CY_TMP/node-node-a.log"
	# The operator's value was saved for the exec'd image to put back.
	tr '\0' '\n' <"/proc/$CY_NODE_PID/environ" |
		grep -qx 'CYNODE_NODE_TUNABLES_SAVED==glibc.malloc.arena_max=1'
	cy_node_stop node-a
}

@test "node: started through the dynamic loader, it runs untuned rather than exec the loader" {
	local interp
	interp=$(readelf -l "$CY_BUILD/cynode-node" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
	[ -x "$interp" ] || skip "no program interpreter found"
	STACK_NODE_WRAP=$interp cy_node_start node-l
	grep -q 'event=node_starting .*malloc="glibc defaults"' "$CY_TMP/node-node-l.log"
	cy_node_stop node-l
}

@test "node: --check-config does not exec itself" {
	conf=$(cy_node_config node-c)
	# LeakSanitizer cannot run under ptrace (an ASan build).
	run -0 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=execve -o "$CY_TMP/check.strace" \
		"$CY_BUILD/cynode-node" --config "$conf" --check-config
	[ "$(grep -c execve "$CY_TMP/check.strace")" = 1 ]
}
