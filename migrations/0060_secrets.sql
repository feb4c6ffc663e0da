-- User secrets (cynork secret set|list|delete, task create --secret).  A
-- secret belongs to its owner, either for all of the owner's tasks
-- (project_id NULL) or only for the tasks of one project, where it wins
-- over the owner's secret of the same name.  The value is sealed by the
-- server (AES-256-GCM under the secrets key, bound to owner, project and
-- name: server/secrets.c): value_sealed is nonce || ciphertext || tag and
-- never the plaintext.  Names follow lib/jobenv.c (a variable name of at
-- most 128 bytes, not reserved for the node).  Never edit once landed.
CREATE TABLE secrets (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	project_id uuid REFERENCES projects (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'
		AND name NOT LIKE 'CYNODE\_%' AND name <> 'INFERENCE_PROXY_URL'),
	value_sealed bytea NOT NULL CHECK (octet_length(value_sealed) >= 28),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT secrets_scope_name_key UNIQUE NULLS NOT DISTINCT (owner_id, project_id, name)
);
CREATE INDEX secrets_owner_name_idx ON secrets (owner_id, name);

-- API tokens may hold the "secrets" scope (PUT/GET/DELETE /v1/secrets).
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
	CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['tasks:read', 'tasks:write',
		'nodes:read', 'nodes:write', 'inference', 'secrets', 'admin']::text[]);
