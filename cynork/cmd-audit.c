/*
 * cynork audit list (admin): admin actions and auth events,
 * newest first, filtered by source, actor, action and time range.
 * --since and --until take an RFC 3339 time or a duration meaning that
 * long ago ("1h") (query.c).  -o csv prints the list as CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "timeutil.h"
#include "banned.h"

static const char *const source_choices[] = { "all", "admin", "auth", NULL };

/* audit list: the columns (-o wide adds the last two). */
static const struct col audit_cols[] = {
	{ "EVENT_ID", 0 },
	{ "TS", COL_TIME },
	{ "SOURCE", 0 },
	{ "ACTOR", 0 },
	{ "ACTION", 0 },
	{ "TARGET", COL_TRUNC },
	{ "RESULT", COL_STATE },
	{ "IP_ADDRESS", COL_WIDE },
	{ "TOKEN_ID", COL_WIDE },
	{ NULL, 0 },
};

static int
audit_list_check(const struct parsed *p)
{
	static const char *const times[] = { "since", "until", NULL };

	return query_time_check(p, times);
}

static int
audit_list(struct ctx *c, const struct parsed *p)
{
	struct out_table *t;
	struct cy_buf q = CY_BUF_INIT;
	json_t *res = NULL, *events, *e;
	char *path;
	size_t i;
	int rc;

	query_add(&q, "source", opt_get(p, "source"));
	query_add(&q, "actor", opt_get(p, "actor"));
	query_add(&q, "action", opt_get(p, "action"));
	query_add_time(&q, "since", opt_get(p, "since"));
	query_add_time(&q, "until", opt_get(p, "until"));
	query_add(&q, "limit", opt_get(p, "limit"));
	query_add(&q, "cursor", opt_get(p, "cursor"));
	path = xasprintf("/v1/audit%s", q.buf);
	rc = api_call(c, "GET", path, NULL, true, &res);
	free(path);
	cy_buf_release(&q);
	if (rc)
		return rc;
	events = json_object_get(res, "events");
	if (!json_is_array(events)) {
		json_decref(res);
		return fail(EXIT_PROTOCOL, "malformed response: no 'events' list");
	}
	if (out_json(c))
		return print_json(res);
	t = out_name(c) ? NULL : table_new(c, p, audit_cols);
	json_array_foreach(events, i, e) {
		if (!t) {
			printf("%s\n", out_dash(e, "event_id"));
			continue;
		}
		table_row(t);
		table_cell(t, cy_json_str(e, "event_id"));
		table_cell(t, cy_json_str(e, "ts"));
		table_cell(t, cy_json_str(e, "source"));
		table_cell(t, cy_json_str(e, "actor"));
		table_cell(t, cy_json_str(e, "action"));
		table_cell(t, cy_json_str(e, "target"));
		table_cell(t, json_is_true(json_object_get(e, "success")) ? "ok" : "failed");
		table_cell(t, cy_json_str(e, "ip_address"));
		table_cell(t, cy_json_str(e, "token_id"));
	}
	rc = t ? table_print(t) : 0;
	fflush(stdout);
	if (cy_json_str(res, "next_cursor"))
		note(c, "more: --cursor %s", cy_json_str(res, "next_cursor"));
	json_decref(res);
	return rc;
}

/* clang-format off */
static const struct opt list_opts[] = {
	{ .name = "source", .kind = OPT_ENUM, .arg = "SOURCE",
	  .help = "admin actions, auth events or all (default all)", .choices = source_choices },
	{ .name = "actor", .kind = OPT_STR, .arg = "HANDLE",
	  .help = "only events of this user handle" },
	{ .name = "action", .kind = OPT_STR, .arg = "ACTION",
	  .help = "only this action or event (user.disable, login_failure); a trailing * matches a prefix" },
	{ .name = "since", .kind = OPT_STR, .arg = "TIME",
	  .help = "from this time on (RFC 3339, or a duration ago: 1h)" },
	{ .name = "until", .kind = OPT_STR, .arg = "TIME",
	  .help = "before this time (RFC 3339, or a duration ago)" },
	{ .name = "limit", .shrt = 'l', .kind = OPT_INT, .arg = "N",
	  .help = "at most N events (1-500, default 100)", .min = 1, .max = 500 },
	{ .name = "cursor", .kind = OPT_STR, .arg = "C",
	  .help = "continue after the last page (its next_cursor)" },
	{ .name = "no-headers", .kind = OPT_BOOL, .help = "omit the header line" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_audit_list = {
	.path = "audit list",
	.aliases = "ls",
	.summary = "list admin actions and auth events, newest first (admin)",
	.opts = list_opts,
	.flags = CMD_NEEDS_AUTH | CMD_CSV,
	.check = audit_list_check,
	.exec = audit_list,
	.doc =
	    "Admin actions (source admin: user.create, user.disable, token.create, token.revoke, node and config actions, ...) and auth events (source auth: login_success, login_failure with its reason, refresh_success, refresh_failure, logout, session_revoked, user_created, user_disabled, user_reenabled, password_changed, password_reset) as a TAB-separated table: EVENT_ID, TS, SOURCE, ACTOR, ACTION, TARGET, RESULT. -o wide adds IP_ADDRESS and TOKEN_ID; -o csv prints every column as RFC 4180 CSV (quoted where a value holds a comma, a double quote or a line break; absent values empty). -o json prints events (with ip_address and details) and next_cursor; in table and CSV mode the next cursor is printed to standard error.",
};
