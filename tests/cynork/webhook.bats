#!/usr/bin/env bats
#
# webhook.bats: cynork webhook create|list|delete|deliveries against the
# real server and a node: a webhook with a secret from a file, the list
# (never the secret), the delivery log after a task finishes (the receiver
# here is down: pending, attempts, the error), delete; a made secret shown
# once; garbage flags.  Signatures and retries against a live receiver:
# tests/server/webhooks.bats.

load ../lib/harness
bats_require_minimum_version 1.5.0

setup_file()
{
	cy_setup_file
	cy_pg_start
	cy_server_start
	cy_node_start node-01
	cy_login >/dev/null
}

@test "webhook create, list, deliveries, delete" {
	printf 'a-secret-of-enough-bytes\n' >"$CY_TMP/secret"
	run -0 cynork webhook create --url http://127.0.0.1:1/hook --events task.finished,node.lost \
		--secret-file "$CY_TMP/secret"
	assert_output --regexp '^webhook_id=[0-9a-f-]{36} url=http://127.0.0.1:1/hook$'
	id=$(sed 's/^webhook_id=\([^ ]*\) .*/\1/' <<<"$output")
	run -0 cynork -o json webhook list
	[ "$(jq -c '.webhooks[] | [.webhook_id, .events]' <<<"$output")" = "[\"$id\",[\"task.finished\",\"node.lost\"]]" ]
	refute_output --partial secret
	run -0 cynork webhook list --no-headers
	assert_output --regexp "^$id"$'\t'"http://127.0.0.1:1/hook"$'\t'"task.finished,node.lost"$'\t'"0"$'\t'"0"
	cynork task create --command true --wait >/dev/null
	sleep 1.5
	run -0 cynork webhook deliveries "$id" --no-headers
	assert_output --regexp $'^[0-9]+\ttask.finished\t[0-9]+\tpending\t[12]\t-?\t.+'
	run -0 cynork -o json webhook deliveries "$id"
	# The server runs with the default webhooks.allow_private_destinations
	# false: 127.0.0.1 is refused at connect, and the log says so.
	jq -e '.deliveries[0].last_error | contains("not a public address")' <<<"$output"
	run -64 cynork webhook delete "$id"
	run -0 cynork webhook delete -y "$id"
	assert_output "webhook_id=$id deleted=true"
	run -66 cynork webhook delete -y "$id"
	run -66 cynork webhook deliveries "$id"
}

@test "webhook create without --secret-file: the server's secret, shown once" {
	run -0 cynork webhook create --url https://example.invalid/h --events task.finished
	assert_output --regexp '^webhook_id=[0-9a-f-]{36} url=https://example.invalid/h secret=[0-9a-f]{48}$'
	id=$(sed 's/^webhook_id=\([^ ]*\) .*/\1/' <<<"$output")
	run -0 cynork -o json webhook list
	refute_output --partial secret
	cynork webhook delete -y "$id"
}

@test "webhook: garbage flags" {
	run -64 cynork webhook create --events task.finished
	assert_output --partial "needs --url"
	run -64 cynork webhook create --url http://x
	assert_output --partial "needs --events"
	run -64 cynork webhook create --url http://x --events task.done
	assert_output --partial "invalid event 'task.done' for --events"
	run -64 cynork webhook create --url http://x --events task.finished,
	run -64 cynork webhook create --url http://x --events task.finished --secret-file "$CY_TMP/none"
	printf 'short' >"$CY_TMP/short"
	run -65 cynork webhook create --url http://x --events task.finished --secret-file "$CY_TMP/short"
	assert_output --partial "secret"
	run -65 cynork webhook create --url ftp://x --events task.finished
	assert_output --partial "url must be"
	run -64 cynork webhook deliveries x --limit 0
	run -66 cynork webhook deliveries not-a-webhook
}
