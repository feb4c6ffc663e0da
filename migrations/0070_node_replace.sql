-- A registration with the fleet-wide secret (the PSK, or an enrollment
-- token that names no node) may not take the slug of a node that holds a
-- node credential: that node proves itself with its credential.  An
-- operator who puts a new machine in a node's place opens a window
-- (cynork nodes replace SLUG) in which one such registration may take it.
ALTER TABLE nodes ADD COLUMN replace_until timestamptz;

-- A registration refused because it tried to take a registered node's name.
ALTER TABLE auth_audit_log DROP CONSTRAINT auth_audit_log_event_type_check;
ALTER TABLE auth_audit_log ADD CONSTRAINT auth_audit_log_event_type_check CHECK (event_type IN (
	'login_success', 'login_failure', 'refresh_success', 'refresh_failure',
	'logout', 'session_revoked', 'user_created', 'user_disabled',
	'user_reenabled', 'password_changed', 'password_reset', 'node_register_refused'));
