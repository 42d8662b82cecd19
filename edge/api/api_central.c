/* api_central.c - waiting for central (api_int.h): the waiting entry
 * that keeps a request's context (moved there from api_handle's stack)
 * with its deferred answer; one request per shard for its counts, and
 * memberships batched per shard across every request of a loop turn
 * (GET /v1/memberships: N concurrent lookups cost one round trip, not N
 * on a few connections), each request retried once at the shard's next
 * address; a breakdown asked of its item's shard, its answer kept in the
 * context; the route's continuation called once every answer is in (or
 * failed), if the client is still there. Lookups queued or in flight
 * are bounded (MEMBER_LOOKUPS) and refused past it, so the queue never
 * grows with load. Owns the waiting entries (and a pool of them), the
 * open batches and the requests in flight; loop thread.
 */
#include "edge/api/api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "log.h"
#include "partition.h"
#include "xmem.h"

#define WAIT_POOL_MAX 256 /* waiting entries kept for reuse, per api */

/* A request whose answer waits for central: its context, as the route's
 * first step left it, and the deferred answer. */
typedef struct waiting {
	api *a;
	api_ctx x;
	http_deferred *d;     /* NULL when the request could not be deferred */
	int outstanding;      /* requests to central not answered yet, plus one
	                         while api_wait is still sending */
	struct waiting *next; /* in the pool */
} waiting;

/* One membership lookup of a waiting answer, in a batch. */
typedef struct mlookup {
	waiting *w;
	need_member m;
} mlookup;

/* One request to central: the counts of one shard's items for a waiting
 * answer, or a batch of memberships of one shard for any number of them
 * (every lookup made on this loop in one turn, up to MEMBER_BATCH). It
 * may be sent twice: to the address the router picked, then once to the
 * shard's next one. */
typedef struct ask {
	api *a;
	waiting *w; /* counts: the answer waiting (memberships: per lookup) */
	size_t shard;
	int alt;      /* the shard's address it went to */
	bool retried; /* sent to a second address already */
	bool member;  /* a batch of memberships (else counts) */
	mlookup *ml;  /* MEMBER_BATCH entries */
	size_t nml;
	sbuf pairs;         /* the path, while the batch is open */
	uint32_t partition; /* the first item's */
	char *path;
} ask;

/* Takes x (moved: its heap blocks are the entry's now) and req's
 * deferred answer into an entry from the pool. */
static waiting *waiting_get(api *a, const http_request *req, const api_ctx *x)
{
	waiting *w = a->wait_free;
	if (w) {
		a->wait_free = w->next;
		a->wait_nfree--;
	} else {
		w = xmalloc(sizeof *w);
	}
	w->a = a;
	w->x = *x;
	w->x.n = NULL; /* a continuation never asks */
	w->d = http_defer(req);
	w->outstanding = 0;
	w->next = NULL;
	return w;
}

static void waiting_put(waiting *w)
{
	api *a = w->a;
	api_ctx_release(&w->x);
	if (a->wait_nfree >= WAIT_POOL_MAX) {
		free(w);
		return;
	}
	w->next = a->wait_free;
	a->wait_free = w;
	a->wait_nfree++;
}

/* One of w's requests is over. After the last, the route resumes at its
 * step with its context, if the client is still there, and the answer
 * goes out; the metrics count it from the first step's start. */
static void waiting_done(waiting *w)
{
	if (--w->outstanding > 0)
		return;
	http_response resp = {0};
	if (http_deferred_alive(w->d)) {
		w->x.resume(w->a, &w->x, &resp);
		telemetry_request(w->a->tm, w->x.route, resp.status, w->x.t0_ns);
	}
	http_finish(w->d, &resp);
	waiting_put(w);
}

/* Items a 200 /v1/counts answer lists under "not_owned" (central does
 * not own their partitions): how many, and the partition of the first. */
