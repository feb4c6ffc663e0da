/*
 * Per-job control groups: memory, pids and CPU limits where the host lets
 * the node have them.  cgroup v2 is used when its memory, pids and cpu
 * controllers are available to the node's own cgroup (the node moves itself
 * into a "node" leaf so it may enable them for its children, as a systemd
 * service with Delegate=yes would); otherwise cgroup v1, one hierarchy per
 * controller.  Job groups are made under the node's own cgroup, so the
 * node's own limits still hold above them.  After a job the group is
 * emptied with SIGKILL (cgroup.kill on v2) and removed; the OOM and pids
 * counters say whether a limit was hit.  On v1 the job also gets a group
 * in the cpuacct hierarchy (no limit there: its CPU time is accounted,
 * sandbox-usage.c); v2's cpu.stat needs no controller.
 *
 * On v1 a job's four groups are not removed when it ends cleanly (empty,
 * no limit hit, almost no memory still charged): renamed
 * cynode-PID.pool-N, they wait for the next job, which renames them to
 * its own name, writes only the limits that differ and resets the two
 * counters it reads (cpuacct.usage, memory.max_usage_in_bytes; the OOM and
 * pids counters of a group kept this way are still 0).  With the node's
 * sandbox alone (`--bench-parallel`), making and removing four groups and
 * their control files per job cost 12% of its rate (no cgroups at all: 335
 * against 300 jobs/s); kept, they cost nothing measurable.  Kept groups
 * keep their open `tasks` files (sb_cgroup_enter writes them).  v2
 * keeps a group per job: its memory.peak cannot be reset before Linux
 * 6.12, and then only per open file.  sb_cgroup_pool_drain removes the
 * idle groups when the node stops; after a crash sb_cgroup_sweep does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "sandbox.h"
#include "banned.h"

static const char *const ctl_names[SB_CG_N] = { "memory", "pids", "cpu", "cpuacct" };

/* What detection found: the node's own cgroup directory per controller. */
static struct {
	int version;
	char *base[SB_CG_N]; /* v1: per controller; v2: base[0] for all */
	unsigned mask;       /* 1 << SB_CG_* enforceable */
} cg;
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

/* Idle v1 job groups (see above), and the numbers that name them. */
#define CG_POOL_MAX 64
/*
 * Memory still charged to a finished job's group above which it is not
 * kept: what a job leaves is charge batched per CPU (up to 64 pages each)
 * and slab (0.5-1 MiB after `true` on 2 CPUs); a job that wrote files
 * leaves their page cache.  This, plus 256 KiB a CPU.
 */
#define CG_POOL_RESIDUE_BYTES (2 * 1024 * 1024)
/*
 * How long sb_cgroup_done waits for a finished job's group to empty (then
 * sb_cgroup_destroy waits, up to 2 s).
 */
#define CG_POOL_WAIT_MS 100
/* The idle name: '.' is in no job id (job_id_valid), so no job's group takes it. */
#define CG_IDLE_FMT "cynode-%d.pool-%u"
static struct sb_cgroup cg_pool[CG_POOL_MAX];
static int cg_pool_n;
static unsigned cg_pool_slots;
static pthread_mutex_t cg_pool_lock = PTHREAD_MUTEX_INITIALIZER;

static int
cg_write(const char *dir, const char *file, const char *val)
{
	char path[4096];
	ssize_t n;
	int fd;

	if (cy_snprintf(path, sizeof(path), "%s/%s", dir, file) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n >= 0 && n != (ssize_t)strlen(val))
		errno = EIO;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static char *
cg_read(const char *dir, const char *file)
{
	struct cy_buf b = CY_BUF_INIT;
	char path[4096];

	if (cy_snprintf(path, sizeof(path), "%s/%s", dir, file) < 0 ||
	    cy_buf_read_file(&b, path, 65536) < 0) {
		cy_buf_release(&b);
		return NULL;
	}
	return cy_buf_detach(&b, NULL);
}

/* True when the comma list `list` holds `word`. */
static bool
cg_has_word(const char *list, const char *word, char sep)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, sep);
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == wl && !strncmp(p, word, wl))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* This process's cgroup path for a v1 controller ("" = v2 line), or NULL. */
static char *
cg_self_path(const char *ctl)
{
	char line[1024], *res = NULL;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return NULL;
	while (!res && fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		*b = '\0';
		b[strcspn(b + 1, "\n") + 1] = '\0';
		if ((!*ctl && a[1] == '\0' && !strncmp(line, "0:", 2)) ||
		    (*ctl && cg_has_word(a + 1, ctl, ',')))
			res = xstrdup(b + 1);
	}
	fclose(f);
	return res;
}

