/*
 * cynode-server: process-wide state shared by its modules.  The config
 * struct is filled from server.yaml and the environment by config.c; the
 * other modules read it through `srv`.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct server_config {
	long long version;
	char *database_url;   /* DATABASE_URL */
	char *gateway_listen; /* USER_GATEWAY_LISTEN_ADDR, "host:port" */
	char *control_listen; /* CONTROL_PLANE_LISTEN_ADDR, "host:port" */
	char *public_url;     /* ORCHESTRATOR_PUBLIC_URL: base of the bootstrap URLs */
	char *jwt_secret;     /* JWT_SECRET (or jwt_secret_file) */
	char *jwt_secret_file;
	long long jwt_access_s;  /* JWT_ACCESS_DURATION */
	long long jwt_refresh_s; /* JWT_REFRESH_DURATION */
	long long jwt_node_s;    /* JWT_NODE_DURATION */
	char *node_psk;          /* NODE_REGISTRATION_PSK (or node_psk_file) */
	char *node_psk_file;
	char *bootstrap_admin_password; /* BOOTSTRAP_ADMIN_PASSWORD */
	char *secrets_key;              /* SECRETS_KEY (or secrets_key_file): 64 hex digits */
	char *secrets_key_file;
	char *workflow_token; /* WORKFLOW_RUNNER_BEARER_TOKEN (or workflow_token_file); wiped at
				 load */
	char *workflow_token_file;
	char *workflow_token_sha256;  /* workflow.runner_token_sha256: the token's digest instead */
	char workflow_token_hash[65]; /* what the workflow routes compare: sha256 hex, "" unset */
	long long workflow_lease_s;   /* WORKFLOW_LEASE_DURATION: default lease */
	char *worker_api_target_url;  /* WORKER_API_TARGET_URL override */
	long long max_body_bytes;     /* MAX_REQUEST_BODY_MB * MiB */
	long long http_threads;
	long long dispatch_workers; /* jobs in flight at once */
	long long dispatch_poll_ms;
	long long dispatch_http_timeout_s;
	long long rate_limit_per_minute;
	long long lockout_threshold;    /* failures per handle before a lockout */
	long long lockout_ip_threshold; /* failures per client address before a lockout */
	long long lockout_base_s;       /* first lockout; doubles per further failure */
	long long lockout_max_s;        /* longest lockout; failures older are forgotten */
	long long auth_cache_ttl_s;     /* auth decision cache lifetime; 0 = no cache */
	/* Dispatch leases and retention. */
	long long dispatch_lease_s;     /* DISPATCH_LEASE */
	long long retention_s;          /* RETENTION_FINISHED_TASKS, 0 = keep */
	long long retention_interval_s; /* RETENTION_INTERVAL: prune period */
	long long events_retention_s;   /* events.retention: event log kept */
	bool webhooks_allow_private;    /* webhooks.allow_private_destinations */
	/* Attachments and blobs. */
	long long attach_max_bytes;      /* limits.attachment_max_bytes: one upload */
	long long attach_max_count;      /* limits.attachments_max_count: per task */
	long long attach_max_total;      /* limits.attachments_max_total_bytes: per task */
	long long uploads_ttl_s;         /* uploads.retention: unattached uploads kept */
	long long artifact_max_bytes;    /* limits.artifact_max_bytes: one artifact */
	long long artifacts_retention_s; /* artifacts.retention */
	long long logs_max_bytes;        /* LOGS_MAX_BYTES_PER_STREAM: kept per job stream */
	long long skill_max_bytes;       /* limits.skill_max_bytes: one skill's content_md */
	char *migrations_dir;
	char *log_level;
	char *log_format;
	/* Node fleet. */
	long long node_liveness_ttl_s; /* NODE_LIVENESS_TTL */
	long long enroll_max_ttl_s;    /* NODE_ENROLLMENT_TOKEN_MAX_TTL */
	/* Inference. */
	char *inference_model;            /* INFERENCE_MODEL: pins the default model */
	bool ready_needs_inference;       /* READINESS_REQUIRE_INFERENCE */
	long long inference_timeout_s;    /* INFERENCE_REQUEST_TIMEOUT: one chat completion */
	long long inference_max_requests; /* INFERENCE_MAX_REQUESTS: relayed at once */
	bool dev_mode;                    /* --dev: allows the known-default secrets */
	/* TLS (lib/tls.h): the listeners' certificate and key, the nodes' CA. */
	char *tls_cert_file; /* TLS_CERT_FILE */
	char *tls_key_file;  /* TLS_KEY_FILE */
	char *nodes_ca_file; /* NODES_CA_FILE: CA of the nodes' Worker API certificates */
	char *tls_cert_pem;  /* loaded from tls_cert_file; NULL = plain HTTP */
	char *tls_key_pem;   /* secret */
};

struct server {
	struct server_config cfg;
	volatile int stopping;
};

extern struct server srv;

#endif
