-- Node fleet operations (issue 4): operator eligibility (enabled) and drain
-- with a reason, per-node credentials for re-registration (stored as
-- SHA-256 only), single-use enrollment tokens (hashed), tombstones of
-- removed nodes, and pushed configuration documents with the version each
-- node must apply.

ALTER TABLE nodes ADD COLUMN enabled boolean NOT NULL DEFAULT true;
ALTER TABLE nodes ADD COLUMN drain_reason text;
ALTER TABLE nodes ADD COLUMN drained_at timestamptz;
ALTER TABLE nodes ADD COLUMN credential_hash bytea
	CHECK (credential_hash IS NULL OR octet_length(credential_hash) = 32);
ALTER TABLE nodes ADD COLUMN labels jsonb
	CHECK (labels IS NULL OR jsonb_typeof(labels) = 'array');

-- A configuration document pushed by an operator (the policy, constraints
-- and inference_backend parts of node_configuration_payload_v1).
-- config_version is a ULID; all_nodes marks the fleet default that newly
-- registered nodes receive.
CREATE TABLE node_config_documents (
	config_version text PRIMARY KEY CHECK (length(config_version) = 26),
	document jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
	all_nodes boolean NOT NULL DEFAULT false,
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX node_config_documents_all_idx ON node_config_documents (config_version)
	WHERE all_nodes;

-- The config_version the node last acknowledged as applied (reset at
-- registration).  A later failed ack (a refused push) leaves it set: the
-- node keeps running its previous configuration and stays dispatchable.
ALTER TABLE nodes ADD COLUMN config_applied_version text;
UPDATE nodes SET config_applied_version = config_ack_version
	WHERE config_ack_status = 'applied';

-- The document a node must apply (NULL: built-in defaults).
ALTER TABLE nodes ADD COLUMN config_document text
	REFERENCES node_config_documents (config_version) ON DELETE SET NULL;

-- Single-use enrollment tokens: token_hash = SHA-256(token).
CREATE TABLE node_enrollment_tokens (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	node_slug text CHECK (node_slug IS NULL OR node_slug <> ''),
	labels jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(labels) = 'array'),
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	used_by_node uuid REFERENCES nodes (id) ON DELETE SET NULL,
	CONSTRAINT node_enrollment_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX node_enrollment_tokens_expires_idx ON node_enrollment_tokens (expires_at)
	WHERE used_at IS NULL;

-- Removed nodes: registration with the PSK is refused for these slugs until
-- an operator enrolls the slug again with an enrollment token.
CREATE TABLE node_removals (
	node_slug text PRIMARY KEY CHECK (node_slug <> ''),
	removed_at timestamptz NOT NULL DEFAULT now(),
	removed_by uuid REFERENCES users (id) ON DELETE SET NULL
);