/*
 * The directory of this process's cgroup for controller ctl (v1), or of
 * the unified hierarchy (ctl ""), from /proc/self/mountinfo; NULL if none.
 */
static char *
cg_self_dir(const char *ctl)
{
	char line[4096], *res = NULL, *self = cg_self_path(ctl);
	FILE *f;

	if (!self)
		return NULL;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && !res && fgets(line, sizeof(line), f)) {
		char *fld[10] = { 0 }, *sep, *p = line, *fstype, *opts;
		int i;

		for (i = 0; i < 5 && p; i++) {
			fld[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		sep = p ? strstr(p, " - ") : NULL;
		if (i < 5 || !sep)
			continue;
		fstype = sep + 3;
		p = strchr(fstype, ' ');
		if (!p)
			continue;
		*p++ = '\0';
		p = strchr(p, ' '); /* skip the source */
		if (!p)
			continue;
		opts = p + 1;
		opts[strcspn(opts, "\n")] = '\0';
		if (*ctl ? strcmp(fstype, "cgroup") || !cg_has_word(opts, ctl, ',') :
			   strcmp(fstype, "cgroup2"))
			continue;
		/* fld[3] is the mount's root inside the hierarchy, fld[4] where it is. */
		if (!strcmp(fld[3], "/"))
			res = xasprintf("%s%s", fld[4], strcmp(self, "/") ? self : "");
		else if (!strncmp(self, fld[3], strlen(fld[3])))
			res = xasprintf("%s%s", fld[4], self + strlen(fld[3]));
	}
	if (f)
		fclose(f);
	free(self);
	return res;
}

/* cgroup v2: the controllers we need, enabled for children of base. */
static bool
cg_v2_setup(const char *base)
{
	char *ctls = cg_read(base, "cgroup.controllers"), *procs, *leaf;
	int i;

	if (!ctls)
		return false;
	ctls[strcspn(ctls, "\n")] = '\0';
	for (i = 0; i < SB_CG_N; i++)
		if (cg_has_word(ctls, ctl_names[i], ' '))
			cg.mask |= 1u << i;
	free(ctls);
	if (!cg.mask || access(base, W_OK) < 0)
		return false;
	/* No internal processes: move the node into a leaf before enabling. */
	procs = cg_read(base, "cgroup.procs");
	if (procs && *procs) {
		char pid[32];

		leaf = xasprintf("%s/node", base);
		xsnprintf(pid, sizeof(pid), "%d", (int)getpid());
		if ((mkdir(leaf, 0755) < 0 && errno != EEXIST) ||
		    cg_write(leaf, "cgroup.procs", pid) < 0) {
			cy_log_warn("cgroup_v2_unusable", "path", leaf, "error", strerror(errno),
			    NULL);
			free(leaf);
			free(procs);
			return false;
		}
		free(leaf);
	}
	free(procs);
	for (i = 0; i < SB_CG_N; i++) {
		char on[32];

		if (!(cg.mask & (1u << i)))
			continue;
		xsnprintf(on, sizeof(on), "+%s", ctl_names[i]);
		/* EBUSY: another process shares the node's cgroup (no Delegate=yes?). */
		if (cg_write(base, "cgroup.subtree_control", on) < 0) {
			cy_log_warn("cgroup_controller_unavailable", "path", base, "controller",
			    ctl_names[i], "error", strerror(errno), NULL);
			cg.mask &= ~(1u << i);
		}
	}
	return cg.mask != 0;
}

static void
cg_detect(void)
{
	char *dir;
	int i;

	if (geteuid() != 0)
		return;
	dir = cg_self_dir("");
	if (dir && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 && cg_v2_setup(dir)) {
		cg.version = 2;
		cg.base[0] = dir;
		return;
	}
	free(dir);
	cg.mask = 0;
	for (i = 0; i < SB_CG_N; i++) {
		dir = cg_self_dir(ctl_names[i]);
		if (dir && access(dir, W_OK) == 0) {
			cg.base[i] = dir;
			cg.mask |= 1u << i;
		} else {
			free(dir);
		}
	}
	if (cg.mask)
		cg.version = 1;
}

unsigned
sb_cgroup_available(int *version)
{
	pthread_once(&cg_once, cg_detect);
	if (version)
		*version = cg.version;
	return cg.mask;
}

static const char *
cg_dir(const struct sb_cgroup *c, int i)
{
	return c->version == 2 ? c->dir[0] : c->dir[i];
}

/* An empty c: nothing open, nothing named. */
static void
cg_clear(struct sb_cgroup *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < SB_CG_N; i++)
		c->procs_fd[i] = -1;
	c->dir_fd = -1;
}

