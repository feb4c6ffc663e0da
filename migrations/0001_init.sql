-- cynode schema, Phase 1 (contract section 9, DESIGN.md section 4).
--
-- Applied once by cynode-server inside a transaction and recorded in
-- schema_migrations (created by the server itself, not here).  Every state
-- column has a CHECK constraint, every jsonb column holds a JSON object,
-- foreign keys are real, timestamps are timestamptz.  updated_at columns are
-- kept current by a trigger, so statements need not set them (setting them
-- explicitly is harmless).  Never edit this file once landed: add
-- NNNN_name.sql files instead.

CREATE FUNCTION cy_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

-- Users and local credentials (contract section 8).

CREATE TABLE users (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	handle text NOT NULL CHECK (handle <> '' AND length(handle) <= 127),
	email text CHECK (email IS NULL OR email <> ''),
	is_active boolean NOT NULL DEFAULT true,
	external_source text,
	external_id text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT users_handle_key UNIQUE (handle)
);
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;
CREATE INDEX users_is_active_idx ON users (is_active);

CREATE TABLE password_credentials (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	password_hash bytea NOT NULL CHECK (octet_length(password_hash) > 0),
	hash_alg text NOT NULL DEFAULT 'argon2id' CHECK (hash_alg IN ('argon2id')),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT password_credentials_user_id_key UNIQUE (user_id)
);

