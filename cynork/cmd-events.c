/*
 * cynork events: task and node state changes from GET /v1/events (server-
 * sent events), one line per event: a key=value record (event_id, time,
 * type, task or node, status, previous), or with -o json the event's JSON
 * object (its id named event_id, as the record and webhook deliveries
 * call it), one a line (JSON lines), with -o yaml a YAML stream (one
 * document per event).  Without --follow it prints the events
 * kept (or those after --since) and exits; with --follow it stays
 * connected and, when the connection drops (a server restart, a replica
 * gone, a proxy's idle cut), reconnects with Last-Event-ID set to the last
 * id it got, so no event is missed or printed twice.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cynork.h"
#include "json.h"
#include "sse.h"
#include "strnum.h"
#include "banned.h"

#define EVENT_MAX (256 * 1024)
/* Three keep-alives missed: the connection is dead, reconnect. */
#define IDLE_S 45
#define BACKOFF_MAX_S 30

static const char *const type_choices[] = { "task", "node", NULL };

struct events_out {
	struct ctx *c;
	bool json;
	bool yaml; /* -o yaml: a stream of YAML documents, one per event */
	int werr;  /* stdout failed */
};

/* One event: printed at once (a follow is read as it happens). */
static int
on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct events_out *o = arg;
	struct cy_buf line = CY_BUF_INIT;
	json_t *e;
	long long id;

	(void)event;
	if (!(e = json_loadb(data, len, 0, NULL)) || !json_is_object(e)) {
		json_decref(e);
		return 0; /* not an event this cynork knows: skipped */
	}
	if (o->yaml) {
		print_json(out_id_view(e, "event_id"));
	} else if (o->json) {
		json_t *v = out_id_view(e, "event_id");
		char *s = json_dumps(v, JSON_COMPACT);

		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
		json_decref(v);
	} else {
		if (cy_json_int(e, "id", &id) == 0)
			rec_addll(&line, "event_id", id);
		rec_add(&line, "time", cy_json_str(e, "time"));
		rec_add(&line, "type", cy_json_str(e, "type"));
		if (cy_json_str(e, "task_id")) {
			rec_add(&line, "task", cy_json_str(e, "task_name"));
			rec_add(&line, "task_id", cy_json_str(e, "task_id"));
		}
		if (cy_json_str(e, "node"))
			rec_add(&line, "node", cy_json_str(e, "node"));
		rec_add(&line, "status", cy_json_str(e, "status"));
		if (cy_json_str(e, "previous"))
			rec_add(&line, "previous", cy_json_str(e, "previous"));
		print_line(&line);
	}
	json_decref(e);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		o->werr = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

static int
stream_fn(void *arg, const char *data, size_t len)
{
	struct cy_sse *sse = arg;

	return cy_sse_feed(sse, data, len) == 0 ? 0 : -1;
}

static int
events_check(const struct parsed *p)
{
	const char *errstr;
	long long v;

	if (opt_get(p, "since") && cy_strtonum(opt_get(p, "since"), 0, INT64_MAX, &v, &errstr) < 0)
		return fail(EXIT_USAGE, "invalid event id '%s' for --since: want an integer >= 0",
		    opt_get(p, "since"));
	if (opt_get(p, "task") && opt_get(p, "type") && !strcmp(opt_get(p, "type"), "node"))
		return fail(EXIT_USAGE, "--task goes with task events, not --type node");
	return 0;
}

/* The request's path: the filters, follow or not. */
static char *
events_path(const struct parsed *p, bool follow)
{
	struct cy_buf q = CY_BUF_INIT;
	char *e;

	cy_buf_addf(&q, "/v1/events?follow=%s", follow ? "true" : "false");
	if (opt_get(p, "type"))
		cy_buf_addf(&q, "&type=%s", opt_get(p, "type"));
	if (opt_get(p, "task")) {
		e = url_escape(opt_get(p, "task"));
		cy_buf_addf(&q, "&task=%s", e);
		free(e);
	}
	if (opt_set(p, "all"))
		cy_buf_addstr(&q, "&all=true");
	if (opt_get(p, "since"))
		cy_buf_addf(&q, "&since=%s", opt_get(p, "since"));
	return cy_buf_detach(&q, NULL);
}

