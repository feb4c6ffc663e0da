/*
 * Disk limits of a job and of the node: the size of each job's /workspace,
 * enforced by the kernel, and the free space the node keeps under its state
 * directory before it takes a job.
 *
 * /workspace lives on the host (attachments are placed in it before the job
 * and artifacts collected from it after), so the limit must hold there, not
 * only inside the sandbox's mount namespace.  The node (as root, or with
 * CAP_SYS_ADMIN) mounts a tmpfs of the job's size on
 * <mount_root>/<job_id>/workspace before the job and unmounts it after the
 * executor is done with it; a write past the size fails inside the job with
 * ENOSPC and touches nothing of the node's.  The other kernel-enforced
 * options were weighed: project quotas need the state directory's file
 * system mounted with prjquota (ext4 also needs the project feature set
 * while unmounted), which the node cannot arrange, and answer EDQUOT on
 * ext4; a loop-mounted ext4 image costs an mkfs, a loop device and a mount
 * per job (tens of milliseconds against a sandbox start of a few).  tmpfs
 * costs one mount(2).  Its pages are memory: the pages a job writes are
 * charged to the job's memory cgroup, so the job's memory limit bounds what
 * it keeps in /workspace and /tmp together with what it allocates (past it
 * the job is killed as out of memory, not the node), and the host needs
 * RAM or swap for max_concurrency full workspaces.
 *
 * When the node cannot mount (not root: an unprivileged bwrap node), the
 * workspace is not limited by the kernel (only RLIMIT_FSIZE bounds each
 * file).  That is never silent: the startup log says so, the capability
 * report carries sandbox.workspace_quota {enforced: false, reason} and the
 * condition workspace_quota_unenforced, and a job that asks for a
 * workspace size is refused.  sandbox.workspace_quota: tmpfs makes the
 * node refuse to run sandboxes instead; none turns the limit off (and is
 * reported the same way).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "node.h"
#include "banned.h"

#define MiB (1024LL * 1024)

/* How /workspace is limited on this node, decided once by the probe. */
static struct {
	bool enforced;
	char reason[256]; /* why not, when not */
} wsq = { .enforced = false, .reason = "not probed" };

/* tmpfs options for a workspace of mb MiB owned by uid: one inode per 4 KiB, at least 1024. */
static char *
ws_options(long long mb, bool root)
{
	long long inodes = mb * 256 < 1024 ? 1024 : mb * 256;

	if (root)
		return xasprintf("size=%lldm,nr_inodes=%lld,mode=0700,uid=%d,gid=%d", mb, inodes,
		    NODE_SANDBOX_UID, NODE_SANDBOX_UID);
	return xasprintf("size=%lldm,nr_inodes=%lld,mode=0700", mb, inodes);
}

