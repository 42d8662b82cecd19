/* pace.h - `sim pace`: an open-loop HTTP/2 load at a steady rate, for
 * the latency targets (sim/bench/bench.sh).
 *
 * Request i is due at start + i / rate (with poisson, after exponential
 * gaps of mean 1 / rate instead), on connection i % conns, whatever the
 * requests before it are doing: a slow answer does not hold back the
 * next request. Its latency runs from when it was due to when its
 * stream closed, so a request that waited for a free stream (at most
 * `depth` open per connection) or for the loop counts that wait too.
 * h2load --rps is not this: it wakes every 10 ms at the most, sends that
 * tick's requests at once as fast as its streams allow, and times each
 * from when it went out.
 *
 * Connections are h2c with prior knowledge to 127.0.0.1:port. Paths come
 * from a file, one per line (a URL's path part, or a whole http URL);
 * each connection walks it from the top, as each h2load process does.
 * Connection k sends "X-User-Id: <user><k>"; with a body file every
 * request is a POST of it, else a GET. Single-threaded; owns its sockets.
 */
#ifndef SIM_PACE_H
#define SIM_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define PACE_CONNS_MAX 256
#define PACE_REQUESTS_MAX UINT64_C(10000000) /* about 40 bytes of memory each */

typedef struct pace_opts {
	int port;
	uint64_t rate;       /* requests per second, all connections */
	uint64_t requests;   /* how many are due in all */
	uint32_t conns;      /* 1..PACE_CONNS_MAX */
	uint32_t depth;      /* streams open per connection at most */
	bool poisson;        /* exponential gaps instead of even ones */
	const char *uris;    /* the paths' file */
	const char *user;    /* X-User-Id prefix, or NULL: no header */
	const char *body;    /* a file every request posts, or NULL: GET */
	const char *log;     /* a line per request sent, or NULL: "due_us
	                        status latency_us", tab-separated, due as
	                        microseconds since the epoch, status -1 for
	                        no answer with its time until given up
	                        (h2load --log-file's columns) */
	unsigned timeout_ms; /* after the last due time, how long answers
	                        are waited for */
} pace_opts;

typedef struct pace_result {
	uint64_t sent;
	uint64_t ok;                            /* 2xx */
	uint64_t non_2xx;                       /* answered otherwise */
	uint64_t failed;                        /* no answer: reset, closed, or timed out */
	double seconds;                         /* from the first due time to the last close */
	double rate;                            /* answers per second over that */
	double p50_ms, p99_ms, p999_ms, max_ms; /* of the 2xx answers */
	double late_p99_ms;                     /* how late the requests went out, p99 */
} pace_result;

void pace_opts_default(pace_opts *o);
/* Runs the load; 0, or with the reason in err ERR_INVAL (options out of
 * range) or ERR_IO (no connection, no paths, a file that cannot be read
 * or written). Failed requests are in r, not here. */
int pace_run(const pace_opts *o, pace_result *r, char *err, size_t errlen) WARN_UNUSED;
/* key=value lines. */
void pace_print(FILE *f, const pace_result *r);

#endif
