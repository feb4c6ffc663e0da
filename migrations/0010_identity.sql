-- Identity and access (issue 3, contract section 8): roles, login sessions
-- whose revocation kills their access tokens at once, API tokens for CI,
-- and the admin audit table.  Never edit once landed.

-- Roles: admin does everything, operator sees all tasks and manages nodes,
-- user sees and acts on its own tasks.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user'
	CHECK (role IN ('admin', 'operator', 'user'));
UPDATE users SET role = 'admin' WHERE handle = 'admin';
-- The reserved handle can never be taken by another row (it exists already,
-- but a case variant must not either).
CREATE UNIQUE INDEX users_handle_lower_key ON users (lower(handle));

-- One row per login.  Access and refresh tokens carry its id (claim "sid");
-- revoking the row makes both fail on their next use.
CREATE TABLE auth_sessions (
	id uuid PRIMARY KEY,
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz,
	revoke_reason text CHECK (revoke_reason IS NULL OR revoke_reason IN (
		'logout', 'admin', 'refresh_reuse', 'user_disabled', 'password_reset')),
	ip_address text,
	user_agent text,
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX auth_sessions_user_id_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens belong to a session; rotated_at marks a token that was
-- exchanged (presenting it again revokes the whole session).
ALTER TABLE refresh_sessions ADD COLUMN session_id uuid
	REFERENCES auth_sessions (id) ON DELETE CASCADE;
ALTER TABLE refresh_sessions ADD COLUMN rotated_at timestamptz;
CREATE INDEX refresh_sessions_session_id_idx ON refresh_sessions (session_id);
-- Tokens issued before sessions existed cannot be tied to one: end them.
UPDATE refresh_sessions SET is_active = false WHERE is_active;

-- API tokens for CI: "cyn_" + 48 hex digits, shown once; only SHA-256 of the
-- whole token is kept, plus its first 12 characters to recognise it.
CREATE TABLE api_tokens (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	token_prefix text NOT NULL CHECK (token_prefix ~ '^cyn_[0-9a-f]{8}$'),
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	scopes text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY[
		'tasks:read', 'tasks:write', 'nodes:read', 'nodes:write', 'admin']::text[]),
	expires_at timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, created_at);
CREATE UNIQUE INDEX api_tokens_user_name_key ON api_tokens (user_id, name)
	WHERE revoked_at IS NULL;

-- Admin actions (users, tokens, roles, nodes, config), written in the same
-- transaction as the action (server/audit.c).  actor_handle is copied so
-- the row stays readable after the actor is gone.
CREATE TABLE admin_audit_log (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
	actor_handle text NOT NULL,
	actor_token_id uuid REFERENCES api_tokens (id) ON DELETE SET NULL,
	action text NOT NULL CHECK (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
	target text,
	details jsonb CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
	ip_address text,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_log_created_at_idx ON admin_audit_log (created_at);
CREATE INDEX admin_audit_log_actor_idx ON admin_audit_log (actor_handle, created_at);
CREATE INDEX admin_audit_log_action_idx ON admin_audit_log (action, created_at);
