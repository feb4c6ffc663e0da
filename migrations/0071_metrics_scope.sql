-- API tokens may hold the "metrics" scope: GET /metrics only, for a
-- Prometheus scrape job that should be able to do nothing else.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
	CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['tasks:read', 'tasks:write',
		'nodes:read', 'nodes:write', 'inference', 'secrets', 'metrics', 'admin']::text[]);
