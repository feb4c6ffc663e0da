/*
 * Imported images as squashfs files, each mounted read-only from a loop
 * device, so that no host path shows in a job's /proc/self/mountinfo.
 *
 * A bind mount's line in mountinfo shows its source's path relative to the
 * root of the file system holding it (mountinfo.c); a bind from an open fd
 * or an open_tree(2) shows the same.  An image directory under the state
 * dir therefore shows the state dir's layout to every job on it.  An image
 * on a file system of its own shows only its own paths ("/usr", "/bin"):
 * when the node is root, `image import` builds <images_dir>/<name>.sqfs
 * with mksquashfs (sandbox.mksquashfs_path) and checks that it mounts, and
 * the node mounts it (LOOP_CTL_GET_FREE, LOOP_CONFIGURE read-only with
 * autoclear, mount(2) squashfs ro,nosuid,nodev) at
 * <staging_dir>/images/<pid>/<n> the first time a job needs it.  The file
 * is opened once (O_NOFOLLOW: a symbolic link is refused) and that fd is
 * both the recorded identity and what the loop device reads.  Jobs share
 * the mount; one whose file was replaced (a re-import) or removed is
 * unmounted once no job uses it (at the manager's next tick at the
 * latest), and all are unmounted when the node stops.  A daemon starting
 * unmounts what node processes that no longer run, or a probe that did
 * not finish, left behind.
 *
 * A node that cannot (not root, no mksquashfs, no loop device or no
 * squashfs in the kernel) imports directories as before, whose path jobs
 * see: the daemon probes once at start, logs image_squashfs_unavailable
 * and reports sandbox.images_private {enforced: false, reason}.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "children.h"
#include "fsutil.h"
#include "inference-backend.h"
#include "log.h"
#include "node.h"
#include "banned.h"

extern char **environ;

/* One mounted image file, shared by the jobs on it. */
struct node_image_mount {
	char *file; /* the .sqfs file */
	dev_t dev;  /* its identity when mounted */
	ino_t ino;
	struct timespec mtime;
	char *dir; /* the mount point */
	int refs;  /* jobs using it */
	bool gone; /* unmounted by node_image_mount_stop while a job held it */
	struct node_image_mount *next;
};

static pthread_mutex_t im_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node_image_mount *im_list;
static char *im_root; /* <staging_dir>/images/<pid>; NULL before node_image_mount_init */
static unsigned im_seq;

/* What the daemon's probe found. */
static struct {
	bool probed, enforced;
	char reason[512];
} sq;

bool
node_image_sqfs_named(const char *path)
{
	size_t n = strlen(path), k = strlen(NODE_IMAGE_SQFS_EXT);

	return n > k && !strcmp(path + n - k, NODE_IMAGE_SQFS_EXT);
}