static size_t not_owned(const shard_router *r, const char *body, size_t len, uint32_t *partition)
{
	if (!memmem(body, len, "\"not_owned\"", 11))
		return 0;
	json_t *root = json_loadb(body, len, 0, NULL);
	json_t *no = root ? json_object_get(root, "not_owned") : NULL;
	size_t n = json_is_array(no) ? json_array_size(no) : 0;
	if (n) {
		/* An item's name, or an object with it or its partition. */
		json_t *e = json_array_get(no, 0);
		json_t *it = json_is_object(e) ? json_object_get(e, "item") : e;
		json_t *pj = json_is_object(e) ? json_object_get(e, "partition") : NULL;
		const shard_map *m = shards_router_map(r);
		if (json_is_string(it))
			*partition = partition_of(json_string_value(it), json_string_length(it),
			                          m->partitions);
		else if (json_is_integer(pj) && json_integer_value(pj) >= 0)
			*partition = (uint32_t)json_integer_value(pj);
	}
	json_decref(root);
	return n;
}

static void ask_send(ask *q);
static void on_answer(void *arg, int rc, int status, const char *body, size_t len);

/* Central answered that it does not own a partition: the shard map and
 * central's partitions disagree. */
static void misrouted(api *a, const ask *q, int status, size_t items)
{
	a->st.readthrough_misrouted++;
	uint64_t skipped;
	if (log_every(&a->misrouted, 1000, &skipped))
		log_warn("central does not own the partition: central.ops and central.partitions "
		         "disagree",
		         "partition=%u address=%s shard=%zu status=%d items=%zu skipped=%" PRIu64,
		         q->partition, shards_router_address(a->central, q->shard, (size_t)q->alt),
		         q->shard + 1, status, items, skipped);
}

static void ask_free(ask *q)
{
	waiting *w = q->w;
	mlookup *ml = q->ml;
	size_t n = q->nml;
	api *a = q->a;
	free(q->path);
	sbuf_free(&q->pairs);
	free(q);
	if (!ml) {
		waiting_done(w);
		return;
	}
	a->member_lookups -= n;
	for (size_t i = 0; i < n; i++)
		waiting_done(ml[i].w);
	free(ml);
}

/* The answer of one shard's request. Whatever usable came is kept; a
 * failure goes once to the shard's next address, if it has one. */
static void on_answer(void *arg, int rc, int status, const char *body, size_t len)
{
	ask *q = arg;
	api *a = q->a;
	bool ok = rc == 0 && status == 200;
	size_t lost = 0; /* items central said it does not own */
	if (rc == 0 && status == 421) {
		misrouted(a, q, status, 0);
	} else if (ok && q->member) {
		int8_t st[MEMBER_BATCH];
		uint64_t stamp[MEMBER_BATCH];
		if (central_parse_memberships(body, len, st, stamp, q->nml))
			ok = false;
		else
			for (size_t i = 0; i < q->nml; i++)
				api_member_put(a, q->ml[i].m.counter, q->ml[i].m.item,
				               q->ml[i].m.user, st[i], stamp[i]);
	} else if (ok) {
		central_count *cs = NULL;
		size_t nc = 0;
		if (central_parse_counts(body, len, &cs, &nc))
			ok = false;
		for (size_t i = 0; i < nc; i++)
			ledger_readthrough_put(a->lg, cs[i].counter, cs[i].item, cs[i].count,
			                       cs[i].version, cs[i].applied, cs[i].as_of);
		free(cs);
		uint32_t p = q->partition;
		if (ok && (lost = not_owned(a->central, body, len, &p))) {
			ask tmp = *q;
			tmp.partition = p;
			misrouted(a, &tmp, status, lost);
			ok = false;
		}
	}
	if (ok) {
		ask_free(q);
		return;
	}
	int next = q->retried || rc == ERR_CLOSED
	               ? -1
	               : shards_router_pick(a->central, q->shard, (size_t)q->alt + 1);
	if (next >= 0) {
		q->retried = true;
		q->alt = next;
		a->st.readthrough_retried++;
		log_debug("read-through asked again at the shard's next address",
		          "shard=%zu address=%s rc=\"%s\" status=%d", q->shard + 1,
		          shards_router_address(a->central, q->shard, (size_t)next), err_str(rc),
		          status);
		ask_send(q);
		return;
	}
	a->st.readthrough_failed++;
	log_debug("read-through failed", "shard=%zu path=%s rc=\"%s\" status=%d", q->shard + 1,
	          q->path, err_str(rc), status);
	ask_free(q);
}

