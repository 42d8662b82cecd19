/* wakemem.c - does a sleeping thread wake later on this machine when
 * other processes touch more memory? (make bench-wakemem; issue 39 in
 * docs/performance.md.)
 *
 * The soak's clients' p99 follows the machine's own wake-up floor (sim's
 * wakeprobe: a bare thread's timer lateness and an echo between two
 * threads), and that floor rises over a run while the CPU the daemons
 * use stays flat and their memory grows. This isolates the memory: N
 * "touchers" (child processes) each wake every millisecond and write
 * one byte in each of `touches` random pages of a heap whose size goes
 * from mb0 to mb1 MB between ramp0 and ramp1 seconds, while a probe
 * thread in the parent sleeps to a deadline every millisecond (how late
 * it wakes) and then echoes a byte through a socket pair to a thread of
 * its own (two wake-ups by a socket, as a request and its answer have).
 * Every window of `window_s` seconds it prints the heap size and the
 * p50/p99/p99.9 of both. With huge=1 the touchers ask for transparent
 * huge pages on their heap (MADV_HUGEPAGE).
 *
 * It uses no project code on purpose: what it shows is the machine's.
 *
 *   wakemem touchers mb0 mb1 ramp0 ramp1 total_s touches huge window_s
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 1000000ull /* the probe's and each toucher's tick */
#define SAMPLES_MAX 200000   /* per window: 200 s of ticks */
#define PAGE 4096

typedef struct plan {
	int touchers;
	double mb0, mb1, ramp0, ramp1, total_s;
	int touches;
	bool huge;
	double window_s;
} plan;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
	struct timespec t = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* The heap size (MB) the plan gives at t seconds. */
static double mb_at(const plan *p, double t)
{
	if (t <= p->ramp0 || p->ramp1 <= p->ramp0)
		return t <= p->ramp0 ? p->mb0 : p->mb1;
	if (t >= p->ramp1)
		return p->mb1;
	return p->mb0 + (p->mb1 - p->mb0) * (t - p->ramp0) / (p->ramp1 - p->ramp0);
}

/* A toucher: never returns. */
static void toucher(const plan *p, unsigned id)
{
	size_t cap = (size_t)(p->mb1 > p->mb0 ? p->mb1 : p->mb0) * 1048576;
	char *heap = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED) {
		perror("wakemem: mmap");
		_exit(1);
	}
	if (p->huge && madvise(heap, cap, MADV_HUGEPAGE) != 0)
		perror("wakemem: madvise(MADV_HUGEPAGE)");
	unsigned seed = id * 7919u + 1;
	size_t faulted = 0;
	uint64_t start = now_ns(), next = start;
	for (;;) {
		double t = (double)(now_ns() - start) / 1e9;
		if (t > p->total_s)
			_exit(0);
		size_t want = (size_t)(mb_at(p, t) * 1048576);
		for (; faulted < want && faulted < cap; faulted += PAGE)
			heap[faulted] = 1;
		size_t pages = faulted / PAGE ? faulted / PAGE : 1;
		for (int i = 0; i < p->touches; i++)
			heap[(size_t)rand_r(&seed) % pages * PAGE]++;
		next += PERIOD_NS;
		sleep_until(next);
	}
}

static int sv[2];

static void *echo(void *arg)
{
	(void)arg;
	char c;
	while (read(sv[1], &c, 1) == 1)
		if (write(sv[1], &c, 1) != 1)
			break;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct_us(uint64_t *v, size_t n, double q)
{
	return n ? (double)v[(size_t)((double)(n - 1) * q)] / 1e3 : 0;
}

static bool parse(int argc, char **argv, plan *p)
{
	if (argc != 11)
		return false;
	p->touchers = atoi(argv[1]);
	p->mb0 = atof(argv[2]);
	p->mb1 = atof(argv[3]);
	p->ramp0 = atof(argv[4]);
	p->ramp1 = atof(argv[5]);
	p->total_s = atof(argv[6]);
	p->touches = atoi(argv[7]);
	p->huge = atoi(argv[8]) != 0;
	p->window_s = atof(argv[9]);
	return p->touchers >= 0 && p->touchers <= 64 && p->mb0 >= 0 && p->mb1 >= 0 &&
	       p->total_s > 0 && p->touches >= 0 && p->window_s >= 1 && p->window_s <= 200;
}

int main(int argc, char **argv)
{
	plan p;
	/* The tenth argument is the label printed on every line. */
	if (!parse(argc, argv, &p)) {
		fprintf(stderr, "usage: wakemem touchers mb0 mb1 ramp0_s ramp1_s total_s "
		                "touches huge window_s label\n");
		return 2;
	}
	const char *label = argv[10];
	pid_t kids[64];
	for (int i = 0; i < p.touchers; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("wakemem: fork");
			return 1;
		}
		if (kids[i] == 0)
			toucher(&p, (unsigned)i);
	}
	pthread_t th;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    pthread_create(&th, NULL, echo, NULL) != 0) {
		perror("wakemem: echo thread");
		return 1;
	}
	uint64_t *late = calloc(SAMPLES_MAX, sizeof *late);
	uint64_t *trip = calloc(SAMPLES_MAX, sizeof *trip);
	if (!late || !trip)
		return 1;
	uint64_t start = now_ns(), next = start;
	int rc = 0;
	while ((double)(now_ns() - start) / 1e9 < p.total_s && rc == 0) {
		size_t n = 0;
		uint64_t end = now_ns() + (uint64_t)(p.window_s * 1e9);
		while (now_ns() < end && n < SAMPLES_MAX) {
			next += PERIOD_NS;
			sleep_until(next);
			uint64_t woke = now_ns();
			late[n] = woke > next ? woke - next : 0;
			char c = 'x';
			if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) {
				rc = 1;
				break;
			}
			trip[n++] = now_ns() - woke;
			if (now_ns() > next + PERIOD_NS)
				next = now_ns(); /* no burst to catch up */
		}
		qsort(late, n, sizeof *late, cmp_u64);
		qsort(trip, n, sizeof *trip, cmp_u64);
		double t = (double)(now_ns() - start) / 1e9;
		printf("%s t_s=%.0f heap_mb=%.0f wake_p50_us=%.0f wake_p99_us=%.0f "
		       "wake_p999_us=%.0f echo_p50_us=%.0f echo_p99_us=%.0f echo_p999_us=%.0f\n",
		       label, t, mb_at(&p, t), pct_us(late, n, 0.5), pct_us(late, n, 0.99),
		       pct_us(late, n, 0.999), pct_us(trip, n, 0.5), pct_us(trip, n, 0.99),
		       pct_us(trip, n, 0.999));
		fflush(stdout);
	}
	for (int i = 0; i < p.touchers; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	free(late);
	free(trip);
	return rc;
}