bool
node_image_is_sqfs(const char *path)
{
	struct stat st;

	return node_image_sqfs_named(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Why this process cannot make or mount squashfs images, or NULL; *bin: mksquashfs. */
static const char *
sqfs_unusable(const struct node_config *c, char **bin, char *why, size_t size)
{
	*bin = NULL;
	if (geteuid() != 0)
		return "the node is not root: mounting an image needs root";
	if (access("/dev/loop-control", R_OK | W_OK) < 0) {
		cy_snprintf_clip(why, size, "no loop devices: /dev/loop-control: %s",
		    strerror(errno));
		return why;
	}
	*bin = inf_find_program(c->mksquashfs_path);
	if (!*bin) {
		cy_snprintf_clip(why, size,
		    "sandbox.mksquashfs_path '%s' not found (Debian: squashfs-tools)",
		    c->mksquashfs_path);
		return why;
	}
	return NULL;
}

/* Opens a squashfs image file to attach: its fd, or -1 with err. */
static int
sqfs_open(const char *file, struct stat *st, struct cy_error *err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ELOOP)
		return cy_error_set(err, ELOOP,
		    "image file '%s' is a symbolic link: a squashfs image must be the file itself",
		    file);
	if (fd < 0)
		return cy_error_errno(err, "image file '%s'", file);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		cy_error_set(err, EINVAL, "image file '%s' is not a regular file", file);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Attaches the open file ffd to a free loop device, read-only, cleared when
 * unused: its fd with its path in dev, or -1.
 */
static int
loop_attach(int ffd, const char *file, char *dev, size_t size, struct cy_error *err)
{
	int ctl, lfd = -1, tries;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return cy_error_errno(err, "opening /dev/loop-control");
	/* Another process may take the free device first: ask again. */
	for (tries = 0; tries < 8; tries++) {
		struct loop_config lc;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0) {
			cy_error_errno(err, "no free loop device");
			break;
		}
		xsnprintf(dev, size, "/dev/loop%d", nr);
		lfd = open(dev, O_RDONLY | O_CLOEXEC);
		if (lfd < 0) {
			cy_error_errno(err, "opening %s", dev);
			break;
		}
		memset(&lc, 0, sizeof(lc));
		lc.fd = (unsigned)ffd;
		lc.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0)
			break;
		if (errno == EINVAL || errno == ENOTTY) {
			/* Before Linux 5.8: set the file, then the flags. */
			struct loop_info64 li;

			memset(&li, 0, sizeof(li));
			li.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
			if (ioctl(lfd, LOOP_SET_FD, ffd) == 0) {
				if (ioctl(lfd, LOOP_SET_STATUS64, &li) == 0)
					break;
				cy_error_errno(err, "configuring %s", dev);
				(void)ioctl(lfd, LOOP_CLR_FD, 0);
				close(lfd);
				lfd = -1;
				break;
			}
		}
		if (errno != EBUSY) {
			cy_error_errno(err, "attaching '%s' to %s", file, dev);
			close(lfd);
			lfd = -1;
			break;
		}
		close(lfd);
		lfd = -1;
		if (tries == 7)
			cy_error_set(err, EBUSY, "no free loop device after %d tries", tries + 1);
	}
	close(ctl);
	return lfd;
}

