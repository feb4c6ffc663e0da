-- Every change that can end or narrow a credential notifies channel
-- cynode_auth, so each server replica drops its cached auth decisions at
-- once (server/auth-cache.c), whether the change came from a server or from
-- SQL.  api_tokens.last_used_at updates do not notify.  Never edit once
-- landed.

CREATE FUNCTION cy_auth_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cynode_auth', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER users_auth_notify
	AFTER UPDATE OF is_active, role, handle OR DELETE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION cy_auth_notify();
CREATE TRIGGER auth_sessions_auth_notify
	AFTER UPDATE OF revoked_at, user_id OR DELETE ON auth_sessions
	FOR EACH STATEMENT EXECUTE FUNCTION cy_auth_notify();
CREATE TRIGGER api_tokens_auth_notify
	AFTER UPDATE OF revoked_at, expires_at, scopes, user_id, token_hash OR DELETE ON api_tokens
	FOR EACH STATEMENT EXECUTE FUNCTION cy_auth_notify();
