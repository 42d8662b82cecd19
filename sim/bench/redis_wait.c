/* redis_wait.c - the like a team could build on Redis with a replica
 * instead of the edge (issue 69, `bench.sh peers`), as a load generator:
 * each like is EVALSHA of the bench's like script (SADD the user to the
 * item's set, INCR the item's count when the user is new; the script is
 * loaded beforehand and named by its SHA) followed by `WAIT 1 0`, which
 * a script cannot call; a like is done when its WAIT answers that at
 * least one replica has every write before it. That is Redis's way to
 * not lose an acknowledged write on failover.
 *
 * C connections, each with up to D likes in flight (h2load's streams per
 * connection); connection k likes the items post:c0.. post:c<items-1>
 * in turn as user <user>k, as bench.sh's h2load processes do. A like's
 * WAIT goes out when its EVALSHA answers (as an application that awaits
 * each call sends it); --wait-at send pipelines it right behind the
 * EVALSHA instead. Redis runs a connection's commands in order and a
 * blocked WAIT holds the ones behind it, so there every like waits for
 * its own replica round trip; at answer the WAITs of likes that went
 * out together find the replica's acknowledgement already covering
 * them.
 *
 * Without --rate every connection keeps D likes in flight until all are
 * done (the peak); with --rate R likes start at R a second in all, in
 * ticks of --tick-ms, as many as are due and have a free slot (h2load
 * --rps paces so). Each like is timed from when its EVALSHA went out to
 * its WAIT's answer. One libevent loop, hiredis's async API, no threads.
 * It prints key=value lines: likes ok failed seconds rate p50_ms p99_ms
 * p999_ms client_cpu_s.
 *
 *   redis_wait --port N --sha SHA --likes N [--host H] [--conns C]
 *              [--depth D] [--items I] [--user PREFIX] [--rate R]
 *              [--tick-ms T] [--wait-at answer|send] [--timeout-s S]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define CONNS_MAX 64
#define DEPTH_MAX 4096
#define NAME_MAX_LEN 64 /* an item's or a user's name */

typedef struct load load;
typedef struct conn conn;

/* One like in flight: a slot of its connection. */
typedef struct like {
	conn *c;
	uint64_t sent_ns;
	bool failed; /* its EVALSHA failed; its WAIT's answer only ends it */
	char item[NAME_MAX_LEN];
} like;

/* One connection and its slots. */
struct conn {
	load *ld;
	int k;
	redisAsyncContext *ac;
	bool connected;
	uint64_t quota, started; /* likes this connection sends in all, and so far */
	like *slots;
	like **free_slots;
	int nfree;
	char user[NAME_MAX_LEN];
};

