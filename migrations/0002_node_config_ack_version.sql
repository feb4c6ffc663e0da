-- The config_version a node last acknowledged (contract 3.5: the C port
-- persists it, unlike the reference), next to the version it was issued.
ALTER TABLE nodes ADD COLUMN config_ack_version text;
