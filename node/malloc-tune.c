/*
 * The daemon's allocator settings that only exist as glibc tunables, read
 * once when a program starts: the daemon sets GLIBC_TUNABLES and execs
 * itself once (same pid, same argv), and the new image puts the
 * environment back as it found it, so bwrap, podman and a started Ollama
 * inherit what the operator gave the node, not this.
 *
 * Why: every thread keeps a cache (tcache) of up to seven freed blocks of
 * each small size, outside malloc_trim()'s reach.  After a burst of jobs
 * the long-lived threads' caches (the result sync, the heartbeat, the
 * Worker API's listener) held some 450 blocks scattered over a 1.1 MiB
 * heap, and the free space between them could not go back to the system:
 * the idle heap stayed 850-880 KiB resident against 330 KiB without the
 * caches.  glibc also keeps exited threads' stacks for reuse (24 KiB
 * resident each after a burst of Worker API connections).  Both are off
 * in the daemon; an operator who sets either tunable keeps theirs and no
 * exec happens.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "alloc.h"
#include "node.h"
#include "banned.h"

#define TUNE_SETTINGS "glibc.malloc.tcache_count=0:glibc.pthread.stack_cache_size=0"
/* What GLIBC_TUNABLES was before the exec: "=" VALUE, or "-" when unset. */
#define TUNE_SAVED_ENV "CYNODE_NODE_TUNABLES_SAVED"

static const char *tune_applied = "glibc defaults";

static bool
operator_set(const char *cur)
{
	return cur && (strstr(cur, "glibc.malloc.tcache_count") ||
			  strstr(cur, "glibc.pthread.stack_cache_size"));
}

/*
 * Execs this program again.  By its path, so the process keeps its name
 * (ps, pgrep and systemd show the file's name; "/proc/self/exe" would name
 * it "exe"); by /proc/self/exe when the file was replaced since it
 * started.  Returns only on failure.
 */
static void
self_exec(char **argv)
{
	static const char deleted[] = " (deleted)";
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	/* A path as long as the buffer may have been cut: not exec'd. */
	if (n > 0 && n < (ssize_t)sizeof(path) - 1) {
		path[n] = '\0';
		if ((size_t)n < sizeof(deleted) - 1 ||
		    strcmp(path + n - (sizeof(deleted) - 1), deleted) != 0)
			execv(path, argv);
	}
	execv("/proc/self/exe", argv);
}

void
node_malloc_tune(char **argv)
{
	const char *cur = getenv("GLIBC_TUNABLES");
	const char *saved = getenv(TUNE_SAVED_ENV);
	char *keep, *val;

	if (saved) {
		/* The image the exec below started: tuned, the environment back. */
		if (cur && strstr(cur, TUNE_SETTINGS))
			tune_applied = TUNE_SETTINGS;
		if (saved[0] == '=')
			setenv("GLIBC_TUNABLES", saved + 1, 1);
		else
			unsetenv("GLIBC_TUNABLES");
		unsetenv(TUNE_SAVED_ENV);
		return;
	}
	if (operator_set(cur)) {
		tune_applied = "the operator's GLIBC_TUNABLES";
		return;
	}
	/*
	 * Started as `ld.so cynode-node ...`: /proc/self/exe is the loader,
	 * which has no interpreter of its own (AT_BASE 0); no exec then.
	 */
	if (getauxval(AT_BASE) == 0)
		return;
	keep = cur ? xasprintf("=%s", cur) : xstrdup("-");
	val = cur && cur[0] ? xasprintf("%s:%s", cur, TUNE_SETTINGS) : xstrdup(TUNE_SETTINGS);
	if (setenv(TUNE_SAVED_ENV, keep, 1) == 0 && setenv("GLIBC_TUNABLES", val, 1) == 0)
		self_exec(argv);
	/* No exec (no /proc, say): run with glibc's defaults. */
	if (keep[0] == '=')
		setenv("GLIBC_TUNABLES", keep + 1, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	unsetenv(TUNE_SAVED_ENV);
	free(keep);
	free(val);
}

const char *
node_malloc_tuned(void)
{
	return tune_applied;
}
