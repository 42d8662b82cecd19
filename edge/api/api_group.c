/* api_group.c - group commit for the edge's writes (api.h): the parked
 * answers of staged writes and the event that commits them once per
 * loop turn.
 *
 * A route stages its write with the ticket of a parked entry taken from
 * the api's pool; when it did stage, the answer is parked (the request
 * deferred) and the commit event is made active. libevent runs active
 * events in order, so the commit runs after the callbacks already due in
 * this turn: every request read in the turn is staged before the one
 * store write. With the ledger's commit thread (store.commit_thread) the
 * event only asks for the write; the thread makes the event active again
 * (the tickets' wake) once it has resolved the group, and the answers
 * whose tickets are resolved go out then, in the order parked. Owns the
 * pool and the parked list. Loop thread only, but for api_wake.
 */
#include "edge/api/api_int.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

#define POOL_MAX 1024 /* parked entries kept for reuse */

/* A ticket's wake: runs on the ledger's commit thread. event_active is
 * safe from any thread (the bases are made after evthread_use_pthreads). */
static void api_wake(void *ctx)
{
	api *a = ctx;
	event_active(a->commit_ev, EV_TIMEOUT, 1);
}

parked *api_park_get(api *a)
{
	if (!a->commit_ev)
		return NULL;
	parked *p = a->parked_free;
	if (p) {
		a->parked_free = p->next;
		a->parked_nfree--;
	} else {
		p = xmalloc(sizeof *p);
	}
	p->ticket = (ledger_ticket){LEDGER_UNSTAGED, NULL, api_wake, a};
	p->d = NULL;
	p->fail_body = NULL;
	p->next = NULL;
	return p;
}

void api_park_put(api *a, parked *p)
{
	if (!p)
		return;
	free(p->fail_body);
	p->fail_body = NULL;
	if (a->parked_nfree >= POOL_MAX) {
		free(p);
		return;
	}
	p->next = a->parked_free;
	a->parked_free = p;
	a->parked_nfree++;
}

bool api_park_staged(const parked *p)
{
	return p && ledger_ticket_staged(&p->ticket);
}

void api_park(api *a, parked *p, api_ctx *x, http_deferred *d, http_response *resp)
{
	/* A write's outcome reaches a client that shut its sending side. */
	http_deferred_keep(d);
	p->d = d;
	http_response_move(&p->resp, resp);
	p->fail_body = x->fail_body;
	p->fail_len = x->fail_len;
	p->route = x->route;
	p->t0_ns = x->t0_ns;
	x->fail_body = NULL;
	p->next = NULL;
	*a->parked_tail = p;
	a->parked_tail = &p->next;
	event_active(a->commit_ev, EV_TIMEOUT, 1);
}

/* The answer of a parked write whose group could not be written. */
static void answer_failed(parked *p, http_response *resp)
{
	free(p->resp.body);
	p->resp.body = NULL;
	http_response_init(resp);
	api_header(resp, "cache-control", "no-store");
	if (p->fail_body) {
		/* A batch: each op the ledger had carries the error. */
		api_header(resp, "retry-after", "1");
		api_respond(resp, 200, p->fail_body, p->fail_len);
		p->fail_body = NULL;
		return;
	}
	write_result e = api_write_error(ledger_ticket_state(&p->ticket));
	api_error(resp, e.status, e.code, e.message);
}

/* Commits the staged writes (with the commit thread: asks for it, or with
 * now waits for it), then answers every parked request whose ticket is
 * resolved; the others stay parked, in order. Answers may start new
 * requests (an HTTP/1.1 connection parses its next one): those park
 * behind and make the event active again. */
static void finish_parked(api *a, bool now)
{
	int rc =
	    now ? ledger_commit_now(a->lg, clock_wall_ms()) : ledger_commit(a->lg, clock_wall_ms());
	uint64_t skipped;
	if (rc && log_every(&a->write_errors, 1000, &skipped))
		log_error("group write failed; its writes answer 503",
		          "err=\"%s\" similar_since_last=%" PRIu64, err_str(rc), skipped);
	parked *list = a->parked;
	a->parked = NULL;
	a->parked_tail = &a->parked;
	while (list) {
		parked *p = list;
		list = p->next;
		int st = ledger_ticket_state(&p->ticket);
		if (st == LEDGER_STAGED) {
			p->next = NULL;
			*a->parked_tail = p;
			a->parked_tail = &p->next;
			continue;
		}
		if (st == LEDGER_DURABLE) {
			telemetry_request(a->tm, p->route, p->resp.status, p->t0_ns);
			http_finish(p->d, &p->resp);
		} else {
			http_response resp;
			answer_failed(p, &resp);
			telemetry_request(a->tm, p->route, resp.status, p->t0_ns);
			http_finish(p->d, &resp);
		}
		api_park_put(a, p);
	}
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish_parked(arg, false);
}

int api_group_init(api *a)
{
	a->parked = NULL;
	a->parked_tail = &a->parked;
	a->parked_free = NULL;
	a->parked_nfree = 0;
	a->commit_ev = NULL;
	if (!a->base || !a->group_commit)
		return 0;
	a->commit_ev = event_new(a->base, -1, 0, on_commit, a);
	return a->commit_ev ? 0 : ERR_IO;
}

void api_group_free(api *a)
{
	if (!a->commit_ev)
		return;
	finish_parked(a, true);
	event_free(a->commit_ev);
	a->commit_ev = NULL;
	while (a->parked_free) {
		parked *p = a->parked_free;
		a->parked_free = p->next;
		free(p);
	}
}
