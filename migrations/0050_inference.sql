-- The inference path (issue 12): placement of jobs that need a model or
-- the per-job inference proxy, token usage per user and model, and the API
-- token scope that allows the OpenAI-compatible endpoints.

-- A job that needs inference runs only on a node whose backend is running;
-- req_model names the model it needs (prompt tasks), NULL for any.
ALTER TABLE jobs
	ADD COLUMN req_inference boolean NOT NULL DEFAULT false,
	ADD COLUMN req_model text CHECK (req_model IS NULL OR (req_model <> ''
		AND length(req_model) <= 256)),
	ADD CONSTRAINT jobs_req_model_needs_inference
		CHECK (req_model IS NULL OR req_inference);

-- Tokens used, one row per chat completion, prompt job or model served to
-- a sandboxed job through its proxy.  Kept when the task is pruned.
CREATE TABLE inference_usage (
	id bigserial PRIMARY KEY,
	user_id uuid REFERENCES users (id) ON DELETE SET NULL,
	model text NOT NULL CHECK (model <> '' AND length(model) <= 256),
	node_id uuid REFERENCES nodes (id) ON DELETE SET NULL,
	task_id uuid,
	kind text NOT NULL CHECK (kind IN ('chat', 'prompt', 'proxy')),
	requests integer NOT NULL DEFAULT 1 CHECK (requests >= 0),
	prompt_tokens bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
	completion_tokens bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inference_usage_user_idx ON inference_usage (user_id, created_at);
CREATE INDEX inference_usage_model_idx ON inference_usage (model, created_at);

-- API tokens may hold the "inference" scope (GET /v1/models, POST
-- /v1/chat/completions).
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
	CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['tasks:read', 'tasks:write',
		'nodes:read', 'nodes:write', 'inference', 'admin']::text[]);
