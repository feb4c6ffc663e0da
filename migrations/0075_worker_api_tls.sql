-- The pin of the public key a node's Worker API serves HTTPS with
-- (issue 15 item 8): "sha256//" and the base64 SHA-256 of its
-- SubjectPublicKeyInfo, as libcurl's CURLOPT_PINNEDPUBLICKEY takes it.  Set
-- only by a registration (which needs the node's credential, its PSK or an
-- enrollment token), never by a capability report; the server accepts no
-- other key when it calls the node.  NULL: the node registered no pin (a
-- plain-HTTP Worker API, or one verified with nodes.ca_file).
ALTER TABLE nodes ADD COLUMN worker_api_tls_pin text
	CHECK (worker_api_tls_pin ~ '^sha256//[A-Za-z0-9+/]{43}=$');
