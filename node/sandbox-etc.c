/*
 * The host image's /etc, prepared once.  Binding the sixteen /etc
 * entries a host-image job needs one by one cost a mount each, per job;
 * instead the node copies them into <state_dir>/sandbox-etc.<signature> (a
 * "generation") and bwrap binds that one directory read-only at /etc from
 * an open fd.
 *
 * The copy never shows more than the per-file binds showed to the sandbox's
 * uid 65534: regular files only when world-readable, directories only when
 * world-searchable, symlinks as symlinks (their targets resolve inside the
 * sandbox), nothing else (devices, fifos, sockets, the contents of
 * /etc/ssl/private).  Modes are kept without setuid/setgid/sticky bits, the
 * copies belong to the node's user (root), and it is bounded: files over
 * SB_ETC_FILE_MAX are skipped with a warning, and more than
 * SB_ETC_TOTAL_MAX bytes or SB_ETC_ENTRIES_MAX entries fail the build.
 *
 * The signature hashes the sources' lstat data (mode, owner, size, mtime,
 * ctime, inode; symlinks by name, their directory's mtime covers them).
 * sb_etc_refresh (at start, then from the node's heartbeat loop) computes
 * it and, when it changed, takes the generation of that signature if one
 * exists (another node process, a --run-job, built it) or builds one in
 * sandbox-etc.tmp.<pid>.<n> and renames it into place, so a generation is
 * always complete; then switches to it under a lock.  A job holds its
 * generation until it ends (the bind shares the directory's inodes), and
 * each process holds a shared flock(2) on the generations it uses; a
 * replaced generation is removed (under an exclusive lock, renamed away
 * first) once no job and no process uses it.  The symlink
 * <state_dir>/sandbox-etc names the current generation, for people.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "sandbox.h"
#include "banned.h"

#define SB_ETC_ENTRIES_MAX 20000
#define SB_ETC_DEPTH_MAX 8
#define ETC_PREFIX "sandbox-etc."

/* The /etc entries of the host image (names under the source root). */
const char *const sb_etc_names[] = { "passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache",
	"ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "ssl", "ca-certificates",
	"os-release", "debian_version", "profile", "bash.bashrc", "mime.types", NULL };

struct sb_etc_gen {
	char *path;  /* <state_dir>/sandbox-etc.<signature> */
	int lock_fd; /* holds a shared flock: in use */
	int refs;    /* the current pointer holds one, each job one */
	bool keep;   /* left for the next process (sb_etc_stop) */
	uint64_t sig;
};

static pthread_mutex_t etc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sb_etc_gen *etc_cur;
static char *etc_dir; /* the state dir; NULL before sb_etc_start */
static char *etc_src; /* "/etc", or a fake tree in the unit test */
static unsigned etc_seq;
static uint64_t etc_failed; /* the sources' signature a build failed on */
static long long etc_file_max = SB_ETC_FILE_MAX, etc_total_max = SB_ETC_TOTAL_MAX;

/* One walk over the sources: the signature, and the copy when dfd >= 0. */
struct walk {
	char path[4096]; /* relative to the source root */
	size_t plen;
	uint64_t sig;
	long long total;
	int entries;
	bool copy;
	struct cy_error *err;
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ULL;
	return h;
}

/* Adds one entry's path and lstat data; a sum, so readdir order does not matter. */
static void
walk_sig(struct walk *w, const struct stat *st)
{
	uint64_t h = fnv(14695981039346656037ULL, w->path, w->plen + 1);

	if (st) {
		long long v[] = { st->st_mode, st->st_uid, st->st_gid, st->st_size,
			st->st_mtim.tv_sec, st->st_mtim.tv_nsec, st->st_ctim.tv_sec,
			st->st_ctim.tv_nsec, (long long)st->st_ino, (long long)st->st_dev };

		h = fnv(h, v, sizeof(v));
	}
	w->sig += h * 2654435761ULL + (h >> 29);
}

static void
walk_skip(const struct walk *w, const char *why)
{
	if (w->copy)
		cy_log_warn("sandbox_etc_skipped", "path", w->path, "reason", why, NULL);
}

static int
copy_link(struct walk *w, int sfd, int dfd, const char *name)
{
	char target[4096];
	ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

	if (n < 0)
		return 0; /* gone meanwhile: the next refresh sees it */
	target[n] = '\0';
	if (symlinkat(target, dfd, name) < 0)
		return cy_error_errno(w->err, "sandbox /etc: symlink '%s'", w->path);
	return 0;
}