/* Mounts the open squashfs file ffd (named file) on dir, read-only: 0, or -1 with err. */
static int
sqfs_mount(int ffd, const char *file, const char *dir, struct cy_error *err)
{
	char dev[64];
	struct stat st, dst;
	int lfd = loop_attach(ffd, file, dev, sizeof(dev), err), rc = 0;

	if (lfd < 0)
		return -1;
	if (fstat(lfd, &st) < 0) {
		rc = cy_error_errno(err, "loop device of '%s'", file);
	} else {
		/*
		 * The path loop_attach opened, still that device; else the fd
		 * itself.  Never a name made from the minor: with loop.max_part
		 * set, /dev/loop<minor> is another device.
		 */
		if (stat(dev, &dst) < 0 || !S_ISBLK(dst.st_mode) || dst.st_rdev != st.st_rdev)
			xsnprintf(dev, sizeof(dev), "/proc/self/fd/%d", lfd);
		if (mount(dev, dir, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
			rc = cy_error_errno(err, "mounting '%s' (squashfs) on '%s'", file, dir);
	}
	/* The mount holds the device now; autoclear detaches it with the mount. */
	close(lfd);
	return rc;
}

/* Runs argv with stdout to /dev/null, stderr kept; 0 when it exited 0. */
static int
run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int ws, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	node_child_own(pid);
	while ((rc = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	node_child_done(pid);
	if (rc < 0)
		return -1;
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
}

/* mksquashfs tree into out (replaced): 0, or -1 with err. */
static int
sqfs_build(const char *bin, const char *tree, const char *out, struct cy_error *err)
{
	char *argv[] = { (char *)bin, (char *)tree, (char *)out, "-noappend", "-all-root",
		"-no-xattrs", "-quiet", "-no-progress", NULL };

	(void)unlink(out);
	if (run_quiet(argv) < 0)
		return cy_error_set(err, EIO, "%s '%s' failed", bin, tree);
	return 0;
}

/* Mounts file on a fresh directory next to it and checks that check (relative) exists. */
static int
sqfs_try(const char *file, const char *check, struct cy_error *err)
{
	char *mnt = xasprintf("%s.mnt", file), *p = NULL;
	struct stat st;
	int rc = -1, fd = sqfs_open(file, &st, err);

	if (fd < 0) {
		free(mnt);
		return -1;
	}
	(void)rmdir(mnt);
	if (mkdir(mnt, 0700) < 0) {
		cy_error_errno(err, "creating '%s'", mnt);
		close(fd);
		free(mnt);
		return -1;
	}
	if (sqfs_mount(fd, file, mnt, err) == 0) {
		p = xasprintf("%s/%s", mnt, check);
		if (lstat(p, &st) == 0)
			rc = 0;
		else
			cy_error_errno(err, "'%s' has no %s once mounted", file, check);
		if (umount2(mnt, MNT_DETACH) < 0)
			cy_log_warn("image_unmount_failed", "path", mnt, "error", strerror(errno),
			    NULL);
	}
	(void)rmdir(mnt);
	close(fd);
	free(p);
	free(mnt);
	return rc;
}

int
node_image_sqfs_make(const struct node_config *c, const char *tree, const char *out,
    struct cy_error *err)
{
	char why[512], *bin;
	const char *no = sqfs_unusable(c, &bin, why, sizeof(why));
	int rc;

	if (no)
		return cy_error_set(err, ENOTSUP, "%s", no);
	rc = sqfs_build(bin, tree, out, err);
	free(bin);
	if (rc == 0)
		rc = sqfs_try(out, "bin/sh", err);
	if (rc < 0)
		(void)unlink(out);
	return rc;
}

void
node_image_mount_init(const char *staging_dir)
{
	pthread_mutex_lock(&im_lock);
	if (!im_root)
		im_root = xasprintf("%s/images/%d", staging_dir, (int)getpid());
	pthread_mutex_unlock(&im_lock);
}

int
node_image_mount_probe(const struct node_config *c)
{
	char *bin = NULL, *dir = NULL, *tree = NULL, *file = NULL, *sh = NULL;
	struct cy_error err = CY_ERROR_INIT;
	const char *no;
	FILE *f;

	sq.probed = true;
	sq.enforced = false;
	no = sqfs_unusable(c, &bin, sq.reason, sizeof(sq.reason));
	if (no) {
		if (no != sq.reason)
			cy_snprintf_clip(sq.reason, sizeof(sq.reason), "%s", no);
		goto out;
	}
	dir = xasprintf("%s/images/.probe-%d", c->staging_dir, (int)getpid());
	tree = xasprintf("%s/tree", dir);
	file = xasprintf("%s/probe" NODE_IMAGE_SQFS_EXT, dir);
	sh = xasprintf("%s/probe", tree);
	cy_rm_rf(dir);
	if (cy_mkdir_p(tree, 0755, 0700) < 0 || !(f = fopen(sh, "we"))) {
		cy_snprintf_clip(sq.reason, sizeof(sq.reason), "cannot create '%s': %s", tree,
		    strerror(errno));
		goto out;
	}
	fclose(f);
	if (sqfs_build(bin, tree, file, &err) < 0 || sqfs_try(file, "probe", &err) < 0) {
		cy_snprintf_clip(sq.reason, sizeof(sq.reason), "%s", err.msg);
		goto out;
	}
	sq.enforced = true;
	sq.reason[0] = '\0';
out:
	if (dir)
		cy_rm_rf(dir);
	if (!sq.enforced)
		cy_log_warn("image_squashfs_unavailable", "reason", sq.reason, "note",
		    "images are imported as directories, whose host path jobs see in "
		    "/proc/self/mountinfo",
		    NULL);
	free(sh);
	free(file);
	free(tree);
	free(dir);
	free(bin);
	return sq.enforced ? 0 : -1;
}

bool
node_image_mount_enforced(const char **reason)
{
	if (reason)
		*reason = sq.probed ? sq.reason : "not probed";
	return sq.enforced;
}

json_t *
node_image_mount_json(void)
{
	json_t *o = json_pack("{s:b, s:s}", "enforced", sq.enforced, "method",
	    sq.enforced ? "squashfs" : "directory");

	if (!sq.enforced)
		json_object_set_new(o, "reason", json_string(sq.probed ? sq.reason : "not probed"));
	return o;
}

/* Unmounts m (no job uses it) and frees it. */
static void
im_drop(struct node_image_mount *m)
{
	if (umount2(m->dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		cy_log_warn("image_unmount_failed", "path", m->dir, "error", strerror(errno), NULL);
	(void)rmdir(m->dir);
	free(m->dir);
	free(m->file);
	free(m);
}

/* Is m the mount of file st (its identity)? */
static bool
im_same(const struct node_image_mount *m, const struct stat *st)
{
	return st->st_dev == m->dev && st->st_ino == m->ino &&
	       st->st_mtim.tv_sec == m->mtime.tv_sec && st->st_mtim.tv_nsec == m->mtime.tv_nsec;
}

/* Is m's file still the one it mounted? */
static bool
im_current(const struct node_image_mount *m)
{
	struct stat st;

	return lstat(m->file, &st) == 0 && S_ISREG(st.st_mode) && im_same(m, &st);
}

/* Drops the unused mounts whose file was replaced or removed (im_lock held). */
static void
im_prune(void)
{
	struct node_image_mount **pp = &im_list, *m;

	while ((m = *pp)) {
		if (m->refs == 0 && (m->gone || !im_current(m))) {
			*pp = m->next;
			im_drop(m);
		} else {
			pp = &m->next;
		}
	}
}

void
node_image_mount_prune(void)
{
	pthread_mutex_lock(&im_lock);
	im_prune();
	pthread_mutex_unlock(&im_lock);
}

char *
node_image_mount_acquire(const char *file, struct node_image_mount **h, struct cy_error *err)
{
	struct node_image_mount *m;
	struct stat st;
	char *dir = NULL;
	int fd = -1;

	*h = NULL;
	pthread_mutex_lock(&im_lock);
	im_prune();
	if (!im_root) {
		cy_error_set(err, EINVAL, "image mounts are not set up");
		goto out;
	}
	/* Opened once: what is mounted is the file whose identity is recorded. */
	fd = sqfs_open(file, &st, err);
	if (fd < 0) {
		/* A squashfs image when the job was parsed, gone or a directory since. */
		if (err->code == ENOENT || err->code == EINVAL)
			cy_error_set(err, EAGAIN,
			    "image file '%s' is %s: the image changed while the job started; retry",
			    file, err->code == ENOENT ? "gone" : "no longer a regular file");
		goto out;
	}
	for (m = im_list; m; m = m->next)
		if (!m->gone && !strcmp(m->file, file) && im_same(m, &st))
			break;
	if (!m) {
		char *d = xasprintf("%s/%u", im_root, ++im_seq);

		(void)rmdir(d);
		if (cy_mkdir_p(d, 0755, 0755) < 0) {
			cy_error_errno(err, "creating '%s'", d);
			free(d);
			goto out;
		}
		/* Tried even when the start-up probe failed: an import may have loaded a module. */
		if (sqfs_mount(fd, file, d, err) < 0) {
			if (sq.probed && !sq.enforced)
				cy_error_wrap(err, "squashfs images were unavailable at start (%s)",
				    sq.reason);
			(void)rmdir(d);
			free(d);
			goto out;
		}
		m = xcalloc(1, sizeof(*m));
		m->file = xstrdup(file);
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		m->mtime = st.st_mtim;
		m->dir = d;
		m->next = im_list;
		im_list = m;
		cy_log_info("image_mounted", "file", file, "path", d, NULL);
	}
	m->refs++;
	*h = m;
	dir = xstrdup(m->dir);
out:
	pthread_mutex_unlock(&im_lock);
	if (fd >= 0)
		close(fd);
	return dir;
}

void
node_image_mount_release(struct node_image_mount *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&im_lock);
	h->refs--;
	im_prune();
	pthread_mutex_unlock(&im_lock);
}

void
node_image_mount_stop(void)
{
	struct node_image_mount **pp = &im_list, *m;

	pthread_mutex_lock(&im_lock);
	while ((m = *pp)) {
		if (m->refs == 0) {
			*pp = m->next;
			im_drop(m);
			continue;
		}
		/* A job still holds it: its sandbox has its own binds; freed on release. */
		(void)umount2(m->dir, MNT_DETACH);
		m->gone = true;
		pp = &m->next;
	}
	if (im_root)
		(void)rmdir(im_root);
	free(im_root);
	im_root = NULL;
	pthread_mutex_unlock(&im_lock);
}

struct im_sweep {
	char root[PATH_MAX]; /* <staging_dir>/images, resolved */
	size_t rl;
};

#define IM_PROBE_PREFIX ".probe-"

/*
 * The pid that <root>/name belongs to: <pid> (a node's mounts) or
 * .probe-<pid> (a probe's; *probe set); 0 when neither.  *end: after it.
 */
static long
im_sweep_pid(const char *name, bool *probe, const char **end)
{
	size_t pl = strlen(IM_PROBE_PREFIX);
	char *e;
	long pid;

	*probe = !strncmp(name, IM_PROBE_PREFIX, pl);
	if (*probe)
		name += pl;
	pid = strtol(name, &e, 10);
	*end = e;
	if (e == name || pid <= 0 || pid > INT_MAX)
		return 0;
	return pid;
}

/*
 * Is the process pid gone?  Its probe left what is there when it is this
 * process too: the sweep runs before this process probes (a container's
 * node is pid 1 at every start).
 */
static bool
im_sweep_stale(long pid, bool probe)
{
	if (pid == getpid())
		return probe;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* A squashfs under <root>/<pid>/ or <root>/.probe-<pid>/ of a process that no longer runs. */
static int
im_sweep_fn(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct im_sweep *s = arg;
	const char *end;
	bool probe;
	long pid;

	(void)root;
	if (strcmp(fstype, "squashfs") || strncmp(mp, s->root, s->rl) || mp[s->rl] != '/')
		return 0;
	pid = im_sweep_pid(mp + s->rl + 1, &probe, &end);
	if (!pid || *end != '/' || !im_sweep_stale(pid, probe))
		return 0;
	if (umount2(mp, MNT_DETACH) == 0) {
		cy_log_info("image_unmounted", "path", mp, "reason",
		    probe ? "left by a probe that did not finish" : "left by a node that stopped",
		    NULL);
		(void)rmdir(mp);
	}
	return 0;
}

/* Removes the empty directories in dir. */
static void
rmdir_children(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		(void)rmdir(p);
		free(p);
	}
	if (d)
		closedir(d);
}

void
node_image_mount_sweep(const char *staging_dir)
{
	char *dir = xasprintf("%s/images", staging_dir);
	struct im_sweep s;
	struct dirent *de;
	DIR *d;

	if (!realpath(dir, s.root)) {
		free(dir);
		return;
	}
	free(dir);
	s.rl = strlen(s.root);
	(void)node_mountinfo_each(im_sweep_fn, &s);
	/* The emptied directories of stopped processes. */
	d = opendir(s.root);
	while (d && (de = readdir(d))) {
		const char *end;
		bool probe;
		long pid = im_sweep_pid(de->d_name, &probe, &end);
		char *p;

		if (!pid || *end || !im_sweep_stale(pid, probe))
			continue;
		p = xasprintf("%s/%s", s.root, de->d_name);
		/* A probe's files too; FTW_MOUNT: never into a mount still there. */
		if (probe) {
			cy_rm_rf(p);
		} else {
			rmdir_children(p);
			(void)rmdir(p);
		}
		free(p);
	}
	if (d)
		closedir(d);
}
