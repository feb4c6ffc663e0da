/*
 * Sandbox images: root filesystem directories a job's read-only root is
 * made from.  An image is either a sandbox.images entry of node.yaml
 * (name -> directory) or a directory under sandbox.images_dir (default
 * <state_dir>/images) put there by
 *
 *	cynode-node image import NAME DIR|TARBALL
 *	cynode-node image list
 *	cynode-node image rm NAME
 *
 * An import copies the tree (cp -a) or unpacks the tarball (tar, without
 * owners) into a temporary directory next to the images, checks that it is
 * a root filesystem (it has /bin/sh), clears setuid/setgid bits and renames
 * it into place, so a job never sees a half-imported image.  As root with
 * mksquashfs, the tree becomes <name>.sqfs instead (image-mount.c: a file
 * system of its own, so a job sees no host path), built next to the images
 * and renamed into place the same way; when that cannot be done the import
 * says why and keeps the directory.  "host" is built in and names the
 * host's own system directories.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "children.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "banned.h"

extern char **environ;

/* Image references: docker-like, [A-Za-z0-9._:@/-], 1-200, no "..". */
bool
node_image_ref_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 200 || strstr(s, "..") || s[0] == '/' || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			strchr("._:@/-", c)))
			return false;
	}
	return true;
}

/*
 * The suffixes the images directory uses itself: an image's squashfs file
 * (<name>.sqfs), and what an import leaves next to it for a moment (the
 * previous image renamed to *.old, the test mount of a new squashfs file on
 * *.mnt).  An image named like one would share its path with another image.
 */
static const char *const image_suffixes[] = { NODE_IMAGE_SQFS_EXT, ".old", ".mnt" };

const char *
node_image_name_reserved(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < sizeof(image_suffixes) / sizeof(image_suffixes[0]); i++) {
		size_t k = strlen(image_suffixes[i]);

		if (n >= k && !strcmp(s + n - k, image_suffixes[i]))
			return image_suffixes[i];
	}
	return NULL;
}

bool
node_image_name_valid(const char *s)
{
	return node_image_ref_valid(s) && !node_image_name_reserved(s);
}

/* Says why name is not an image name this node can hold; 2 (the exit code). */
static int
image_name_refuse(const char *name)
{
	const char *sfx = node_image_name_reserved(name);

	if (sfx && node_image_ref_valid(name))
		fprintf(stderr,
		    "cynode-node: image name '%s' is not valid: a name may not end in '%s' "
		    "(nor in .sqfs, .old or .mnt: the images directory uses those itself)\n",
		    name, sfx);
	else
		fprintf(stderr,
		    "cynode-node: image name '%s' is not valid: use letters, digits "
		    "and ._:@/- (\"host\" is built in)\n",
		    name);
	return 2;
}

char *
node_images_dir(const struct node_config *c)
{
	if (c->images_dir && *c->images_dir)
		return xstrdup(c->images_dir);
	return xasprintf("%s/images", c->state_dir);
}

/* The directory name of an image: '/' becomes "%2F". */
static char *
image_dirname(const char *name)
{
	struct cy_buf b = CY_BUF_INIT;

	for (; *name; name++) {
		if (*name == '/')
			cy_buf_addstr(&b, "%2F");
		else
			cy_buf_addch(&b, *name);
	}
	return cy_buf_detach(&b, NULL);
}

char *
node_image_rootfs(const struct node_config *c, const char *name)
{
	const char *dir;
	char *base, *enc, *p;
	struct stat st;

	if (c->images && (dir = json_string_value(json_object_get(c->images, name))))
		return xstrdup(dir);
	if (!node_image_name_valid(name))
		return NULL;
	enc = image_dirname(name);
	base = node_images_dir(c);
	p = xasprintf("%s/%s" NODE_IMAGE_SQFS_EXT, base, enc);
	if (!node_image_is_sqfs(p)) {
		free(p);
		p = xasprintf("%s/%s", base, enc);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(p);
			p = NULL;
		}
	}
	free(base);
	free(enc);
	return p;
}

bool
node_image_rootfs_exists(const struct node_config *c, const char *name)
{
	char *p = node_image_rootfs(c, name);

	free(p);
	return p != NULL;
}

/* Setuid and setgid bits gain nothing in a sandbox (nosuid); drop them anyway. */
static int
strip_suid(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F && (st->st_mode & (S_ISUID | S_ISGID)))
		chmod(path, st->st_mode & 0777);
	return 0;
}

/* Runs argv to the end; 0 when it exited 0. */
static int
image_spawn(char *const argv[])
{
	pid_t pid, w;
	int ws;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	node_child_own(pid);
	while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	node_child_done(pid);
	if (w < 0)
		return -1;
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
}

/*
 * Removes one form of the image at dst: its squashfs file dst.sqfs (sqfs),
 * or its directory dst; only what is that form (a regular file, a
 * directory, or a symbolic link put there by hand: the link alone), never
 * anything else.  True when there was one.
 */