static int
copy_file(struct walk *w, int sfd, int dfd, const char *name)
{
	struct cy_buf b = CY_BUF_INIT;
	struct timespec times[2];
	struct stat st;
	int in, out, ret = -1;

	in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return 0; /* unreadable to the node, or gone */
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IROTH)) {
		close(in);
		return 0;
	}
	if (cy_buf_read_fd(&b, in, (size_t)etc_file_max) < 0) {
		close(in);
		cy_buf_release(&b);
		if (errno == EFBIG) {
			walk_skip(w, "larger than the size limit");
			return 0;
		}
		return cy_error_errno(w->err, "sandbox /etc: reading '%s'", w->path);
	}
	close(in);
	w->total += (long long)b.len;
	if (w->total > etc_total_max) {
		cy_buf_release(&b);
		return cy_error_set(w->err, EFBIG, "sandbox /etc: more than %lld bytes",
		    etc_total_max);
	}
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	if (out < 0 || cy_write_all(out, b.buf, b.len) < 0 || fchmod(out, st.st_mode & 0777) < 0 ||
	    futimens(out, times) < 0)
		cy_error_errno(w->err, "sandbox /etc: writing '%s'", w->path);
	else
		ret = 0;
	if (out >= 0)
		close(out);
	cy_buf_release(&b);
	return ret;
}

static int walk_entry(struct walk *w, int sfd, int dfd, const char *name, int depth,
    unsigned char type);

/* A world-searchable directory: its entries, then its mode and times. */
static int
walk_dir(struct walk *w, int sfd, int dfd, const char *name, const struct stat *st, int depth)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	struct dirent *de;
	int in, out = -1, ret = 0;
	DIR *d;

	if (depth >= SB_ETC_DEPTH_MAX) {
		walk_skip(w, "too deep");
		return 0;
	}
	in = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return 0;
	d = fdopendir(in);
	if (!d) {
		close(in);
		return 0;
	}
	if (w->copy) {
		if (mkdirat(dfd, name, 0700) < 0 ||
		    (out = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
			0) {
			closedir(d);
			return cy_error_errno(w->err, "sandbox /etc: mkdir '%s'", w->path);
		}
	}
	while (ret == 0 && (de = readdir(d))) {
		size_t plen = w->plen;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (w->plen + 1 + strlen(de->d_name) >= sizeof(w->path)) {
			walk_skip(w, "path too long");
			continue;
		}
		xsnprintf(w->path + w->plen, sizeof(w->path) - w->plen, "/%s", de->d_name);
		w->plen += 1 + strlen(de->d_name);
		ret = walk_entry(w, dirfd(d), out, de->d_name, depth + 1, de->d_type);
		w->plen = plen;
		w->path[plen] = '\0';
	}
	closedir(d);
	if (out >= 0) {
		if (ret == 0 && (fchmod(out, st->st_mode & 0777) < 0 || futimens(out, times) < 0))
			ret = cy_error_errno(w->err, "sandbox /etc: chmod '%s'", w->path);
		close(out);
	}
	return ret;
}

/*
 * One source entry `name` in sfd (w->path names it): signature, then copy.
 * A symlink readdir reports (`type`) needs no lstat: it cannot change in
 * place, and replacing it changes its directory's mtime, which is hashed.
 * (/etc/alternatives and /etc/ssl/certs are mostly symlinks.)
 */
static int
walk_entry(struct walk *w, int sfd, int dfd, const char *name, int depth, unsigned char type)
{
	struct stat st;

	if (++w->entries > SB_ETC_ENTRIES_MAX)
		return cy_error_set(w->err, EFBIG, "sandbox /etc: more than %d entries",
		    SB_ETC_ENTRIES_MAX);
	if (type == DT_LNK) {
		walk_sig(w, NULL);
		return w->copy ? copy_link(w, sfd, dfd, name) : 0;
	}
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		walk_sig(w, NULL); /* missing (or a symlink): the name only */
		return 0;
	}
	walk_sig(w, &st);
	if (S_ISLNK(st.st_mode))
		return w->copy ? copy_link(w, sfd, dfd, name) : 0;
	if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH)) {
		if (st.st_size > etc_file_max) {
			walk_skip(w, "larger than the size limit");
			return 0;
		}
		return w->copy ? copy_file(w, sfd, dfd, name) : 0;
	}
	if (S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH))
		return walk_dir(w, sfd, dfd, name, &st, depth);
	return 0; /* unreadable files, private directories, devices, fifos, sockets */
}