static void ask_send(ask *q)
{
	api *a = q->a;
	a->st.readthrough_asked++;
	central_client *c = shards_router_client(a->central, q->shard, (size_t)q->alt);
	if (central_client_get(c, q->path, on_answer, q)) {
		/* Refused at once (never called back): a failure, retried or not. */
		if (q->retried) {
			a->st.readthrough_failed++;
			ask_free(q);
		} else {
			on_answer(q, ERR_AGAIN, 0, NULL, 0);
		}
	}
}

/* Sends one counts request for w, to the address the router picks for
 * shard. */
static void ask_start(waiting *w, size_t shard, char *path, uint32_t partition)
{
	ask *q = xcalloc(1, sizeof *q);
	q->a = w->a;
	q->w = w;
	q->shard = shard;
	q->alt = shards_router_pick(w->a->central, shard, 0);
	q->path = path;
	q->partition = partition;
	w->outstanding++;
	ask_send(q);
}

/* --- membership batches ------------------------------------------------------ */

static void member_send(api *a, size_t shard)
{
	ask *q = a->mbatch[shard];
	a->mbatch[shard] = NULL;
	size_t len;
	q->path = sbuf_take(&q->pairs, &len);
	q->alt = shards_router_pick(a->central, shard, 0);
	ask_send(q);
}

/* The end of the loop turn: every open batch goes. */
static void on_member_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	api *a = arg;
	for (size_t s = 0; s < a->nmbatch; s++)
		if (a->mbatch[s])
			member_send(a, s);
}

/* Adds one lookup for w to its shard's open batch; the batch leaves at
 * the end of this loop turn (or at once when full). A lookup past
 * MEMBER_LOOKUPS is refused: w does not wait for it, and the route
 * answers what it knows without it (503 membership_unavailable). */
static void member_enqueue(waiting *w, const need_member *m)
{
	api *a = w->a;
	const shard_map *map = shards_router_map(a->central);
	if (a->member_lookups >= MEMBER_LOOKUPS) {
		a->st.member_refused++;
		return;
	}
	if (!a->mbatch) {
		a->nmbatch = map->nshards;
		a->mbatch = xcalloc(a->nmbatch, sizeof *a->mbatch);
		if (a->base)
			a->mflush_ev = event_new(a->base, -1, 0, on_member_flush, a);
	}
	uint32_t part = partition_of(m->item, strlen(m->item), map->partitions);
	size_t shard = shards_of(map, part);
	size_t ul = strlen(m->user);
	size_t more = strlen(m->counter) + 1 + strlen(m->item) + 1 + 2 * ul + 1;
	ask *q = a->mbatch[shard];
	if (q && (q->nml == MEMBER_BATCH || q->pairs.len + more > CENTRAL_PATH_MAX))
		member_send(a, shard), q = NULL;
	if (!q) {
		q = xcalloc(1, sizeof *q);
		q->a = a;
		q->shard = shard;
		q->member = true;
		q->partition = part;
		q->ml = xcalloc(MEMBER_BATCH, sizeof *q->ml);
		sbuf_init(&q->pairs);
		sbuf_adds(&q->pairs, "/v1/memberships?pairs=");
		a->mbatch[shard] = q;
		if (a->mflush_ev)
			event_active(a->mflush_ev, EV_TIMEOUT, 1);
	} else {
		sbuf_adds(&q->pairs, ",");
	}
	sbuf_addf(&q->pairs, "%s/%s/", m->counter, m->item);
	for (size_t i = 0; i < ul; i++)
		sbuf_addf(&q->pairs, "%02x", (unsigned char)m->user[i]);
	q->ml[q->nml++] = (mlookup){w, *m};
	a->member_lookups++;
	w->outstanding++;
	if (!a->mflush_ev)
		member_send(a, shard); /* no loop to wait for (tests) */
}