static int
events_run(struct ctx *c, const struct parsed *p)
{
	bool follow = opt_set(p, "follow");
	struct events_out o = { .c = c,
		.json = out_json(c),
		.yaml = out_json(c) && strcmp(c->output, "yaml") == 0 };
	char *path = events_path(p, follow), *hdr = NULL;
	const char *hdrs[2] = { NULL, NULL };
	char last[64] = "";
	int backoff = 1, rc;

	for (;;) {
		struct api_stream s = { .idle_timeout_s = follow ? IDLE_S : 0,
			.abort_flag = &cynork_interrupted,
			.fn = stream_fn,
			.max_response = SIZE_MAX };
		struct cy_sse sse;

		cy_sse_init(&sse, EVENT_MAX, on_event, &o);
		if (*last) {
			free(hdr);
			hdrs[0] = hdr = xasprintf("Last-Event-ID: %s", last);
			s.headers = hdrs;
		}
		s.arg = &sse;
		rc = api_stream(c, "GET", path, NULL, &s);
		/* Where to resume: the last id the server sent (events or its opening line). */
		if (sse.last_id[0])
			xsnprintf(last, sizeof(last), "%s", sse.last_id);
		cy_sse_release(&sse);
		if (o.werr) {
			rc = fail(EXIT_INTERNAL, "cannot write the events: %s", strerror(o.werr));
			break;
		}
		if (rc < 0 && s.err.code == ECANCELED) {
			rc = fail(EXIT_PROTOCOL, "malformed event stream from the gateway");
			break;
		}
		if (!follow || (rc < 0 && s.err.code == EINTR) ||
		    (rc > 0 && rc != EXIT_GATEWAY && rc != EXIT_TEMPFAIL)) {
			if (rc < 0)
				rc = api_transport_fail(c, &s.err);
			break;
		}
		/*
		 * The server ends a follow stream now and then (it authorizes a
		 * stream once): resume at once.  Else (a restart, a dropped
		 * connection) resume after a pause that grows.
		 */
		if (rc == 0 && s.started) {
			poll(NULL, 0, 100);
			continue;
		}
		if (s.started)
			backoff = 1;
		note(c, "cynork: event stream %s; reconnecting in %d s",
		    rc < 0 ? s.err.msg : "ended", backoff);
		if (poll(NULL, 0, backoff * 1000) < 0 && cynork_interrupted) {
			rc = fail(EXIT_INTERRUPTED, "interrupted");
			break;
		}
		if (cynork_interrupted) {
			rc = fail(EXIT_INTERRUPTED, "interrupted");
			break;
		}
		backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
	}
	free(hdr);
	free(path);
	return rc;
}

/* clang-format off */
static const struct opt events_opts[] = {
	{ .name = "follow", .shrt = 'F', .shrt_alias = 'f', .kind = OPT_BOOL,
	  .help = "stay connected and print new events as they happen; reconnects (resuming after the last event) when the connection drops" },
	{ .name = "type", .kind = OPT_ENUM, .arg = "TYPE", .choices = type_choices,
	  .help = "only task events or only node events (node events: operators and admins)" },
	{ .name = "task", .kind = OPT_STR, .arg = "TASK",
	  .help = "only this task's events (its id or name)" },
	{ .name = "since", .kind = OPT_STR, .arg = "ID",
	  .help = "the events after this event id (0: from the oldest kept)" },
	{ .name = "all", .kind = OPT_BOOL,
	  .help = "every user's task events (operators and admins)" },
	{ NULL }
};
/* clang-format on */

const struct cmd cmd_events = {
	.path = "events",
	.summary = "print task and node state changes; --follow streams them as they happen",
	.opts = events_opts,
	.flags = CMD_NEEDS_AUTH | CMD_OWN_PAGE,
	.check = events_check,
	.exec = events_run,
	.doc =
	    "One line per event, oldest first: event_id, time, type (task.created, task.queued, task.running, task.completed, task.failed, task.canceled, task.superseded; node.registered, node.active, node.lost, node.drained, node.removed), the task (name and task_id) or node, status and previous status, as key=value pairs; -o json prints each event's JSON object on its own line (JSON lines: event_id, type, time, status, previous, and task_id and task_name or node), -o yaml each event as its own YAML document (a stream, \"---\" between documents). A user sees their own tasks' events; node events are shown to operators and admins. Without --follow the events kept by the server (events.retention, default 7 days) or those after --since are printed; with --follow cynork stays connected (from now, or after --since) until interrupted, and resumes after the last event it printed when the connection drops. Each event has an id (event_id) that is the same on every server replica: give it to --since to continue later.",
};