static bool
image_rm_form(const char *dst, bool sqfs)
{
	char *p = sqfs ? xasprintf("%s" NODE_IMAGE_SQFS_EXT, dst) : xstrdup(dst);
	struct stat st;
	bool found = false;

	if (lstat(p, &st) == 0 && (S_ISLNK(st.st_mode) || (sqfs && S_ISREG(st.st_mode)))) {
		found = unlink(p) == 0;
	} else if (lstat(p, &st) == 0 && !sqfs && S_ISDIR(st.st_mode)) {
		cy_rm_rf(p);
		found = true;
	}
	free(p);
	return found;
}

/*
 * The imported tree as dst.sqfs: 0 when done; -1 (said why) when the
 * caller keeps the tree as a directory instead.
 */
static int
image_import_sqfs(const struct node_config *c, const char *name, const char *tree, const char *dst)
{
	struct cy_error err = CY_ERROR_INIT;
	char *tmp = xasprintf("%s" NODE_IMAGE_SQFS_EXT, tree);
	char *out = xasprintf("%s" NODE_IMAGE_SQFS_EXT, dst);
	int rc = -1;

	if (node_image_sqfs_make(c, tree, tmp, &err) < 0) {
		fprintf(stderr,
		    "cynode-node: note: image '%s' stays a directory, whose host path jobs see in "
		    "/proc/self/mountinfo: no squashfs image: %s\n",
		    name, err.msg);
	} else if (rename(tmp, out) < 0) {
		fprintf(stderr, "cynode-node: cannot rename into '%s': %s\n", out, strerror(errno));
		(void)unlink(tmp);
	} else {
		image_rm_form(dst, false);
		printf("image '%s' imported into %s (squashfs: jobs see no host path)\n", name,
		    out);
		rc = 0;
	}
	free(out);
	free(tmp);
	return rc;
}