/* Walks every listed entry of the source root; copies into dfd when >= 0. */
static int
walk_sources(struct walk *w, int dfd)
{
	size_t i;
	int sfd, ret = 0;

	sfd = open(etc_src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return cy_error_errno(w->err, "sandbox /etc: opening '%s'", etc_src);
	w->copy = dfd >= 0;
	for (i = 0; sb_etc_names[i] && ret == 0; i++) {
		xsnprintf(w->path, sizeof(w->path), "%s", sb_etc_names[i]);
		w->plen = strlen(w->path);
		ret = walk_entry(w, sfd, dfd, sb_etc_names[i], 0, DT_UNKNOWN);
	}
	close(sfd);
	return ret;
}

/* A number for temporary names (jobs' threads remove generations too). */
static unsigned
etc_next(void)
{
	return __atomic_add_fetch(&etc_seq, 1, __ATOMIC_RELAXED);
}

/* <state_dir>/sandbox-etc.KIND... into a new string. */
static char *etc_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
etc_name(const char *fmt, ...)
{
	struct cy_buf b = CY_BUF_INIT;
	va_list ap;

	cy_buf_addf(&b, "%s/" ETC_PREFIX, etc_dir);
	va_start(ap, fmt);
	cy_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return b.buf;
}

/* Points <state_dir>/sandbox-etc at the generation (atomically, by rename). */
static void
etc_link(const char *gen)
{
	char *tmp = etc_name("%d.link", (int)getpid());
	char *dst = xasprintf("%s/sandbox-etc", etc_dir);

	unlink(tmp);
	if (symlink(strrchr(gen, '/') + 1, tmp) < 0 || rename(tmp, dst) < 0)
		unlink(tmp);
	free(tmp);
	free(dst);
}

/*
 * Opens generation `path` and takes a shared lock on it: no process removes
 * it while the lock is held.  -1 when it does not exist (or was just
 * removed: a remover renames it away under its exclusive lock).
 */
static int
gen_lock(const char *path)
{
	struct stat a, b;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_SH) < 0 || fstat(fd, &a) < 0 || stat(path, &b) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Removes generation `path` when no process holds it. */
static void
gen_remove(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *dead;

	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* Next to it, not from etc_dir: a job may end after sb_etc_stop. */
		dead = xasprintf("%.*s/" ETC_PREFIX "dead.%d.%u", (int)(strrchr(path, '/') - path),
		    path, (int)getpid(), etc_next());
		if (rename(path, dead) == 0)
			cy_rm_rf(dead);
		free(dead);
	}
	close(fd);
}

static struct sb_etc_gen *
gen_new(char *path, int lock_fd, uint64_t sig)
{
	struct sb_etc_gen *g = xcalloc(1, sizeof(*g));

	g->path = path;
	g->lock_fd = lock_fd;
	g->refs = 1;
	g->sig = sig;
	return g;
}

/* The existing generation of signature sig, locked; NULL when there is none. */
static struct sb_etc_gen *
gen_adopt(uint64_t sig)
{
	char *path = etc_name("%016llx", (unsigned long long)sig);
	int fd = gen_lock(path);

	if (fd < 0) {
		free(path);
		return NULL;
	}
	return gen_new(path, fd, sig);
}

/*
 * Builds a new generation from the sources into a temporary directory and
 * renames it to sandbox-etc.<signature>, locked; NULL with err.  When
 * another process got there first, its generation is taken instead.
 */
