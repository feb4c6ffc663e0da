-- Generated task names ("task-N") come from a per-user counter instead of a
-- scan of the user's tasks under a per-user lock (issue 7: the scan grew
-- with every task and serialized one user's submissions).  The counter is
-- bumped by a short statement of its own before the insert, so its row lock
-- lasts that statement only; a number lost to a failed insert leaves a gap,
-- never a repeat (tasks (created_by, summary) is unique).
CREATE TABLE task_name_seq (
	user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	seq bigint NOT NULL CHECK (seq >= 0)
);
INSERT INTO task_name_seq (user_id, seq)
SELECT created_by, max(substr(summary, 6)::bigint)
FROM tasks WHERE summary ~ '^task-[0-9]{1,15}$' AND created_by IS NOT NULL
GROUP BY created_by;
