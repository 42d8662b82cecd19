/* wakeprobe.c - see wakeprobe.h. */
#include "sim/drill/wakeprobe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "tsa.h"
#include "xmem.h"

struct wakeprobe {
	pthread_t thread, echo;
	bool echo_started;
	int fd[2]; /* [0] the probe's end, [1] the echo's */
	atomic_bool stop;
	unsigned period_us;
	tsa_mutex mu;
	hist late, rtt; /* under mu */
};

static struct timespec us_ts(uint64_t us)
{
	return (struct timespec){.tv_sec = (time_t)(us / 1000000u),
	                         .tv_nsec = (long)(us % 1000000u) * 1000};
}

/* Sends back every byte until the other end shuts down; on its way out
 * it shuts its own end, so a probe waiting for an echo is never left
 * waiting. */
static void *echo_main(void *arg)
{
	wakeprobe *p = arg;
	char b;
	for (;;) {
		ssize_t n = read(p->fd[1], &b, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			break;
		while ((n = send(p->fd[1], &b, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			;
		if (n != 1)
			break;
	}
	shutdown(p->fd[1], SHUT_RDWR);
	return NULL;
}

/* One round trip to the echo thread, in us; 0 when the socket failed. */
static uint64_t echo_once(wakeprobe *p)
{
	char b = 1;
	uint64_t t0 = clock_mono_us();
	if (send(p->fd[0], &b, 1, MSG_NOSIGNAL) != 1)
		return 0;
	ssize_t n;
	while ((n = read(p->fd[0], &b, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? clock_mono_us() - t0 : 0;
}

static void *probe_main(void *arg)
{
	wakeprobe *p = arg;
	uint64_t due = clock_mono_us() + p->period_us;
	while (!atomic_load(&p->stop)) {
		struct timespec d = us_ts(due);
		int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
		if (rc == EINTR)
			continue;
		uint64_t now = clock_mono_us();
		uint64_t rtt = echo_once(p);
		tsa_lock(&p->mu);
		hist_add(&p->late, now > due ? now - due : 0);
		if (rtt)
			hist_add(&p->rtt, rtt);
		tsa_unlock(&p->mu);
		/* A wake-up later than a whole period plans from now: a stall
		 * counts once, not once for every deadline it swallowed. */
		now = clock_mono_us();
		due = due + p->period_us > now ? due + p->period_us : now + p->period_us;
	}
	return NULL;
}

static void free_probe(wakeprobe *p)
{
	if (p->fd[0] >= 0)
		shutdown(p->fd[0], SHUT_RDWR); /* the echo thread reads the end of it */
	if (p->echo_started)
		pthread_join(p->echo, NULL);
	if (p->fd[0] >= 0)
		close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

wakeprobe *wakeprobe_start(unsigned period_us)
{
	wakeprobe *p = xcalloc(1, sizeof *p);
	p->period_us = period_us ? period_us : 1;
	p->fd[0] = p->fd[1] = -1;
	pthread_mutex_init(&p->mu, NULL);
	hist_init(&p->late);
	hist_init(&p->rtt);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) != 0) {
		log_error("wake-up probe: socketpair failed", "err=\"%s\"", strerror(errno));
		p->fd[0] = p->fd[1] = -1;
		free_probe(p);
		return NULL;
	}
	int rc = pthread_create(&p->echo, NULL, echo_main, p);
	if (rc == 0) {
		p->echo_started = true;
		rc = pthread_create(&p->thread, NULL, probe_main, p);
	}
	if (rc) {
		log_error("wake-up probe thread failed", "err=\"%s\"", strerror(rc));
		free_probe(p);
		return NULL;
	}
	return p;
}

void wakeprobe_take(wakeprobe *p, hist *late, hist *echo)
{
	tsa_lock(&p->mu);
	if (late)
		*late = p->late;
	if (echo)
		*echo = p->rtt;
	hist_init(&p->late);
	hist_init(&p->rtt);
	tsa_unlock(&p->mu);
}

void wakeprobe_stop(wakeprobe *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	/* A probe waiting for an echo reads the end of the stream. */
	shutdown(p->fd[0], SHUT_RDWR);
	pthread_join(p->thread, NULL);
	free_probe(p);
}
