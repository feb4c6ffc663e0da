/*
 * A RunJobRequest as the executor runs it (job-parse.c parses and checks
 * it; executor.c admits and runs it).
 */
#ifndef CY_NODE_JOB_H
#define CY_NODE_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "sandbox.h"
#include "states.h"

struct node;

struct job_req {
	const char *task_id, *job_id, *image, *network;
	const char *lease_id;  /* the attempt (dispatched jobs), or NULL */
	long long array_index; /* sandbox.array_index, or -1 */
	char **argv;
	char **env; /* "KEY=VALUE", owned: sandbox.env, then sandbox.secret_env */
	size_t nenv;
	const char **secrets; /* sandbox.secret_env's values, borrowed; NULL-terminated */
	char *rootfs;         /* owned; NULL = host */
	/* rootfs is a squashfs image's mount point, held (node_image_mount_acquire). */
	struct node_image_mount *image_mount;
	long long timeout_s;
	struct sb_limits limits;
	bool share_net;
	char **devices;     /* borrowed strings, NULL-terminated */
	bool use_inference; /* the job gets an inference socket */
	/* sandbox.attachments (checked), borrowed from the request; NULL: none. */
	const json_t *attachments;
	/* sandbox.artifacts: checked patterns, borrowed; NULL: the default ["out/"]. */
	const json_t *artifacts;
	bool sba;              /* an agent job (sandbox.sba): argv is the runner */
	const char *sba_field; /* the spec's member as the request named it: sba or job_spec_json */
	char *sba_runner;      /* owned: the host's cynode-sba */
	int64_t received_us;   /* wall clock when the Worker API took the request */
};

/*
 * job-files.c: places the job's attachments at <dir>/workspace/<name>,
 * each fetched from the server with the node JWT and checked (size and
 * SHA-256) while it is written.  0, or -1 with err set (the job's
 * attempt then fails as a node error and is retried by its policy).
 */
int job_attachments_fetch(struct node *n, const struct job_req *r, const char *dir,
    struct cy_error *err);

/*
 * sba-job.c: agent jobs.  sandbox.sba checked (spec, use_inference, the
 * bwrap runtime, the runner installed) and argv set to the runner: 0, or
 * -1 with the reason in d.
 */
int sba_job_parse(struct node *n, const json_t *sb, struct job_req *r, struct cy_buf *d);
/*
 * The reference's name for the spec: sandbox.job_spec_json (an object, or
 * its JSON text) becomes sandbox.sba in sb; both given is refused.
 */
int sba_job_alias(json_t *sb, struct job_req *r, struct cy_buf *d);
/* After an agent job: its sba_result and reply into the response out (see sba-job.c). */
void sba_job_result(const struct job_req *r, const char *dir, json_t *out);

/* Frees what the request owns (not the JSON it borrows from). */
void job_req_release(struct job_req *r);
/* A task or job id: a uuid or [A-Za-z0-9_-]{1,128}, safe as one path component. */
bool job_id_valid(const char *s);
/* The version and the ids of a RunJobRequest (sandbox or prompt). */
int job_parse_ids(const json_t *req, struct job_req *r, enum cy_problem *prob, struct cy_buf *d);
/*
 * A sandbox job's request, checked whole against the node's configuration
 * and the orchestrator's policy: 0, or -1 with *prob and the reason in d.
 */
int job_parse(struct node *n, const json_t *req, struct job_req *r, enum cy_problem *prob,
    struct cy_buf *d);
/*
 * The effective timeout of a job asking for t seconds (0: the node's
 * default), capped by sandbox.timeouts.max_seconds and the orchestrator's
 * constraints.max_job_timeout_seconds.
 */
long long job_timeout(struct node *n, long long t);

/*
 * job-artifacts.c: after the command, uploads the workspace files the
 * job's artifact patterns select, within the node's limits; returns the
 * result's "artifacts" summary {count, bytes, limit_bytes, limit_count,
 * dropped: [{name, size, reason}]}.
 */
json_t *job_artifacts_collect(struct node *n, const struct job_req *r, const char *dir);

#endif
