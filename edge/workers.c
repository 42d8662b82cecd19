/* workers.c - the edge's HTTP worker loops (edge_int.h): each worker's
 * api, central client and HTTP server on its own event loop (worker 0 on
 * the main loop), its 30 s stats line, and its 100 ms beat, which the
 * main thread's watchdog reads and through which a worker drains its
 * server when the main thread asks. Start, stop and free: the main
 * thread; each worker's callbacks: its own loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/edge_int.h"
#include "xmem.h"

/* api and central-client counters of one worker: from its own thread, or
 * from the main thread once that worker's loop has stopped. */
void edge_log_worker_stats(size_t i, worker *w)
{
	central_client_stats cs = {0};
	if (w->central)
		shards_router_get_stats(w->central, &cs);
	const api_stats *as = &w->api.st;
	log_info("worker stats",
	         "worker=%zu requests=%" PRIu64 " readthrough_asked=%" PRIu64
	         " readthrough_failed=%" PRIu64 " readthrough_retried=%" PRIu64
	         " readthrough_misrouted=%" PRIu64 " unknown_503=%" PRIu64 " not_modified=%" PRIu64
	         " replayed=%" PRIu64 " central_requests=%" PRIu64 " central_coalesced=%" PRIu64
	         " central_failures=%" PRIu64 " member_refused=%" PRIu64 " away_local=%" PRIu64,
	         i, as->requests, as->readthrough_asked, as->readthrough_failed,
	         as->readthrough_retried, as->readthrough_misrouted, as->unknown_503,
	         as->not_modified, as->replayed, cs.requests, cs.coalesced, cs.failures,
	         as->member_refused, as->away_local);
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	worker *w = arg;
	atomic_store(&w->beat_ms, clock_mono_ms());
	if (!atomic_load(&w->drain_asked))
		return;
	if (!atomic_load(&w->drained)) {
		size_t conns, in_flight;
		http_server_drain(w->http, &conns, &in_flight);
		atomic_store(&w->drain_conns, conns);
		atomic_store(&w->drain_in_flight, in_flight);
	}
	atomic_store(&w->busy, http_server_busy(w->http));
	atomic_store(&w->drained, true);
}

static void on_worker_stats(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker *w = arg;
	edge_log_worker_stats(w->index, w);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

/* Sets up worker i on its loop: api, central client, HTTP server. */
static int worker_init(edge *e, size_t i, const http_config *hc, char *err, size_t errlen)
{
	edge_config *cfg = &e->cfg;
	worker *w = &e->w[i];
	w->base = i == 0 ? e->base : event_base_new();
	if (!w->base) {
		snprintf(err, errlen, "event_base_new failed");
		return ERR_IO;
	}
	w->api = e->tmpl;
	w->api.base = w->base;
	if (e->shards.nshards) {
		central_client_opts co = {
		    .token = cfg->central_token,
		    .timeout_ms = (unsigned)cfg->central_timeout_ms,
		    .tm = e->tm,
		};
		w->central = shards_router_new(w->base, &e->shards, &co, err, errlen);
		if (!w->central)
			return ERR_CONFIG;
		w->api.central = w->central;
	}
	if (api_init(&w->api)) {
		snprintf(err, errlen, "api setup failed");
		return ERR_IO;
	}
	w->http = http_server_new(w->base, hc, api_handle, &w->api, err, errlen);
	if (!w->http)
		return ERR_IO;
	w->index = i;
	w->stats_ev = event_new(w->base, -1, EV_PERSIST, on_worker_stats, w);
	w->beat_ev = event_new(w->base, -1, EV_PERSIST, on_beat, w);
	atomic_store(&w->beat_ms, clock_mono_ms());
	struct timeval tv = {30, 0}, beat = {0, 100000};
	if (!w->stats_ev || event_add(w->stats_ev, &tv) || !w->beat_ev ||
	    event_add(w->beat_ev, &beat)) {
		snprintf(err, errlen, "event setup failed");
		return ERR_IO;
	}
	return 0;
}

/* "host:port" with the port replaced (for workers after the first, when
 * the configured port is 0 and the first worker got one from the
 * kernel). */
static void with_port(char *out, size_t cap, const char *addr, int port)
{
	const char *colon = strrchr(addr, ':');
	int hl = colon ? (int)(colon - addr) : (int)strlen(addr);
	snprintf(out, cap, "%.*s:%d", hl, addr, port);
}

/* Every worker listens on the same addresses (SO_REUSEPORT: the kernel
 * spreads new connections over them); all share the ledger, the store
 * and the Kafka producer. */
int edge_workers_start(edge *e, char *err, size_t errlen)
{
	edge_config *cfg = &e->cfg;
	http_config hc = {
	    .listen = cfg->listen,
	    .tls_listen = cfg->tls_listen,
	    .tls_cert = cfg->tls_cert,
	    .tls_key = cfg->tls_key,
	    .tls_store = e->tls,
	    .max_body = (size_t)cfg->max_body,
	    .max_header_list = (size_t)cfg->max_header_list,
	    .max_streams = (unsigned)cfg->max_streams,
	    .idle_timeout_ms = (unsigned)cfg->idle_timeout_ms,
	    .request_timeout_ms = (unsigned)cfg->request_timeout_ms,
	    .reset_burst = (unsigned)cfg->reset_burst,
	    .reset_rate = (unsigned)cfg->reset_rate,
	    .admission = guard_http_admission(e->guard),
	    .trusted = &e->trusted,
	};
	char listen[128], tls_listen[128];
	for (size_t i = 0; i < e->nw; i++) {
		int rc = worker_init(e, i, &hc, err, errlen);
		if (rc)
			return rc;
		if (i == 0) {
			/* Port 0: the others bind the port the first one got. */
			int p = http_server_port(e->w[0].http, false);
			if (p > 0 && hc.listen && hc.listen[0]) {
				with_port(listen, sizeof listen, hc.listen, p);
				hc.listen = listen;
			}
			p = http_server_port(e->w[0].http, true);
			if (p > 0 && hc.tls_listen && hc.tls_listen[0]) {
				with_port(tls_listen, sizeof tls_listen, hc.tls_listen, p);
				hc.tls_listen = tls_listen;
			}
		}
	}
	for (size_t i = 1; i < e->nw; i++) {
		worker *w = &e->w[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			snprintf(err, errlen, "cannot start worker %zu", i);
			return ERR_IO;
		}
		char name[16]; /* the kernel's limit, NUL included */
		snprintf(name, sizeof name, "edge-w%u", (unsigned)(i % 10000));
		(void)pthread_setname_np(w->thread, name); /* for top -H and perf */
		w->started = true;
	}
	return 0;
}

/* Stops the worker threads' loops (libevent's locking makes the break
 * safe from this thread) and waits for them. */
void edge_workers_stop(edge *e)
{
	for (size_t i = 1; i < e->nw; i++) {
		worker *w = &e->w[i];
		if (!w->started)
			continue;
		event_base_loopbreak(w->base);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void edge_workers_free(edge *e)
{
	edge_workers_stop(e);
	for (size_t i = 0; i < e->nw; i++) {
		worker *w = &e->w[i];
		if (w->stats_ev)
			event_free(w->stats_ev);
		if (w->beat_ev)
			event_free(w->beat_ev);
		if (w->http)
			http_server_free(w->http);
		shards_router_free(w->central);
		if (w->base)
			api_free(&w->api);
		if (i > 0 && w->base)
			event_base_free(w->base);
	}
	free(e->w);
	e->w = NULL;
	e->nw = 0;
}
