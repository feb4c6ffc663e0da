/*
 * Unit tests for node/image.c and node/image-mount.c: which image names a
 * node can hold (none ending in a suffix the images directory uses
 * itself), and what a job is told when its squashfs image file is gone, is
 * no longer a file or is a symbolic link by the time it is mounted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fsutil.h"
#include "node.h"
#include "tap.h"

static char base[] = "/tmp/cy-image-XXXXXX";

static void
test_names(void)
{
	static const char *const good[] = { "bb", "a/b", "reg.io/x:1.2", "x.sqfs2", "x.sq",
		"x@sha256:ab", "old", "mnt" };
	static const char *const bad[] = { "x.sqfs", "a/b.sqfs", "x.old", "x.mnt", ".sqfs", "" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(node_image_name_valid(good[i]), "'%s' is an image name", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!node_image_name_valid(bad[i]), "'%s' is not", bad[i]);
	is_str(node_image_name_reserved("a/b.sqfs"), ".sqfs", "the suffix is named");
	ok(node_image_name_reserved("b1") == NULL, "no suffix");
	/* An OCI reference may end in one: it names no file of the images directory. */
	ok(node_image_ref_valid("reg.io/x:v1.old"), "an OCI tag '.old' is a reference");
}

/* Acquires path; the error message, or NULL when it mounted. */
static char *
acquire_err(const char *path)
{
	struct cy_error err = CY_ERROR_INIT;
	struct node_image_mount *h;
	char *dir = node_image_mount_acquire(path, &h, &err);

	if (dir) {
		free(dir);
		node_image_mount_release(h);
		return NULL;
	}
	ok(h == NULL, "no hold on an error");
	return xstrdup(err.msg);
}

static void
test_acquire_changed(void)
{
	char *p, *m, *f;

	node_image_mount_init(base);
	p = xasprintf("%s/gone.sqfs", base);
	m = acquire_err(p);
	ok(m && strstr(m, "is gone: the image changed while the job started; retry"),
	    "a file gone since the parse: changed, retry (%s)", m ? m : "mounted");
	free(m);
	/* Re-imported as a directory meanwhile. */
	ok(mkdir(p, 0755) == 0, "a directory there");
	m = acquire_err(p);
	ok(m && strstr(m, "is no longer a regular file: the image changed while the job started"),
	    "a directory now: changed, retry (%s)", m ? m : "mounted");
	free(m);
	/* A symbolic link to a file: refused, not followed. */
	f = xasprintf("%s/real.sqfs", base);
	fclose(fopen(f, "w"));
	free(p);
	p = xasprintf("%s/link.sqfs", base);
	ok(symlink(f, p) == 0, "a symbolic link there");
	ok(node_image_is_sqfs(p), "it looks like a squashfs image through the link");
	m = acquire_err(p);
	ok(m && strstr(m, "is a symbolic link: a squashfs image must be the file itself"),
	    "a symbolic link: said so (%s)", m ? m : "mounted");
	free(m);
	free(f);
	free(p);
	node_image_mount_stop();
}

int
main(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_names);
	RUN_TEST(test_acquire_changed);
	cy_rm_rf(base);
	return tap_done();
}