static struct sb_etc_gen *
etc_build(struct cy_error *err)
{
	struct walk *w = xcalloc(1, sizeof(*w));
	struct sb_etc_gen *g = NULL;
	char *tmp, *path = NULL;
	int dfd;

	tmp = etc_name("tmp.%d.%u", (int)getpid(), etc_next());
	cy_rm_rf(tmp);
	if (mkdir(tmp, 0700) < 0 ||
	    (dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cy_error_errno(err, "sandbox /etc: creating '%s'", tmp);
		free(tmp);
		free(w);
		return NULL;
	}
	w->err = err;
	if (walk_sources(w, dfd) < 0)
		goto out;
	if (fchmod(dfd, 0755) < 0 || flock(dfd, LOCK_SH) < 0) {
		cy_error_errno(err, "sandbox /etc: chmod '%s'", tmp);
		goto out;
	}
	path = etc_name("%016llx", (unsigned long long)w->sig);
	if (rename(tmp, path) == 0) {
		g = gen_new(path, dfd, w->sig);
		dfd = -1;
		path = NULL;
	} else if (errno == EEXIST || errno == ENOTEMPTY) {
		g = gen_adopt(w->sig);
		if (!g)
			cy_error_set(err, EAGAIN, "sandbox /etc: '%s' vanished", path);
	} else {
		cy_error_errno(err, "sandbox /etc: renaming '%s'", tmp);
	}
out:
	if (dfd >= 0)
		close(dfd);
	cy_rm_rf(tmp);
	free(tmp);
	free(path);
	free(w);
	return g;
}

void
sb_etc_release(struct sb_etc_gen *g)
{
	bool last;

	if (!g)
		return;
	pthread_mutex_lock(&etc_lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&etc_lock);
	if (!last)
		return;
	close(g->lock_fd);
	/* Replaced: removed unless another process still uses it. */
	if (!g->keep)
		gen_remove(g->path);
	free(g->path);
	free(g);
}

struct sb_etc_gen *
sb_etc_acquire(int *fd)
{
	struct sb_etc_gen *g;

	pthread_mutex_lock(&etc_lock);
	g = etc_cur;
	if (g)
		g->refs++;
	pthread_mutex_unlock(&etc_lock);
	if (!g)
		return NULL;
	*fd = open(g->path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		sb_etc_release(g);
		return NULL;
	}
	return g;
}

const char *
sb_etc_path(const struct sb_etc_gen *g)
{
	return g->path;
}

/* Makes g current; the one it replaces goes once its last job ends. */
static void
etc_switch(struct sb_etc_gen *g)
{
	struct sb_etc_gen *old;

	pthread_mutex_lock(&etc_lock);
	old = etc_cur;
	etc_cur = g;
	pthread_mutex_unlock(&etc_lock);
	if (g)
		etc_link(g->path);
	sb_etc_release(old);
}

/* The sources' signature, without copying; -1 with err. */
static int
etc_signature(uint64_t *sig, struct cy_error *err)
{
	struct walk *w = xcalloc(1, sizeof(*w));
	int rc;

	w->err = err;
	rc = walk_sources(w, -1);
	*sig = w->sig;
	free(w);
	return rc;
}

/* True when pid is a running process (another node, perhaps). */
static bool
pid_alive(long pid)
{
	return pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/*
 * Removes what no process uses: generations other than the current one
 * (unless locked), and the temporary directories and links of processes
 * that no longer run.
 */
static void
etc_sweep(uint64_t cur)
{
	char own[32], *p;
	struct dirent *de;
	DIR *d = opendir(etc_dir);
	size_t plen = strlen(ETC_PREFIX);

	if (!d)
		return;
	xsnprintf(own, sizeof(own), "%016llx", (unsigned long long)cur);
	while ((de = readdir(d))) {
		const char *s = de->d_name + plen, *pid;

		if (strncmp(de->d_name, ETC_PREFIX, plen))
			continue;
		p = xasprintf("%s/%s", etc_dir, de->d_name);
		if (strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16) {
			if (strcmp(s, own))
				gen_remove(p);
		} else {
			pid = !strncmp(s, "tmp.", 4) || !strncmp(s, "dead.", 5) ?
				  strchr(s, '.') + 1 :
				  s;
			if (!pid_alive(strtol(pid, NULL, 10)))
				cy_rm_rf(p);
		}
		free(p);
	}
	closedir(d);
}

int
sb_etc_refresh(struct cy_error *err)
{
	struct sb_etc_gen *g;
	uint64_t cur, sig;
	bool have;

	if (!etc_dir)
		return 0;
	pthread_mutex_lock(&etc_lock);
	have = etc_cur != NULL;
	cur = have ? etc_cur->sig : 0;
	pthread_mutex_unlock(&etc_lock);
	if (etc_signature(&sig, err) < 0)
		return -1;
	if ((have && sig == cur) || (etc_failed && sig == etc_failed))
		return 0; /* unchanged, or failed already (logged then) */
	/* Another process (a node, --run-job) may have built it already. */
	g = gen_adopt(sig);
	if (!g)
		g = etc_build(err);
	if (!g) {
		etc_failed = sig; /* tried again once the sources change */
		return -1;
	}
	etc_failed = 0;
	etc_switch(g);
	etc_sweep(g->sig);
	return 1;
}

int
sb_etc_start(const char *state_dir, const char *src_root, struct cy_error *err)
{
	if (etc_dir)
		return sb_etc_refresh(err) < 0 ? -1 : 0;
	if (cy_mkdir_p(state_dir, 0755, 0711) < 0)
		return cy_error_errno(err, "sandbox /etc: creating '%s'", state_dir);
	etc_dir = xstrdup(state_dir);
	etc_src = xstrdup(src_root);
	/* On failure sb_etc_refresh tries again when the sources change. */
	return sb_etc_refresh(err) < 0 ? -1 : 0;
}

void
sb_etc_stop(void)
{
	struct sb_etc_gen *g;

	if (!etc_dir)
		return;
	/* The current generation stays for the next process to take. */
	pthread_mutex_lock(&etc_lock);
	g = etc_cur;
	etc_cur = NULL;
	if (g)
		g->keep = true;
	pthread_mutex_unlock(&etc_lock);
	sb_etc_release(g);
	etc_failed = 0;
	free(etc_dir);
	free(etc_src);
	etc_dir = etc_src = NULL;
}

void
sb_etc_set_limits(long long file_max, long long total_max)
{
	etc_file_max = file_max;
	etc_total_max = total_max;
}
