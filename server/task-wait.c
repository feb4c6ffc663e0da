/*
 * A generation counter under a mutex and a condition variable: the long
 * poll's wake-up signal for terminal task states stored by this process.
 */
#include <pthread.h>
#include <time.h>

#include "task-wait.h"
#include "banned.h"

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static pthread_once_t wait_once = PTHREAD_ONCE_INIT;
static unsigned long wait_gen;

/* The condition variable waits on CLOCK_MONOTONIC. */
static void wait_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wait_cond, &a);
	pthread_condattr_destroy(&a);
}

void task_wait_broadcast(void)
{
	pthread_once(&wait_once, wait_init);
	pthread_mutex_lock(&wait_lock);
	wait_gen++;
	pthread_cond_broadcast(&wait_cond);
	pthread_mutex_unlock(&wait_lock);
}

unsigned long task_wait_generation(void)
{
	unsigned long g;

	pthread_mutex_lock(&wait_lock);
	g = wait_gen;
	pthread_mutex_unlock(&wait_lock);
	return g;
}

void task_wait_for(unsigned long gen, long ms)
{
	struct timespec ts;

	pthread_once(&wait_once, wait_init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wait_lock);
	while (wait_gen == gen) {
		if (pthread_cond_timedwait(&wait_cond, &wait_lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&wait_lock);
}
