/* fill.h - `sim fill`: puts many distinct items and users in play at an
 * edge as fast as it takes them, for the memory bench (sim/bench/bench_mem.sh).
 *
 * Every item is liked once: request r is one POST /v1/ops over HTTP/1.1
 * keep-alive by user r % users, liking items r * per .. r * per + per - 1
 * (the last request may carry fewer). Several connections each keep one
 * request in flight. A request succeeds when its answer is 2xx and every
 * op in it answers status 200; anything else (a refused connection, a
 * timeout, a malformed answer, a non-2xx status, an op that is not 200) is
 * counted as a failure, never retried. Runs on the calling thread.
 */
#ifndef SIM_FILL_H
#define SIM_FILL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define FILL_ITEMS_MAX UINT64_C(1000000000)
#define FILL_CONNS_MAX 256
#define FILL_OPS_MAX 100 /* the edge's api.max_ops default */
#define FILL_PREFIX_MAX 32
#define FILL_ANSWER_MAX (1u << 20)

typedef struct fill_opts {
	int port;                /* 127.0.0.1:port */
	uint64_t items;          /* distinct items, 1..FILL_ITEMS_MAX */
	uint64_t users;          /* distinct users, 1..items */
	uint32_t per_request;    /* ops per request; 0 = items / users
	                            rounded up, at most FILL_OPS_MAX */
	uint32_t conns;          /* connections, 1..FILL_CONNS_MAX */
	unsigned timeout_ms;     /* per request */
	uint64_t max_ms;         /* stop sending after this long (0 = never) */
	uint64_t max_failures;   /* stop sending after this many failed
	                            requests (0 = never) */
	const char *item_prefix; /* item i is "<item_prefix><i>" (post:m) */
	const char *user_prefix; /* user u is "<user_prefix><u>" (mu) */
	const char *counter;     /* a set counter (likes) */
	const char *home;        /* every user's home region (X-User-Home), or
	                            NULL for none */
	FILE *progress;          /* a line a second, or NULL */
} fill_opts;

typedef struct fill_result {
	uint64_t requests;        /* sent */
	uint64_t requests_ok;     /* 2xx with every op 200 */
	uint64_t requests_failed; /* everything else */
	uint64_t conn_errors;     /* of those: connect, I/O, timeout, bad answer */
	uint64_t non_2xx;         /* of those: answered, but not 2xx */
	uint64_t ops;             /* likes sent */
	uint64_t ops_ok;          /* answered status 200 */
	uint64_t ops_failed;      /* answered another status, or never answered */
	uint64_t ops_unchanged;   /* 200 with "changed":false (a repeat) */
	uint64_t items;           /* distinct items sent */
	uint64_t users;           /* distinct users sent */
	uint32_t per_request;     /* ops per request used */
	double seconds;
	bool stopped_early; /* max_ms or max_failures cut it short */
} fill_result;

/* Defaults: 1,000,000 items, 100,000 users, 8 connections, 10 s timeout,
 * post:m / mu / likes. port is left 0. */
void fill_opts_default(fill_opts *o);

/* Ops per request the options give. */
uint32_t fill_per_request(const fill_opts *o);

/* Sends every request and waits for every answer. 0 when the run went to
 * its end (r tells how many requests failed); ERR_INVAL for bad options
 * (err says which), ERR_IO when the loop itself fails. */
int fill_run(const fill_opts *o, fill_result *r, char *err, size_t errlen) WARN_UNUSED;

/* key=value lines of r, for scripts. */
void fill_print(FILE *f, const fill_result *r);

#endif