int
node_ws_quota_mount(const char *ws, long long mb, struct cy_error *err)
{
	char *opts = ws_options(mb, geteuid() == 0);
	int rc = 0;

	if (mount("tmpfs", ws, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		rc = cy_error_errno(err, "mounting the %lld MB workspace tmpfs on '%s'", mb, ws);
	free(opts);
	return rc;
}

void
node_ws_quota_unmount(const char *ws)
{
	/* EINVAL: nothing is mounted there (an unlimited or an older workspace). */
	if (umount2(ws, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && errno != EPERM)
		cy_log_warn("workspace_unmount_failed", "path", ws, "error", strerror(errno), NULL);
}

struct sweep {
	char root[PATH_MAX];
	size_t rl;
};

static int
sweep_fn(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct sweep *s = arg;
	const char *slash;

	(void)root;
	if (strcmp(fstype, "tmpfs") || strncmp(mp, s->root, s->rl) || mp[s->rl] != '/')
		return 0;
	slash = strchr(mp + s->rl + 1, '/');
	if (!slash || strcmp(slash, "/workspace"))
		return 0;
	if (umount2(mp, MNT_DETACH) == 0)
		cy_log_info("workspace_unmounted", "path", mp, "reason",
		    "left by a node that stopped", NULL);
	return 0;
}

void
node_ws_quota_sweep(const char *mount_root)
{
	struct sweep s;

	if (!realpath(mount_root, s.root))
		return;
	s.rl = strlen(s.root);
	(void)node_mountinfo_each(sweep_fn, &s);
}

/* Can this process mount a size-limited tmpfs under mount_root? */
static int
ws_try_mount(const char *mount_root, struct cy_error *err)
{
	char *dir = xasprintf("%s/.workspace-probe", mount_root);
	int rc = 0;

	(void)rmdir(dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = cy_error_errno(err, "cannot create '%s'", dir);
	} else if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0) {
		rc = cy_error_errno(err,
		    "cannot mount a tmpfs on job workspaces (needs root or CAP_SYS_ADMIN)");
	} else {
		(void)umount2(dir, MNT_DETACH);
	}
	(void)rmdir(dir);
	free(dir);
	return rc;
}

int
node_ws_quota_probe(const struct node_config *c, struct cy_error *err)
{
	struct cy_error merr = CY_ERROR_INIT;

	wsq.enforced = false;
	if (!strcmp(c->ws_quota, "none")) {
		xsnprintf(wsq.reason, sizeof(wsq.reason),
		    "turned off (sandbox.workspace_quota: none)");
	} else if (c->res_workspace == 0) {
		xsnprintf(wsq.reason, sizeof(wsq.reason),
		    "turned off (sandbox.resources.max_workspace_mb: 0)");
	} else {
		if (ws_try_mount(c->mount_root, &merr) == 0) {
			wsq.enforced = true;
			wsq.reason[0] = '\0';
			return 0;
		}
		cy_snprintf_clip(wsq.reason, sizeof(wsq.reason), "%s", merr.msg);
		if (!strcmp(c->ws_quota, "tmpfs"))
			return cy_error_set(err, EPERM, "sandbox.workspace_quota is tmpfs: %s",
			    merr.msg);
	}
	if (!wsq.enforced)
		cy_log_warn("workspace_quota_unenforced", "reason", wsq.reason, "note",
		    "job workspaces are not size-limited on this node", NULL);
	return 0;
}

bool
node_ws_quota_enforced(void)
{
	return wsq.enforced;
}

const char *
node_ws_quota_reason(void)
{
	return wsq.reason;
}

json_t *
node_ws_quota_json(const struct node_config *c)
{
	json_t *o = json_pack("{s:b, s:s, s:I, s:I}", "enforced", wsq.enforced, "method",
	    wsq.enforced ? "tmpfs" : "none", "max_workspace_mb", (json_int_t)c->res_workspace,
	    "max_tmp_mb", (json_int_t)c->res_tmp);

	if (!wsq.enforced)
		json_object_set_new(o, "reason", json_string(wsq.reason));
	return o;
}

/* Free MiB for unprivileged users of the file system holding path; -1 when unknown. */
static long long
free_mb(const char *path)
{
	struct statvfs vs;

	if (statvfs(path, &vs) < 0)
		return -1;
	return (long long)((unsigned long long)vs.f_bavail * vs.f_frsize / MiB);
}

/* The first of the state dir and the mount root with less than min_free_mb free, or NULL. */
static const char *
disk_low(const struct node_config *c, long long *have)
{
	const char *paths[] = { c->state_dir, c->mount_root };
	size_t i;

	if (c->min_free_mb <= 0)
		return NULL;
	for (i = 0; i < 2; i++) {
		*have = free_mb(paths[i]);
		if (*have >= 0 && *have < c->min_free_mb)
			return paths[i];
	}
	return NULL;
}

int
node_disk_check(const struct node_config *c, struct cy_buf *d)
{
	long long have;
	const char *p = disk_low(c, &have);
	char num[32];

	if (!p)
		return 0;
	xsnprintf(num, sizeof(num), "%lld", have);
	cy_log_warn("job_refused_disk_low", "path", p, "free_mb", num, NULL);
	return job_refuse(d,
	    "node disk low: '%s' has %lld MB free, below storage.min_free_mb (%lld MB); the job "
	    "was not started and will be retried",
	    p, have, c->min_free_mb);
}

json_t *
node_conditions(const struct node_config *c)
{
	json_t *a = json_array();
	long long have;
	const char *p = disk_low(c, &have);
	char *msg;

	/* Messages stay the same while a condition lasts (the report's hash). */
	if (p) {
		msg = xasprintf("'%s' has less than storage.min_free_mb (%lld MB) free: jobs are "
				"refused",
		    p, c->min_free_mb);
		json_array_append_new(a,
		    json_pack("{s:s, s:s}", "type", "disk_low", "message", msg));
		free(msg);
	}
	if (!wsq.enforced)
		json_array_append_new(a, json_pack("{s:s, s:s}", "type",
					     "workspace_quota_unenforced", "message", wsq.reason));
	return a;
}