static int
image_import(const struct node_config *c, const char *name, const char *src)
{
	char *base = NULL, *tmp = NULL, *dst = NULL, *old = NULL, *enc = NULL, *sh = NULL;
	struct stat st, sst;
	int rc = 1;

	if (!node_image_name_valid(name) || !strcmp(name, "host"))
		return image_name_refuse(name);
	if (stat(src, &sst) < 0) {
		fprintf(stderr, "cynode-node: '%s': %s\n", src, strerror(errno));
		return 2;
	}
	if (!S_ISDIR(sst.st_mode) && !S_ISREG(sst.st_mode)) {
		fprintf(stderr, "cynode-node: '%s' is neither a directory nor a tarball\n", src);
		return 2;
	}
	base = node_images_dir(c);
	if (cy_mkdir_p(base, 0755, 0755) < 0) {
		fprintf(stderr, "cynode-node: cannot create '%s': %s\n", base, strerror(errno));
		free(base);
		return 1;
	}
	chmod(base, 0755);
	enc = image_dirname(name);
	dst = xasprintf("%s/%s", base, enc);
	tmp = xasprintf("%s/.import-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "cynode-node: cannot create a directory in '%s': %s\n", base,
		    strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	chmod(tmp, 0755);
	if (S_ISDIR(sst.st_mode)) {
		char *from = xasprintf("%s/.", src);
		char *argv[] = { "/bin/cp", "-a", "--no-preserve=ownership", from, tmp, NULL };

		rc = image_spawn(argv);
		free(from);
	} else {
		char *argv[] = { "/bin/tar", "-x", "--no-same-owner", "-f", (char *)src, "-C", tmp,
			NULL };

		rc = image_spawn(argv);
	}
	if (rc != 0) {
		fprintf(stderr, "cynode-node: copying '%s' failed\n", src);
		rc = 1;
		goto out;
	}
	sh = xasprintf("%s/bin/sh", tmp);
	if (lstat(sh, &st) < 0) {
		fprintf(stderr, "cynode-node: '%s' is not a root filesystem: it has no /bin/sh\n",
		    src);
		rc = 1;
		goto out;
	}
	nftw(tmp, strip_suid, 16, FTW_PHYS | FTW_MOUNT);
	if (image_import_sqfs(c, name, tmp, dst) == 0) {
		rc = 0;
		goto out;
	}
	if (lstat(dst, &st) == 0) {
		old = xasprintf("%s.old", tmp);
		if (rename(dst, old) < 0) {
			fprintf(stderr, "cynode-node: cannot replace '%s': %s\n", dst,
			    strerror(errno));
			rc = 1;
			goto out;
		}
	}
	if (rename(tmp, dst) < 0) {
		fprintf(stderr, "cynode-node: cannot rename into '%s': %s\n", dst, strerror(errno));
		rc = 1;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	image_rm_form(dst, true);
	printf("image '%s' imported into %s\n", name, dst);
	rc = 0;
out:
	if (tmp)
		cy_rm_rf(tmp);
	if (old)
		cy_rm_rf(old);
	free(old);
	free(sh);
	free(tmp);
	free(dst);
	free(enc);
	free(base);
	return rc;
}

/*
 * Every image a job may name on this node: "host", the sandbox.images of
 * node.yaml and the imported ones, as {name: where} (a new object).
 */
json_t *
node_image_table(const struct node_config *c)
{
	char *base = node_images_dir(c);
	json_t *t = json_object(), *v;
	struct dirent *de;
	const char *k;
	DIR *d;

	json_object_set_new(t, "host", json_string("(host system directories)"));
	json_object_foreach(c->images, k, v)
		json_object_set(t, k, v);
	d = opendir(base);
	while (d && (de = readdir(d))) {
		struct cy_buf name = CY_BUF_INIT;
		const char *p;

		size_t len = strlen(de->d_name), ext = strlen(NODE_IMAGE_SQFS_EXT);
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", base, de->d_name);
		if (len > ext && !strcmp(de->d_name + len - ext, NODE_IMAGE_SQFS_EXT) &&
		    node_image_is_sqfs(path))
			len -= ext;
		for (p = de->d_name; p < de->d_name + len; p++) {
			if (!strncmp(p, "%2F", 3)) {
				cy_buf_addch(&name, '/');
				p += 2;
			} else {
				cy_buf_addch(&name, *p);
			}
		}
		json_object_set_new(t, name.buf, json_string(path));
		cy_buf_release(&name);
		free(path);
	}
	if (d)
		closedir(d);
	free(base);
	return t;
}

static int
image_list(const struct node_config *c)
{
	json_t *t = node_image_table(c), *v;
	const char *k;

	json_object_foreach(t, k, v)
		printf("%s\t%s\n", k, json_string_value(v));
	json_decref(t);
	return 0;
}

int
node_image_path_check(const char *name, const char *rootfs, struct cy_error *err)
{
	char *shown = node_mount_shown_path(rootfs);
	const char *slash;
	int rc = 0;

	if (!shown)
		return cy_error_set(err, ENOENT,
		    "image '%.200s': cannot tell how '%s' shows in a "
		    "job's mountinfo",
		    name, rootfs);
	slash = strchr(shown + 1, '/');
	if (shown[0] != '/' || slash)
		rc = cy_error_set(err, EPERM,
		    "image '%.200s': a job would see its directory as '%s' in /proc/self/mountinfo; "
		    "give sandbox.images_dir (or the image) a file system of its own",
		    name, shown);
	free(shown);
	return rc;
}

void
node_image_warn_shown(const struct node_config *c)
{
	json_t *t = node_image_table(c), *v;
	const char *k;

	json_object_foreach(t, k, v) {
		struct cy_error err = CY_ERROR_INIT;

		if (!strcmp(k, "host"))
			continue;
		if (node_image_is_sqfs(json_string_value(v))) {
			const char *why;

			if (!node_image_mount_enforced(&why))
				cy_log_warn("image_unusable", "image", k, "error",
				    "a squashfs image, and squashfs images could not be mounted at start",
				    "reason", why, NULL);
			continue;
		}
		if (node_image_path_check(k, json_string_value(v), &err) < 0)
			cy_log_warn("image_path_shown", "image", k, "error", err.msg, "policy",
			    !strcmp(c->images_private, "require") ?
				"jobs on it are refused" :
				"allowed (sandbox.images_private: warn)",
			    "fix",
			    node_image_mount_enforced(NULL) ?
				"import it again: this node makes squashfs images" :
				"give it a file system of its own",
			    NULL);
	}
	json_decref(t);
}

static int
image_rm(const struct node_config *c, const char *name)
{
	char *base, *enc, *dst;
	bool dir, file;
	int rc = 0;

	if (!node_image_name_valid(name))
		return image_name_refuse(name);
	enc = image_dirname(name);
	base = node_images_dir(c);
	dst = xasprintf("%s/%s", base, enc);
	free(base);
	/* A node keeps a mounted image until no job uses it. */
	dir = image_rm_form(dst, false);
	file = image_rm_form(dst, true);
	if (!dir && !file) {
		fprintf(stderr, "cynode-node: no imported image '%s'\n", name);
		rc = 1;
	} else {
		printf("image '%s' removed\n", name);
	}
	free(dst);
	free(enc);
	return rc;
}

int
node_image_main(const struct node_config *c, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[0], "import"))
		return image_import(c, argv[1], argv[2]);
	if (argc == 1 && !strcmp(argv[0], "list"))
		return image_list(c);
	if (argc == 2 && !strcmp(argv[0], "rm"))
		return image_rm(c, argv[1]);
	fprintf(stderr, "usage: cynode-node [--config FILE] image import NAME DIR|TARBALL\n"
			"       cynode-node [--config FILE] image list\n"
			"       cynode-node [--config FILE] image rm NAME\n");
	return 2;
}