/* The machine's CPUs, at least 1. */
static long
cg_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? n : 1;
}

/* Takes an idle group from the pool into c; false when there is none. */
static bool
cg_pool_take(struct sb_cgroup *c)
{
	bool got = false;

	pthread_mutex_lock(&cg_pool_lock);
	if (cg_pool_n > 0) {
		*c = cg_pool[--cg_pool_n];
		got = true;
	}
	pthread_mutex_unlock(&cg_pool_lock);
	return got;
}

/* Renames each of c's groups (v1) to `name` in its hierarchy; 0 or -1. */
static int
cg_rename(struct sb_cgroup *c, const char *name)
{
	char *to;
	int i, j;

	for (i = 0; i < SB_CG_N; i++) {
		if (!c->dir[i])
			continue;
		to = xasprintf("%s/%s", cg.base[i], name);
		/* Co-mounted controllers (cpu,cpuacct): one group, renamed once. */
		for (j = 0; j < i; j++)
			if (c->dir[j] && !strcmp(c->dir[j], to))
				break;
		if (j == i && rename(c->dir[i], to) < 0) {
			free(to);
			return -1;
		}
		free(c->dir[i]);
		c->dir[i] = to;
	}
	return 0;
}

/*
 * A v1 memory limit of `bytes` (0: none), and the same for memory and swap
 * (that file is absent without swap accounting): the kernel keeps
 * memsw >= the limit, so a raise writes memsw first and a cut the limit.
 */
static int
cg_memory_limit(struct sb_cgroup *c, long long bytes)
{
	const char *d = c->dir[SB_CG_MEMORY];
	long long was = c->lim[SB_CG_MEMORY];
	char v[32];

	xsnprintf(v, sizeof(v), "%lld", bytes > 0 ? bytes : -1LL);
	if (bytes <= 0 || (was > 0 && bytes > was)) {
		cg_write(d, "memory.memsw.limit_in_bytes", v);
		return cg_write(d, "memory.limit_in_bytes", v);
	}
	if (cg_write(d, "memory.limit_in_bytes", v) < 0)
		return -1;
	cg_write(d, "memory.memsw.limit_in_bytes", v);
	return 0;
}

/* A kept v1 group's limits for the next job: only those that differ are written. */
static int
cg_limits_again(struct sb_cgroup *c, const struct sb_limits *l)
{
	long long want[SB_CG_N] = { 0 };
	char v[32];
	int i;

	if (c->dir[SB_CG_MEMORY] && l->mem_mb > 0)
		want[SB_CG_MEMORY] = l->mem_mb * 1024 * 1024;
	if (c->dir[SB_CG_PIDS] && l->pids > 0)
		want[SB_CG_PIDS] = l->pids;
	if (c->dir[SB_CG_CPU] && l->cpu_milli > 0)
		want[SB_CG_CPU] = l->cpu_milli * 100;
	c->enforced = 0;
	for (i = 0; i < SB_CG_N; i++) {
		if (want[i] > 0)
			c->enforced |= 1u << i;
		if (want[i] == c->lim[i])
			continue;
		if (i == SB_CG_MEMORY) {
			if (cg_memory_limit(c, want[i]) < 0)
				return -1;
		} else if (i == SB_CG_PIDS) {
			if (want[i] > 0)
				xsnprintf(v, sizeof(v), "%lld", want[i]);
			if (cg_write(c->dir[i], "pids.max", want[i] > 0 ? v : "max") < 0)
				return -1;
		} else if (i == SB_CG_CPU) {
			xsnprintf(v, sizeof(v), "%lld", want[i] > 0 ? want[i] : -1LL);
			if (cg_write(c->dir[i], "cpu.cfs_period_us", "100000") < 0 ||
			    cg_write(c->dir[i], "cpu.cfs_quota_us", v) < 0)
				return -1;
		}
		c->lim[i] = want[i];
	}
	return 0;
}

