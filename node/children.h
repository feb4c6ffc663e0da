/*
 * The node's children: those it starts and waits for itself, and the
 * orphans it adopts as the subreaper of its sandboxes (children.c).
 */
#ifndef CYNODE_NODE_CHILDREN_H
#define CYNODE_NODE_CHILDREN_H

#include <sys/types.h>

/* pid was just started and its starter will wait for it: no sweep reaps it. */
void node_child_own(pid_t pid);
/* Its starter has waited for pid (or given up on it). */
void node_child_done(pid_t pid);
/* Whether pid is one the node started and waits for itself. */
int node_child_owned(pid_t pid);
/*
 * Reaps the adopted orphans among the node's children that are zombies and
 * were zombies at the previous call too (so a child just started, not yet
 * owned, is never taken).  Returns how many it reaped.
 */
int node_children_sweep(void);

#endif