-- One row per refresh token issued; refresh_token_hash = SHA-256(token).
CREATE TABLE refresh_sessions (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	refresh_token_hash bytea NOT NULL CHECK (octet_length(refresh_token_hash) = 32),
	refresh_token_kid text,
	is_active boolean NOT NULL DEFAULT true,
	expires_at timestamptz NOT NULL,
	last_used_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX refresh_sessions_hash_key ON refresh_sessions (refresh_token_hash);
CREATE INDEX refresh_sessions_user_id_idx ON refresh_sessions (user_id);
CREATE INDEX refresh_sessions_active_idx ON refresh_sessions (is_active, expires_at);

-- ip_address is text, not inet: it may come from X-Forwarded-For, and a
-- malformed header must never make the audit insert fail.
CREATE TABLE auth_audit_log (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	event_type text NOT NULL CHECK (event_type IN (
		'login_success', 'login_failure', 'refresh_success', 'refresh_failure',
		'logout', 'session_revoked', 'user_created', 'user_disabled',
		'user_reenabled', 'password_changed', 'password_reset')),
	user_id uuid REFERENCES users (id) ON DELETE SET NULL,
	subject_handle text,
	success boolean NOT NULL,
	ip_address text,
	user_agent text,
	reason text,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_audit_log_created_at_idx ON auth_audit_log (created_at);
CREATE INDEX auth_audit_log_user_id_idx ON auth_audit_log (user_id);
CREATE INDEX auth_audit_log_event_type_idx ON auth_audit_log (event_type);

-- Projects (the default project owns tasks created without project_id).

CREATE TABLE projects (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	slug text NOT NULL CHECK (slug <> ''),
	display_name text NOT NULL,
	description text,
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
	CONSTRAINT projects_slug_key UNIQUE (slug)
);

-- Nodes (contract sections 3, 9).  The Worker API bearer token is stored
-- encrypted (the server holds the key); labels, GPUs, max_concurrency etc.
-- live in the capability snapshot.

CREATE TABLE nodes (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	node_slug text NOT NULL CHECK (node_slug <> '' AND length(node_slug) <= 127),
	status text NOT NULL DEFAULT 'registered'
		CHECK (status IN ('registered', 'active', 'inactive', 'drained')),
	config_version text,
	worker_api_target_url text,
	worker_api_bearer_token_enc bytea,
	config_ack_at timestamptz,
	config_ack_status text CHECK (config_ack_status IS NULL
		OR config_ack_status IN ('applied', 'failed')),
	config_ack_error text,
	last_seen_at timestamptz,
	last_capability_at timestamptz,
	capability_hash text,
	metadata jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT nodes_node_slug_key UNIQUE (node_slug)
);
CREATE INDEX nodes_status_idx ON nodes (status);
CREATE INDEX nodes_last_seen_at_idx ON nodes (last_seen_at);

-- Latest capability report per node (overwritten on each report).
CREATE TABLE node_capabilities (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	node_id uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	reported_at timestamptz NOT NULL DEFAULT now(),
	capability_snapshot jsonb NOT NULL
		CHECK (jsonb_typeof(capability_snapshot) = 'object'),
	CONSTRAINT node_capabilities_node_id_key UNIQUE (node_id)
);

-- Tasks and jobs (contract section 4).  DB task state 'pending' is shown as
-- 'queued' by the API.  tasks.summary holds the task name, unique per user.

CREATE TABLE tasks (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	created_by uuid NOT NULL REFERENCES users (id),
	project_id uuid REFERENCES projects (id) ON DELETE SET NULL,
	plan_id uuid,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN (
		'pending', 'running', 'completed', 'failed', 'canceled', 'superseded')),
	closed boolean NOT NULL DEFAULT false,
	prompt text,
	description text,
	acceptance_criteria jsonb CHECK (acceptance_criteria IS NULL
		OR jsonb_typeof(acceptance_criteria) = 'object'),
	summary text CHECK (summary IS NULL OR summary <> ''),
	input_mode text NOT NULL DEFAULT 'prompt'
		CHECK (input_mode IN ('prompt', 'script', 'commands')),
	metadata jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT tasks_created_by_summary_key UNIQUE (created_by, summary)
);
CREATE INDEX tasks_created_by_created_at_idx ON tasks (created_by, created_at DESC);
CREATE INDEX tasks_project_id_idx ON tasks (project_id);
CREATE INDEX tasks_plan_id_idx ON tasks (plan_id) WHERE plan_id IS NOT NULL;
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX tasks_open_idx ON tasks (created_at) WHERE NOT closed;
CREATE INDEX tasks_created_at_idx ON tasks (created_at);

CREATE TABLE jobs (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	persona_id uuid,
	node_id uuid REFERENCES nodes (id) ON DELETE SET NULL,
	status text NOT NULL DEFAULT 'queued' CHECK (status IN (
		'queued', 'running', 'completed', 'failed', 'canceled', 'lease_expired')),
	payload jsonb CHECK (payload IS NULL OR jsonb_typeof(payload) = 'object'),
	result jsonb CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
	exit_code integer,
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	lease_id uuid,
	lease_expires_at timestamptz,
	started_at timestamptz,
	ended_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX jobs_task_id_idx ON jobs (task_id);
CREATE INDEX jobs_node_id_idx ON jobs (node_id);
CREATE INDEX jobs_status_idx ON jobs (status);
CREATE INDEX jobs_created_at_idx ON jobs (created_at);
CREATE INDEX jobs_queued_idx ON jobs (created_at) WHERE status = 'queued';
CREATE INDEX jobs_running_node_idx ON jobs (node_id) WHERE status = 'running';
CREATE INDEX jobs_lease_id_idx ON jobs (lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX jobs_lease_expires_at_idx ON jobs (lease_expires_at)
	WHERE lease_expires_at IS NOT NULL;

-- Task attachments.
CREATE TABLE task_artifacts (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	run_id uuid,
	path text NOT NULL CHECK (path <> ''),
	storage_ref text NOT NULL DEFAULT '',
	size_bytes bigint CHECK (size_bytes IS NULL OR size_bytes >= 0),
	content_type text,
	checksum_sha256 text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT task_artifacts_task_id_path_key UNIQUE (task_id, path)
);

-- External provider credentials (read by readiness: an active inference
-- provider key counts as an inference path).
CREATE TABLE api_credentials (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner_type text NOT NULL CHECK (owner_type IN ('user', 'group', 'system')),
	owner_id uuid NOT NULL,
	provider text NOT NULL CHECK (provider <> ''),
	credential_type text NOT NULL CHECK (credential_type <> ''),
	credential_name text NOT NULL CHECK (credential_name <> ''),
	credential_ciphertext bytea NOT NULL,
	credential_kid text,
	is_active boolean NOT NULL DEFAULT true,
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT api_credentials_owner_provider_name_key
		UNIQUE (owner_type, owner_id, provider, credential_name)
);

CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER password_credentials_updated_at BEFORE UPDATE ON password_credentials
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER refresh_sessions_updated_at BEFORE UPDATE ON refresh_sessions
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER projects_updated_at BEFORE UPDATE ON projects
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER nodes_updated_at BEFORE UPDATE ON nodes
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER tasks_updated_at BEFORE UPDATE ON tasks
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER jobs_updated_at BEFORE UPDATE ON jobs
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER task_artifacts_updated_at BEFORE UPDATE ON task_artifacts
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();
CREATE TRIGGER api_credentials_updated_at BEFORE UPDATE ON api_credentials
	FOR EACH ROW EXECUTE FUNCTION cy_set_updated_at();

-- The reserved system user owns system-created records; it has no password
-- and is inactive, so it can never log in.  The default project holds tasks
-- created without a project_id.
INSERT INTO users (handle, is_active) VALUES ('system', false);
INSERT INTO projects (slug, display_name, description)
	VALUES ('default', 'Default', 'Tasks created without a project');
