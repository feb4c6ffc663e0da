/*
 * mountinfo.c: this process's mounts, from /proc/self/mountinfo.
 *
 * A bind mount's line shows the path of its source relative to the root of
 * the file system holding it (the fourth field).  A sandbox sees its own
 * mountinfo, so whatever the node binds into a job shows that path: the
 * node uses this to tell whether a directory it binds would give away the
 * host's layout (sandbox.images_private), and to find the workspace tmpfs
 * mounts a stopped node left behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "node.h"
#include "banned.h"

/* Undoes the \ooo escapes of a mountinfo field in place. */
static void
mountinfo_unescape(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

int
node_mountinfo_each(node_mount_fn *fn, void *arg)
{
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int rc = 0;

	if (!f)
		return -1;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *save = NULL, *fld[5] = { 0 }, *sep = strstr(line, " - "), *fstype, *tok;
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		fstype = sep + 3;
		fstype[strcspn(fstype, " \n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok && i < 5;
		     tok = strtok_r(NULL, " ", &save))
			fld[i++] = tok;
		if (i < 5)
			continue;
		mountinfo_unescape(fld[3]);
		mountinfo_unescape(fld[4]);
		rc = fn(fld[3], fld[4], fstype, arg);
	}
	fclose(f);
	return rc < 0 ? rc : 0;
}

struct shown {
	const char *path; /* the real path asked about */
	size_t best;      /* length of the longest mount point holding it */
	char *shown;      /* its root field + the rest of the path */
};

static int
shown_fn(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct shown *s = arg;
	size_t ml = strlen(mp);
	const char *rest;

	(void)fstype;
	if (!strcmp(mp, "/"))
		ml = 0;
	else if (strncmp(s->path, mp, ml) || (s->path[ml] != '/' && s->path[ml] != '\0'))
		return 0;
	if (s->shown && ml < s->best)
		return 0;
	/* Later lines over the same mount point win: they are mounted on top. */
	rest = s->path + ml;
	free(s->shown);
	s->shown = xasprintf("%s%s", strcmp(root, "/") ? root : "", rest);
	if (!s->shown[0]) {
		free(s->shown);
		s->shown = xstrdup("/");
	}
	s->best = ml;
	return 0;
}

char *
node_mount_shown_path(const char *dir)
{
	char real[PATH_MAX];
	struct shown s = { .path = real };

	if (!realpath(dir, real))
		return NULL;
	if (node_mountinfo_each(shown_fn, &s) < 0) {
		free(s.shown);
		return NULL;
	}
	return s.shown;
}
