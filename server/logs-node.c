/*
 * POST /v1/nodes/jobs/{id}/logs?lease_id=L&stream=S&offset=N[&eof=true]
 * (node JWT, both listeners): a chunk of a running job's stdout or stderr,
 * the raw bytes as the body (at most 1 MiB).  The node sends each stream
 * from offset 0 on in order and, when the job has ended, an eof chunk
 * (possibly empty) that fixes the stream's length.  Offsets make retries
 * harmless: bytes the server has already counted are skipped.  The answer
 * is the stream's state, {"stream", "next_offset", "stored_bytes",
 * "limit_bytes", "full", "ended"}: the node goes on from next_offset, and
 * once `full` (logs.max_bytes_per_stream reached) sends only the eof.
 * 404 when the attempt is not the node's, 409 (problem+json with
 * next_offset, the stream's end) when the chunk does not fit.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "id.h"
#include "log.h"
#include "logs.h"
#include "server.h"
#include "store-logs.h"
#include "strnum.h"
#include "task-wait.h"
#include "banned.h"

void
h_nodes_job_logs(struct cy_http_req *req, struct cy_http_resp *resp)
{
	const struct auth_ctx *a = req->auth;
	const char *lease = cy_req_query(req, "lease_id"), *stream = cy_req_query(req, "stream");
	const char *off = cy_req_query(req, "offset"), *eof = cy_req_query(req, "eof");
	struct cy_error err = CY_ERROR_INIT;
	struct log_chunk c = { 0 };
	struct log_state st = { 0 };
	const char *errstr;

	c.job_id = req->params[0];
	if (!cy_uuid_valid(c.job_id))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "job id must be a UUID");
	if (!lease || !cy_uuid_valid(lease))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "lease_id must be the attempt's lease (a UUID)");
	if (!stream || (strcmp(stream, "stdout") && strcmp(stream, "stderr")))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "stream must be stdout or stderr");
	if (!off || cy_strtonum(off, 0, LOGS_OFFSET_MAX, &c.offset, &errstr) < 0)
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION,
		    "offset must be a byte offset (an integer from 0 to %lld)", LOGS_OFFSET_MAX);
	if (eof && strcmp(eof, "true") && strcmp(eof, "false"))
		return cy_resp_problem(resp, CY_PROBLEM_VALIDATION, "eof must be true or false");
	if (req->body_len > LOGS_CHUNK_MAX)
		return cy_resp_problem(resp, CY_PROBLEM_TOO_LARGE,
		    "a log chunk holds at most %d bytes", LOGS_CHUNK_MAX);
	c.lease_id = lease;
	c.node_id = a->node_id;
	c.stream = stream;
	c.data = req->body;
	c.len = req->body_len;
	c.eof = eof && !strcmp(eof, "true");
	c.limit_bytes = srv.cfg.logs_max_bytes;
	if (store_logs_append(&c, &st, &err) < 0) {
		if (err.code == ENOENT)
			return cy_resp_problem(resp, CY_PROBLEM_NOT_FOUND, "%s", err.msg);
		if (err.code == ERANGE) {
			/* problem+json with the stream's end, where the node goes on. */
			cy_resp_json(resp, 409,
			    json_pack("{s:s, s:s, s:i, s:s, s:I}", "type",
				cy_problem_type(CY_PROBLEM_CONFLICT), "title",
				cy_problem_title(CY_PROBLEM_CONFLICT), "status", 409, "detail",
				err.msg, "next_offset", (json_int_t)st.end_offset));
			resp->content_type = "application/problem+json";
			return;
		}
		cy_log_error("job_logs_failed", "job_id", c.job_id, "node", a->node_slug, "error",
		    err.msg, NULL);
		return cy_resp_problem(resp, CY_PROBLEM_INTERNAL, "cannot store the log chunk");
	}
	if (st.task_id[0])
		task_wait_logs(
		    st.task_id); /* this replica's followers; the others get the NOTIFY */
	cy_resp_json(resp, 200,
	    json_pack("{s:s, s:I, s:I, s:I, s:b, s:b}", "stream", stream, "next_offset",
		(json_int_t)st.end_offset, "stored_bytes", (json_int_t)st.stored_bytes,
		"limit_bytes", (json_int_t)st.limit_bytes, "full",
		st.stored_bytes >= st.limit_bytes, "ended", st.ended));
}