void api_central_free(api *a)
{
	for (size_t s = 0; s < a->nmbatch; s++) {
		ask *q = a->mbatch[s];
		if (q)
			ask_free(q); /* never sent: the waiting answers fail */
	}
	free(a->mbatch);
	a->mbatch = NULL;
	a->nmbatch = 0;
	if (a->mflush_ev)
		event_free(a->mflush_ev);
	a->mflush_ev = NULL;
	while (a->wait_free) {
		waiting *w = a->wait_free;
		a->wait_free = w->next;
		free(w);
	}
	a->wait_nfree = 0;
}

/* Central's answer to a breakdown: kept in the context, central's body
 * being the answer when it is usable (200, 400, 404). */
static void on_breakdown(void *arg, int rc, int status, const char *body, size_t len)
{
	waiting *w = arg;
	api_reply *rp = &w->x.reply;
	rp->ok = rc == 0 && (status == 200 || status == 400 || status == 404);
	if (rp->ok) {
		rp->status = status;
		rp->body = xmalloc(len + 1);
		if (len)
			memcpy(rp->body, body, len);
		rp->body[len] = 0;
		rp->len = len;
	} else {
		w->a->st.readthrough_failed++;
	}
	waiting_done(w);
}

/* Asks for w's breakdown at path of item's shard (its first address; a
 * breakdown is not retried). */
static void ask_breakdown(waiting *w, const char *item, const char *path)
{
	api *a = w->a;
	a->st.readthrough_asked++;
	size_t sh = shards_router_shard_of(a->central, item, strlen(item));
	int alt = shards_router_pick(a->central, sh, 0);
	central_client *c = shards_router_client(a->central, sh, (size_t)alt);
	w->outstanding++;
	if (central_client_get(c, path, on_breakdown, w))
		on_breakdown(w, ERR_AGAIN, 0, NULL, 0);
}

/* Keeps x with req's deferred answer and asks central for everything n
 * lists: the counts split by shard (one request per shard involved),
 * each membership of its item's shard, a breakdown of its item's. */
void api_wait(api *a, const http_request *req, api_ctx *x, need *n)
{
	waiting *w = waiting_get(a, req, x);
	w->outstanding = 1; /* held until every request is out */
	if (n->breakdown[0])
		ask_breakdown(w, n->breakdown_item, n->breakdown);
	if (n->nitems) {
		const shard_map *m = shards_router_map(a->central);
		sbuf cnames;
		sbuf_init(&cnames);
		bool first = true;
		for (size_t i = 0; i < a->counters.n; i++) {
			if (!n->counter_used[i])
				continue;
			sbuf_addf(&cnames, "%s%s", first ? "" : ",", a->counters.defs[i].name);
			first = false;
		}
		/* Per shard, the path being built (NULL: no item yet). */
		sbuf *paths = xcalloc(m->nshards, sizeof *paths);
		uint32_t *firstp = xcalloc(m->nshards, sizeof *firstp);
		const char *p = n->items.p;
		for (uint32_t i = 0; i < n->nitems && p; i++) {
			const char *e = strchr(p, ',');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			uint32_t part = partition_of(p, l, m->partitions);
			size_t sh = shards_of(m, part);
			if (!paths[sh].p) {
				sbuf_init(&paths[sh]);
				sbuf_addf(&paths[sh], "/v1/counts?items=%.*s", (int)l, p);
				firstp[sh] = part;
			} else {
				sbuf_addf(&paths[sh], ",%.*s", (int)l, p);
			}
			p = e ? e + 1 : NULL;
		}
		for (size_t sh = 0; sh < m->nshards; sh++) {
			if (!paths[sh].p)
				continue;
			sbuf_addf(&paths[sh], "&counters=%s&edge=%s", cnames.p ? cnames.p : "",
			          a->edge_id);
			size_t len;
			if (a->tm)
				metric_add(a->tm->rt_counts, 1);
			ask_start(w, sh, sbuf_take(&paths[sh], &len), firstp[sh]);
		}
		free(paths);
		free(firstp);
		sbuf_free(&cnames);
	}
	for (size_t i = 0; i < n->nmembers; i++)
		member_enqueue(w, &n->members[i]);
	waiting_done(w);
}
