-- Skills (GET/PUT/DELETE /v1/skills{,/id}, POST /v1/skills/load,
-- server/route-skills.c): Markdown documents a user keeps for prompts.
-- Only scope 'user' exists for now (the owner's own; scope_id is the owner);
-- group, project and global scopes are later.  The name is unique per
-- owner.  The server takes at most limits.skill_max_bytes of content
-- (default 256 KiB); 16 MiB is the hard bound of the column.  Never edit
-- once landed.
CREATE TABLE skills (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	scope text NOT NULL DEFAULT 'user' CHECK (scope IN ('user')),
	name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 128
		AND name !~ '[[:cntrl:]]'),
	content_md text NOT NULL CHECK (octet_length(content_md) BETWEEN 1 AND 16777216),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT skills_owner_name_key UNIQUE (owner_id, name)
);
CREATE INDEX skills_owner_created_idx ON skills (owner_id, created_at DESC, id DESC);