/* Zeroes the counters a kept v1 group's next job reads (sandbox-usage.c). */
static int
cg_reset(struct sb_cgroup *c)
{
	const char *acct = c->dir[SB_CG_CPUACCT] ? c->dir[SB_CG_CPUACCT] : c->dir[SB_CG_CPU];

	/* No such file (cpu without cpuacct): the usage comes from rusage then. */
	if (acct && cg_write(acct, "cpuacct.usage", "0") < 0 && errno != ENOENT)
		return -1;
	if (c->dir[SB_CG_MEMORY] &&
	    cg_write(c->dir[SB_CG_MEMORY], "memory.max_usage_in_bytes", "0") < 0)
		return -1;
	return 0;
}

int
sb_cgroup_create(struct sb_cgroup *c, const char *name, const struct sb_limits *l,
    struct cy_error *err)
{
	char v[64], path[4200];
	int i;

	cg_clear(c);
	sb_cgroup_available(NULL);
	c->version = cg.version;
	if (!cg.version)
		return 0;
	if (cg.version == 1 && cg_pool_take(c)) {
		if (cg_rename(c, name) == 0 && cg_limits_again(c, l) == 0 && cg_reset(c) == 0) {
			cy_log_debug("cgroup_reused", "group", name, NULL);
			return 0;
		}
		/* Not usable after all (renamed away, a write refused): a new one. */
		sb_cgroup_destroy(c);
		cg_clear(c);
		c->version = cg.version;
	}
	for (i = 0; i < SB_CG_N; i++) {
		const char *base = cg.version == 2 ? cg.base[0] : cg.base[i];

		if (!(cg.mask & (1u << i)) || (cg.version == 2 && i > 0))
			continue;
		c->dir[i] = xasprintf("%s/%s", base, name);
		if (mkdir(c->dir[i], 0755) < 0 && errno != EEXIST) {
			cy_error_errno(err, "creating cgroup '%s'", c->dir[i]);
			goto fail;
		}
		/*
		 * v1: the child writes "0" (itself) to `tasks`.  Moving one
		 * thread, the caller itself, is the one move recent kernels
		 * make without their global threadgroup lock, whose write side
		 * waits for an RCU grace period: 6-25 ms per job through
		 * cgroup.procs on the development VM, ~0.1 ms this way (older
		 * kernels take the lock either way).  The forked child has one
		 * thread, so the whole process moves.
		 */
		if (cy_snprintf(path, sizeof(path), "%s/%s", c->dir[i],
			cg.version == 1 ? "tasks" : "cgroup.procs") < 0) {
			cy_error_set(err, ENAMETOOLONG, "cgroup path '%s' is too long", c->dir[i]);
			goto fail;
		}
		c->procs_fd[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (c->procs_fd[i] < 0) {
			cy_error_errno(err, "opening '%s'", path);
			goto fail;
		}
		/* v2: the launcher starts in the group (sandbox-spawn.c); -1 moves it. */
		if (cg.version == 2)
			c->dir_fd = open(c->dir[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if ((cg.mask & (1u << SB_CG_MEMORY)) && l->mem_mb > 0) {
		xsnprintf(v, sizeof(v), "%lld", l->mem_mb * 1024 * 1024);
		if (cg_write(cg_dir(c, SB_CG_MEMORY),
			cg.version == 2 ? "memory.max" : "memory.limit_in_bytes", v) < 0) {
			cy_error_errno(err, "setting the memory limit");
			goto fail;
		}
		/* No swapping around the limit (absent without swap accounting). */
		if (cg.version == 2)
			cg_write(cg_dir(c, SB_CG_MEMORY), "memory.swap.max", "0");
		else
			cg_write(cg_dir(c, SB_CG_MEMORY), "memory.memsw.limit_in_bytes", v);
		c->enforced |= 1u << SB_CG_MEMORY;
	}
	if ((cg.mask & (1u << SB_CG_PIDS)) && l->pids > 0) {
		xsnprintf(v, sizeof(v), "%lld", l->pids);
		if (cg_write(cg_dir(c, SB_CG_PIDS), "pids.max", v) < 0) {
			cy_error_errno(err, "setting the pids limit");
			goto fail;
		}
		c->enforced |= 1u << SB_CG_PIDS;
	}
	if ((cg.mask & (1u << SB_CG_CPU)) && l->cpu_milli > 0) {
		int rc;

		if (cg.version == 2) {
			xsnprintf(v, sizeof(v), "%lld 100000", l->cpu_milli * 100);
			rc = cg_write(cg_dir(c, SB_CG_CPU), "cpu.max", v);
		} else {
			xsnprintf(v, sizeof(v), "%lld", l->cpu_milli * 100);
			rc = cg_write(cg_dir(c, SB_CG_CPU), "cpu.cfs_period_us", "100000");
			if (rc == 0)
				rc = cg_write(cg_dir(c, SB_CG_CPU), "cpu.cfs_quota_us", v);
		}
		if (rc < 0) {
			cy_error_errno(err, "setting the cpu limit");
			goto fail;
		}
		c->enforced |= 1u << SB_CG_CPU;
	}
	if (cg.version == 1) {
		c->lim[SB_CG_MEMORY] =
		    (c->enforced & (1u << SB_CG_MEMORY)) ? l->mem_mb * 1024 * 1024 : 0;
		c->lim[SB_CG_PIDS] = (c->enforced & (1u << SB_CG_PIDS)) ? l->pids : 0;
		c->lim[SB_CG_CPU] = (c->enforced & (1u << SB_CG_CPU)) ? l->cpu_milli * 100 : 0;
		pthread_mutex_lock(&cg_pool_lock);
		c->slot = ++cg_pool_slots;
		pthread_mutex_unlock(&cg_pool_lock);
	}
	return 0;
fail:
	sb_cgroup_destroy(c);
	return -1;
}

void
sb_cgroup_enter(const struct sb_cgroup *c)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long pid = c->version == 1 ? 0 : (unsigned long)getpid();
	int i;

	/*
	 * Runs in the spawned child, maybe a vfork: a raw write, not glibc's
	 * (its cancellation bookkeeping is the suspended thread's).  v1: "0",
	 * see above.
	 */
	do {
		*--p = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid);
	for (i = 0; i < SB_CG_N; i++) {
		if (c->procs_fd[i] >= 0 &&
		    syscall(SYS_write, c->procs_fd[i], p, (size_t)(buf + sizeof(buf) - p)) < 0)
			_exit(127);
	}
}

/*
 * SIGKILLs every process listed in one cgroup directory's `file`
 * (cgroup.procs, or v1's tasks: every thread); how many it found, or -1
 * when the file cannot be read.
 */
static int
cg_kill_procs(const char *dir, const char *file)
{
	char *procs = cg_read(dir, file), *p, *e;
	int n = 0;

	if (!procs)
		return -1;
	for (p = procs; *p; p = e) {
		long pid = strtol(p, &e, 10);

		if (e == p)
			break;
		if (pid > 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
		while (*e == '\n')
			e++;
	}
	free(procs);
	return n;
}

/*
 * On v1 every hierarchy holds the same processes: the launcher joined each
 * before it started bwrap (or exited), and nothing in the sandbox can move
 * a process (no cgroup file system there), so one list names them all.
 */
void
sb_cgroup_kill(const struct sb_cgroup *c)
{
	int i;

	for (i = 0; i < SB_CG_N; i++) {
		if (!c->dir[i])
			continue;
		if (c->version == 2 && cg_write(c->dir[i], "cgroup.kill", "1") == 0)
			continue;
		cg_kill_procs(c->dir[i], "cgroup.procs");
		if (c->version == 1)
			break;
	}
}

/* The number after `key ` in a "key value" lines file, or -1 (no file, no such line). */
static long long
cg_counter_read(const char *dir, const char *file, const char *key)
{
	char *s = dir ? cg_read(dir, file) : NULL, *p;
	size_t kl = strlen(key);
	long long v = -1;

	for (p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			v = strtoll(p + kl + 1, NULL, 10);
			break;
		}
	}
	free(s);
	return v;
}

/* The same, 0 when it cannot be read. */
static long long
cg_counter(const char *dir, const char *file, const char *key)
{
	long long v = cg_counter_read(dir, file, key);

	return v > 0 ? v : 0;
}

bool
sb_cgroup_oom(const struct sb_cgroup *c)
{
	const char *d = cg_dir(c, SB_CG_MEMORY);

	if (!(c->enforced & (1u << SB_CG_MEMORY)))
		return false;
	if (c->version == 2)
		return cg_counter(d, "memory.events", "oom_kill") > 0 ||
		       cg_counter(d, "memory.events", "oom") > 0;
	return cg_counter(d, "memory.oom_control", "oom_kill") > 0;
}

bool
sb_cgroup_pids_hit(const struct sb_cgroup *c)
{
	if (!(c->enforced & (1u << SB_CG_PIDS)))
		return false;
	return cg_counter(cg_dir(c, SB_CG_PIDS), "pids.events", "max") > 0;
}

void
sb_cgroup_destroy(struct sb_cgroup *c)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int i, tries;

	for (i = 0; i < SB_CG_N; i++) {
		if (c->procs_fd[i] >= 0)
			close(c->procs_fd[i]);
		c->procs_fd[i] = -1;
	}
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	c->dir_fd = -1;
	for (i = 0; i < SB_CG_N; i++) {
		if (!c->dir[i])
			continue;
		/* Empty it (a process may still be dying), then remove it. */
		for (tries = 0; tries < 400; tries++) {
			if (rmdir(c->dir[i]) == 0 || errno == ENOENT)
				break;
			if (c->version == 2)
				cg_write(c->dir[i], "cgroup.kill", "1");
			else
				cg_kill_procs(c->dir[i], "cgroup.procs");
			nanosleep(&ts, NULL);
		}
		if (tries == 400)
			cy_log_warn("cgroup_not_removed", "path", c->dir[i], NULL);
		free(c->dir[i]);
		c->dir[i] = NULL;
	}
}

/*
 * Whether a v1 job group is empty within CG_POOL_WAIT_MS: bwrap exits
 * with its command's status while its own PID 1 in the sandbox may still
 * be on its way out (tearing the sandbox's namespaces down); what is left
 * is SIGKILLed again at each look.
 */
static bool
cg_emptied(const struct sb_cgroup *c)
{
	struct timespec ts = { 0, 500 * 1000 };
	const char *d = NULL;
	int i, n, tries;

	for (i = 0; i < SB_CG_N && !d; i++)
		d = c->dir[i];
	for (tries = 0; d && tries <= CG_POOL_WAIT_MS * 2; tries++) {
		n = cg_kill_procs(d, "tasks");
		if (n == 0)
			return true;
		if (n < 0)
			return false;
		nanosleep(&ts, NULL);
	}
	return !d;
}

/*
 * Whether a v1 group's OOM-kill and fork-refusal counters are 0, read
 * whatever limits the job had: an OOM or a pids limit above the job's
 * groups (the node's own group, the whole machine) counts there too, and
 * the next job would read it as its own.  False when one cannot be read.
 */
static bool
cg_counters_clear(const struct sb_cgroup *c)
{
	if (c->dir[SB_CG_MEMORY] &&
	    cg_counter_read(c->dir[SB_CG_MEMORY], "memory.oom_control", "oom_kill") != 0)
		return false;
	if (c->dir[SB_CG_PIDS] && cg_counter_read(c->dir[SB_CG_PIDS], "pids.events", "max") != 0)
		return false;
	return true;
}

/* The memory still charged to a v1 job group once its job ended, or -1. */
static long long
cg_memory_left(const struct sb_cgroup *c)
{
	char *s = cg_read(c->dir[SB_CG_MEMORY], "memory.usage_in_bytes");
	long long v = s ? strtoll(s, NULL, 10) : -1;

	free(s);
	return v;
}

void
sb_cgroup_done(struct sb_cgroup *c, bool reusable)
{
	const char *why = NULL;
	char name[64];
	long long left;
	bool kept = false;

	if (c->version != 1)
		goto destroy;
	why = "the job was stopped or hit a limit";
	if (!reusable)
		goto destroy;
	why = "not empty";
	if (!cg_emptied(c))
		goto destroy;
	why = "a limit was hit";
	if (!cg_counters_clear(c))
		goto destroy;
	/* Memory still charged (files the job wrote) would count against the next job. */
	why = "memory still charged";
	left = c->dir[SB_CG_MEMORY] ? cg_memory_left(c) : 0;
	if (left < 0 || left > CG_POOL_RESIDUE_BYTES + 256 * 1024 * cg_cpus())
		goto destroy;
	why = "rename failed";
	xsnprintf(name, sizeof(name), CG_IDLE_FMT, (int)getpid(), c->slot);
	if (cg_rename(c, name) < 0)
		goto destroy;
	pthread_mutex_lock(&cg_pool_lock);
	if (cg_pool_n < CG_POOL_MAX) {
		cg_pool[cg_pool_n++] = *c;
		kept = true;
	}
	pthread_mutex_unlock(&cg_pool_lock);
	if (kept) {
		cy_log_debug("cgroup_kept", "group", name, NULL);
		cg_clear(c);
		return;
	}
	why = "the pool is full";
destroy:
	if (why && c->dir[0])
		cy_log_debug("cgroup_not_kept", "group", c->dir[0], "reason", why, NULL);
	sb_cgroup_destroy(c);
}

void
sb_cgroup_pool_drain(void)
{
	struct sb_cgroup c;

	while (cg_pool_take(&c))
		sb_cgroup_destroy(&c);
}

/* Whether this process has made no job group yet (so it keeps none idle). */
static bool
cg_pool_unused(void)
{
	bool unused;

	pthread_mutex_lock(&cg_pool_lock);
	unused = cg_pool_slots == 0;
	pthread_mutex_unlock(&cg_pool_lock);
	return unused;
}

/*
 * Job groups left by a node process that died (kill -9, a crash): its
 * sandboxes died with it (--die-with-parent), but their empty groups stay,
 * named cynode-PID-JOB, and its idle ones cynode-PID.pool-N.  Removes those
 * whose PID is gone, and idle ones named with this process's PID before it
 * has made any (an earlier node had the PID); a group that still holds
 * processes, or whose PID lives (another node, or the PID reused), is left
 * alone.
 */
int
sb_cgroup_sweep(void)
{
	int i, removed = 0;

	sb_cgroup_available(NULL);
	for (i = 0; i < SB_CG_N; i++) {
		const char *base = cg.version == 2 ? cg.base[0] : cg.base[i];
		struct dirent *de;
		DIR *d;

		if (!base || (cg.version == 2 && i > 0) || !(d = opendir(base)))
			continue;
		while ((de = readdir(d)) != NULL) {
			char *path;
			int pid, end = 0;

			if (sscanf(de->d_name, "cynode-%d%n", &pid, &end) != 1 || end == 0 ||
			    (de->d_name[end] != '-' && de->d_name[end] != '.') || pid <= 0)
				continue;
			if (pid == (int)getpid()) {
				/* Idle groups of an earlier node that had this pid (a restart in a
				 * container). */
				if (de->d_name[end] != '.' || !cg_pool_unused())
					continue;
			} else if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
				continue;
			}
			path = xasprintf("%s/%s", base, de->d_name);
			if (rmdir(path) == 0) {
				removed++;
			} else if (errno != ENOENT) { /* co-mounted controllers */
				cy_log_warn("cgroup_stale_kept", "path", path, "error",
				    strerror(errno), NULL);
			}
			free(path);
		}
		closedir(d);
	}
	if (removed > 0) {
		char n[16];

		xsnprintf(n, sizeof(n), "%d", removed);
		cy_log_info("cgroup_stale_removed", "count", n, NULL);
	}
	return removed;
}