struct load {
	struct event_base *base;
	struct event *tick, *deadline;
	const char *host, *sha;
	int port, conns, depth, tick_ms, timeout_s;
	uint64_t likes, items;
	double rate; /* likes a second in all; 0: the peak */
	bool wait_at_send;
	const char *user;
	conn cs[CONNS_MAX];
	int connected;
	uint64_t start_ns, end_ns, done, ok, failed, below; /* below: WAIT said 0 replicas */
	uint32_t *lat_us;                                   /* one per like done ok */
	unsigned errors_told;                               /* Redis's errors printed so far */
	int rc;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(load *ld, const char *what, const char *why)
{
	fprintf(stderr, "redis_wait: %s: %s\n", what, why);
	ld->rc = 1;
	event_base_loopbreak(ld->base);
}

/* Prints Redis's first few error answers; the rest are only counted. */
static void tell(load *ld, const char *cmd, const char *err)
{
	if (ld->errors_told++ < 10)
		fprintf(stderr, "redis_wait: %s: %s\n", cmd, err);
}

static void start_due(conn *c);

/* A like's end: its slot is free again and the next one may go. */
static void like_end(like *lk, bool ok)
{
	conn *c = lk->c;
	load *ld = c->ld;
	if (ok) {
		uint64_t us = (mono_ns() - lk->sent_ns) / 1000;
		ld->lat_us[ld->ok++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	} else {
		ld->failed++;
	}
	c->free_slots[c->nfree++] = lk;
	if (++ld->done == ld->likes) {
		ld->end_ns = mono_ns();
		event_base_loopbreak(ld->base);
		return;
	}
	start_due(c);
}

static void on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	like *lk = priv;
	redisReply *r = reply;
	if (!r) /* the connection is gone: on_disconnect says so */
		return;
	bool ok = !lk->failed && r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
	if (r->type == REDIS_REPLY_INTEGER && r->integer < 1)
		lk->c->ld->below++;
	if (r->type == REDIS_REPLY_ERROR)
		tell(lk->c->ld, "WAIT", r->str);
	like_end(lk, ok);
}

static bool send_wait(like *lk)
{
	if (redisAsyncCommand(lk->c->ac, on_wait, lk, "WAIT 1 0") != REDIS_OK) {
		fail(lk->c->ld, "WAIT", lk->c->ac->errstr);
		return false;
	}
	return true;
}

static void on_eval(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	like *lk = priv;
	redisReply *r = reply;
	if (!r)
		return;
	if (r->type != REDIS_REPLY_INTEGER) {
		lk->failed = true;
		if (r->type == REDIS_REPLY_ERROR)
			tell(lk->c->ld, "EVALSHA", r->str);
	}
	if (lk->c->ld->wait_at_send)
		return;
	/* An application would not wait for a write that failed. */
	if (lk->failed)
		like_end(lk, false);
	else
		send_wait(lk);
}

/* Sends the connection's next like; false when it cannot. */
static bool like_start(conn *c)
{
	load *ld = c->ld;
	like *lk = c->free_slots[--c->nfree];
	uint64_t n = c->started++;
	snprintf(lk->item, sizeof lk->item, "post:c%" PRIu64, n % ld->items);
	lk->failed = false;
	lk->sent_ns = mono_ns();
	const char *argv[] = {"EVALSHA", ld->sha, "0", lk->item, c->user};
	if (redisAsyncCommandArgv(c->ac, on_eval, lk, 5, argv, NULL) != REDIS_OK) {
		fail(ld, "EVALSHA", c->ac->errstr);
		return false;
	}
	return !ld->wait_at_send || send_wait(lk);
}

/* Starts the likes that are due on a connection and have a slot: all up
 * to its quota at the peak, those the rate has made due when paced. */
static void start_due(conn *c)
{
	load *ld = c->ld;
	uint64_t due = c->quota;
	if (ld->rate > 0) {
		double per = ld->rate / ld->conns, secs = (double)(mono_ns() - ld->start_ns) / 1e9;
		uint64_t by_now = (uint64_t)(per * secs) + 1;
		if (by_now < due)
			due = by_now;
	}
	while (c->started < due && c->nfree > 0)
		if (!like_start(c))
			return;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	load *ld = arg;
	for (int k = 0; k < ld->conns; k++)
		start_due(&ld->cs[k]);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	load *ld = arg;
	char why[96];
	snprintf(why, sizeof why, "%" PRIu64 " of %" PRIu64 " likes done", ld->done, ld->likes);
	fail(ld, "timed out", why);
}

/* Every connection is up: the clock starts and so do the likes. */
static void begin(load *ld)
{
	ld->start_ns = mono_ns();
	if (ld->rate > 0) {
		struct timeval tv = {ld->tick_ms / 1000, (ld->tick_ms % 1000) * 1000};
		ld->tick = event_new(ld->base, -1, EV_PERSIST, on_tick, ld);
		if (!ld->tick || event_add(ld->tick, &tv)) {
			fail(ld, "tick", "cannot add the pacing timer");
			return;
		}
	}
	for (int k = 0; k < ld->conns; k++)
		start_due(&ld->cs[k]);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	conn *c = ac->data;
	if (status != REDIS_OK) {
		fail(c->ld, "connect", ac->errstr);
		return;
	}
	c->connected = true;
	if (++c->ld->connected == c->ld->conns)
		begin(c->ld);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	conn *c = ac->data;
	c->ac = NULL;
	if (c->ld->done < c->ld->likes)
		fail(c->ld, "connection lost", status == REDIS_OK ? "closed" : ac->errstr);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double at_ms(const load *ld, double q)
{
	if (!ld->ok)
		return 0;
	uint64_t i = (uint64_t)(q * (double)ld->ok);
	if (i >= ld->ok)
		i = ld->ok - 1;
	return ld->lat_us[i] / 1000.0;
}

static void report(load *ld)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	             ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	double secs = ld->end_ns > ld->start_ns ? (double)(ld->end_ns - ld->start_ns) / 1e9 : 0;
	qsort(ld->lat_us, ld->ok, sizeof *ld->lat_us, cmp_u32);
	printf("likes=%" PRIu64 "\nok=%" PRIu64 "\nfailed=%" PRIu64 "\nwait_below_one=%" PRIu64
	       "\n",
	       ld->likes, ld->ok, ld->failed, ld->below);
	printf("seconds=%.3f\nrate=%.0f\n", secs, secs > 0 ? (double)ld->ok / secs : 0);
	printf("p50_ms=%.3f\np99_ms=%.3f\np999_ms=%.3f\nclient_cpu_s=%.2f\n", at_ms(ld, 0.5),
	       at_ms(ld, 0.99), at_ms(ld, 0.999), cpu);
}

static int conn_open(load *ld, int k)
{
	conn *c = &ld->cs[k];
	c->ld = ld;
	c->k = k;
	/* h2load's split: ceil(likes / conns) each, the last ones the rest. */
	uint64_t per = (ld->likes + (uint64_t)ld->conns - 1) / (uint64_t)ld->conns;
	uint64_t before = per * (uint64_t)k;
	c->quota = before >= ld->likes ? 0 : ld->likes - before < per ? ld->likes - before : per;
	snprintf(c->user, sizeof c->user, "%s%d", ld->user, k);
	c->slots = calloc((size_t)ld->depth, sizeof *c->slots);
	c->free_slots = calloc((size_t)ld->depth, sizeof *c->free_slots);
	if (!c->slots || !c->free_slots) {
		fprintf(stderr, "redis_wait: out of memory\n");
		return -1;
	}
	for (int i = 0; i < ld->depth; i++) {
		c->slots[i].c = c;
		c->free_slots[c->nfree++] = &c->slots[i];
	}
	c->ac = redisAsyncConnect(ld->host, ld->port);
	if (!c->ac || c->ac->err) {
		fprintf(stderr, "redis_wait: connect to %s:%d: %s\n", ld->host, ld->port,
		        c->ac ? c->ac->errstr : "out of memory");
		if (c->ac)
			redisAsyncFree(c->ac);
		c->ac = NULL;
		return -1;
	}
	c->ac->data = c;
	if (redisLibeventAttach(c->ac, ld->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(c->ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(c->ac, on_disconnect) != REDIS_OK) {
		fprintf(stderr, "redis_wait: cannot attach connection %d to the loop\n", k);
		return -1;
	}
	return 0;
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "redis_wait: %s\n", why);
	fprintf(stderr, "usage: redis_wait --port N --sha SHA --likes N [--host H] [--conns C]\n"
	                "       [--depth D] [--items I] [--user PREFIX] [--rate R] [--tick-ms T]\n"
	                "       [--wait-at answer|send] [--timeout-s S]\n");
	return 2;
}

static int parse(load *ld, int argc, char **argv)
{
	double port = 0, conns = ld->conns, depth = ld->depth, likes = 0, items = (double)ld->items;
	double tick = ld->tick_ms, timeout = ld->timeout_s;
	const struct {
		const char *name;
		double lo, hi, *v;
	} nums[] = {
	    {"--port", 1, 65535, &port},       {"--conns", 1, CONNS_MAX, &conns},
	    {"--depth", 1, DEPTH_MAX, &depth}, {"--likes", 1, 1e9, &likes},
	    {"--items", 1, 1e9, &items},       {"--rate", 0, 1e8, &ld->rate},
	    {"--tick-ms", 1, 1000, &tick},     {"--timeout-s", 1, 86400, &timeout},
	};
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (i + 1 >= argc)
			return usage("every option takes a value");
		if (strcmp(a, "--host") == 0) {
			ld->host = v;
		} else if (strcmp(a, "--sha") == 0) {
			ld->sha = v;
		} else if (strcmp(a, "--user") == 0) {
			if (strlen(v) > NAME_MAX_LEN - 12)
				return usage("--user is too long");
			ld->user = v;
		} else if (strcmp(a, "--wait-at") == 0) {
			if (strcmp(v, "answer") != 0 && strcmp(v, "send") != 0)
				return usage("--wait-at wants answer or send");
			ld->wait_at_send = strcmp(v, "send") == 0;
		} else {
			size_t j = 0, n = sizeof nums / sizeof nums[0];
			while (j < n && strcmp(a, nums[j].name) != 0)
				j++;
			if (j == n)
				return usage("unknown option");
			char *end;
			double x = strtod(v, &end);
			if (end == v || *end || x < nums[j].lo || x > nums[j].hi) {
				fprintf(stderr, "redis_wait: %s wants %g-%g, not '%s'\n", a,
				        nums[j].lo, nums[j].hi, v);
				return 2;
			}
			*nums[j].v = x;
		}
	}
	if (!port || !ld->sha || !likes)
		return usage("--port, --sha and --likes are needed");
	ld->port = (int)port;
	ld->conns = (int)conns;
	ld->depth = (int)depth;
	ld->likes = (uint64_t)likes;
	ld->items = (uint64_t)items;
	ld->tick_ms = (int)tick;
	ld->timeout_s = (int)timeout;
	return 0;
}

int main(int argc, char **argv)
{
	static load ld = {.host = "127.0.0.1",
	                  .conns = 4,
	                  .depth = 16,
	                  .items = 120000,
	                  .user = "rw",
	                  .tick_ms = 10,
	                  .timeout_s = 600};
	int rc = parse(&ld, argc, argv);
	if (rc)
		return rc;
	ld.lat_us = malloc(ld.likes * sizeof *ld.lat_us);
	ld.base = event_base_new();
	if (!ld.lat_us || !ld.base) {
		fprintf(stderr, "redis_wait: out of memory\n");
		return 1;
	}
	struct timeval limit = {ld.timeout_s, 0};
	ld.deadline = evtimer_new(ld.base, on_deadline, &ld);
	if (!ld.deadline || evtimer_add(ld.deadline, &limit)) {
		fprintf(stderr, "redis_wait: cannot add the deadline\n");
		return 1;
	}
	for (int k = 0; k < ld.conns; k++)
		if (conn_open(&ld, k))
			return 1;
	if (event_base_dispatch(ld.base) < 0) {
		fprintf(stderr, "redis_wait: the event loop failed\n");
		return 1;
	}
	/* Closes the connections (their callbacks get no reply) and prints
	 * what was done, also after a failure. */
	for (int k = 0; k < ld.conns; k++) {
		if (ld.cs[k].ac) {
			redisAsyncContext *ac = ld.cs[k].ac;
			ac->onDisconnect = NULL;
			ld.cs[k].ac = NULL;
			redisAsyncFree(ac);
		}
		free(ld.cs[k].slots);
		free(ld.cs[k].free_slots);
	}
	if (!ld.end_ns)
		ld.end_ns = mono_ns();
	report(&ld);
	if (ld.tick)
		event_free(ld.tick);
	event_free(ld.deadline);
	event_base_free(ld.base);
	free(ld.lat_us);
	return ld.rc ? ld.rc : ld.failed ? 1 : 0;
}
