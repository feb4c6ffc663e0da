/*
 * Schema migrations: plain SQL files named NNNN_name.sql, applied in name
 * order, each once and inside its own transaction, recorded in
 * schema_migrations.  A session-level advisory lock serialises replicas that
 * start at the same time against one database.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "core.h"
#include "db.h"
#include "log.h"
#include "banned.h"

/* Arbitrary constant naming cynode's migration lock. */
#define MIGRATE_LOCK_KEY "7305146211202611"
#define MIGRATION_MAX (8 * 1024 * 1024)

static bool
is_dir(const char *p)
{
	struct stat st;

	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *
migrate_find_dir(const char *configured)
{
	char exe[PATH_MAX], *slash, *cand;
	ssize_t n;

	if (configured && *configured)
		return xstrdup(configured);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			cand = xasprintf("%s/../migrations", exe);
			if (is_dir(cand))
				return cand;
			free(cand);
			cand = xasprintf("%s/../share/cynode/migrations", exe);
			if (is_dir(cand))
				return cand;
			free(cand);
		}
	}
	return xstrdup("/usr/local/share/cynode/migrations");
}

/* A migration file name: digits, '_', a name, ".sql". */
static bool
migration_name_ok(const char *n)
{
	size_t len = strlen(n), i = 0;

	while (n[i] >= '0' && n[i] <= '9')
		i++;
	return i > 0 && n[i] == '_' && len > 4 && !strcmp(n + len - 4, ".sql");
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs sql (many statements) with PQexec; -1 with err set on failure. */
static int
exec_script(PGconn *c, const char *sql, const char *what, struct cy_error *err)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char *m = xstrdup(PQresultErrorMessage(res)), *nl;

		while ((nl = strchr(m, '\n')))
			*nl = ' ';
		rc = cy_error_set(err, EIO, "%s: %s", what, m);
		free(m);
	}
	PQclear(res);
	return rc;
}

/* Applies one file unless recorded already; *applied set when it ran. */
static int
migrate_one(PGconn *c, const char *dir, const char *name, bool *applied, struct cy_error *err)
{
	const char *p[1] = { name };
	struct cy_buf sql = CY_BUF_INIT;
	char *path;
	PGresult *res;
	bool done;

	*applied = false;
	res = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, p,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		cy_error_set(err, EIO, "schema_migrations: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	done = PQntuples(res) > 0;
	PQclear(res);
	if (done)
		return 0;
	path = xasprintf("%s/%s", dir, name);
	if (cy_buf_read_file(&sql, path, MIGRATION_MAX) < 0) {
		cy_error_errno(err, "migration '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	if (exec_script(c, "BEGIN", "begin", err) < 0)
		goto fail;
	if (exec_script(c, sql.buf, name, err) < 0)
		goto rollback;
	res = PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL, p,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cy_error_set(err, EIO, "recording %s: %s", name, PQresultErrorMessage(res));
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (exec_script(c, "COMMIT", "commit", err) < 0)
		goto fail;
	cy_buf_release(&sql);
	*applied = true;
	return 0;
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
fail:
	cy_buf_release(&sql);
	return cy_error_wrap(err, "migration %s", name);
}

int
migrate_run(const char *dir, struct cy_error *err)
{
	PGconn *c;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i, napplied = 0;
	int rc = -1;
	bool applied;
	char count[32];

	d = opendir(dir);
	if (!d)
		return cy_error_errno(err, "migrations directory '%s'", dir);
	while ((de = readdir(d))) {
		if (!migration_name_ok(de->d_name))
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (!n) {
		cy_error_set(err, ENOENT, "no NNNN_name.sql migrations in '%s'", dir);
		goto out;
	}
	qsort(names, n, sizeof(*names), name_cmp);

	c = db_conn(err);
	if (!c)
		goto out;
	/* clang-format off */
	if (exec_script(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "advisory lock",
		err) < 0)
		goto out;
	/* clang-format on */
	if (exec_script(c,
		"SET client_min_messages = warning;"
		"CREATE TABLE IF NOT EXISTS schema_migrations ("
		" version text PRIMARY KEY,"
		" applied_at timestamptz NOT NULL DEFAULT now())",
		"schema_migrations", err) < 0)
		goto unlock;
	for (i = 0; i < n; i++) {
		if (migrate_one(c, dir, names[i], &applied, err) < 0)
			goto unlock;
		if (applied) {
			napplied++;
			cy_log_info("migration_applied", "version", names[i], NULL);
		}
	}
	xsnprintf(count, sizeof(count), "%zu", napplied);
	cy_log_info("migrations_done", "applied", count, "dir", dir, NULL);
	rc = 0;
unlock:
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
