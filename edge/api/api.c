/* api.c - the edge's routes (api.h): routing (the route table, the
 * loopback-only routes, /healthz and /readyz), shared answer helpers,
 * the request's context (api_int.h: who, where from, what the route
 * keeps while it waits), the user and the admission limits a route
 * charges, and the needs a route collects for central (the asking and
 * the waiting are api_central.c; the single-item routes are
 * api_item.c). Loop thread.
 */
#include "edge/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/api/demo.h"
#include "edge/ops/inspect.h"
#include "item.h"
#include "log.h"
#include "hot.h"
#include "memacct.h"
#include "netaddr.h"
#include "query.h"
#include "route.h"
#include "xmem.h"

/* --- answers -------------------------------------------------------------- */

void api_respond(http_response *resp, int status, char *body, size_t len)
{
	resp->status = status;
	resp->body = body;
	resp->body_len = len;
}

void api_header(http_response *resp, const char *name, const char *value)
{
	/* Response headers here are short; a refusal would be a bug. */
	int rc = http_add_header(resp, name, value);
	if (rc)
		log_error("response header dropped", "name=%s err=\"%s\"", name, err_str(rc));
}

void api_error_json(sbuf *b, const char *code, const char *message)
{
	sbuf_adderror(b, code, message, NULL);
}

void api_error(http_response *resp, int status, const char *code, const char *message)
{
	sbuf b;
	sbuf_init(&b);
	api_error_json(&b, code, message);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, status, body, len);
	if (status == 503)
		api_header(resp, "retry-after", "1");
}

void api_method_not_allowed(http_response *resp, const char *allow)
{
	api_header(resp, "allow", allow);
	char msg[64];
	snprintf(msg, sizeof msg, "allowed: %s", allow);
	api_error(resp, 405, "method_not_allowed", msg);
}

/* Does an If-None-Match list (len bytes at list) hold etag? Weak and
 * strong forms compare equal, as RFC 9110 asks for If-None-Match. */
static bool etag_listed(const char *list, size_t len, const char *etag)
{
	const char *p = list, *end = list + len;
	size_t el = strlen(etag);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		const char *t = p;
		while (p < end && *p != ',')
			p++;
		const char *te = p;
		while (te > t && te[-1] == ' ')
			te--;
		if (te - t == 1 && *t == '*')
			return true;
		if (te - t > 2 && t[0] == 'W' && t[1] == '/')
			t += 2;
		if ((size_t)(te - t) == el && memcmp(t, etag, el) == 0)
			return true;
	}
	return false;
}

bool api_cacheable(api *a, const api_ctx *x, const http_request *req, http_response *resp,
                   const char *etag)
{
	api_header(resp, "cache-control", a->cache_control);
	api_header(resp, "etag", etag);
	const char *inm = x->inm;
	size_t len = x->inm_len;
	if (req) {
		const http_header *h = http_find_header(req, "if-none-match");
		inm = h ? h->value : NULL;
		len = h ? h->valuelen : 0;
	}
	if (inm && etag_listed(inm, len, etag)) {
		a->st.not_modified++;
		return true;
	}
	return false;
}

/* --- the request's context -------------------------------------------------- */

void api_ctx_init(api_ctx *x, const http_request *req, need *n)
{
	/* Field by field: the route's state is set by the route, and the
	 * need's members are NEED_MAX entries read only below nmembers;
	 * zeroing them cost more than a whole count GET. */
	x->n = n;
	if (n) {
		sbuf_init(&n->items);
		n->nitems = 0;
		memset(n->counter_used, 0, sizeof n->counter_used);
		n->nmembers = 0;
		n->breakdown[0] = 0;
		n->breakdown_item[0] = 0;
	}
	x->id_rc = 1;
	x->id_why = NULL;
	x->who.user[0] = x->who.home[0] = 0;
	x->who.home_since = 0;
	x->has_peer_ip = req->peer_ip != NULL;
	if (req->peer_ip)
		memcpy(x->peer_ip, req->peer_ip, GUARD_IP_LEN);
	x->has_client_ip = req->client_ip != NULL;
	if (req->client_ip)
		memcpy(x->client_ip, req->client_ip, GUARD_IP_LEN);
	x->via_untrusted = req->via_untrusted;
	x->route = TM_ROUTE_OTHER;
	x->t0_ns = 0;
	/* The transport's stamp when it has one: no second clock read per
	 * request for what only an away page's continuation uses. */
	x->begun_ms = req->arrived_ns ? req->arrived_ns / 1000000u : clock_mono_ms();
	x->ticket = NULL;
	x->fail_body = NULL;
	x->fail_len = 0;
	x->resume = NULL;
	x->step = 0;
	x->inm = NULL;
	x->inm_len = 0;
	x->kept = NULL;
	x->reply = (api_reply){0};
}

void api_ctx_release(api_ctx *x)
{
	free(x->fail_body);
	x->fail_body = NULL;
	free(x->inm);
	x->inm = NULL;
	free(x->reply.body);
	x->reply.body = NULL;
	free(x->kept);
	x->kept = NULL;
}

int api_again(api_ctx *x, const http_request *req, api_resume_fn resume, int step, bool keep_inm)
{
	x->resume = resume;
	x->step = step;
	const http_header *h = keep_inm ? http_find_header(req, "if-none-match") : NULL;
	if (h) {
		x->inm = xmalloc(h->valuelen + 1);
		memcpy(x->inm, h->value, h->valuelen);
		x->inm[h->valuelen] = 0;
		x->inm_len = h->valuelen;
	}
	return API_AGAIN;
}

void api_feed_keep(api_ctx *x, const api_feed *f)
{
	size_t names = 0;
	for (size_t i = 0; i < f->nitems; i++)
		names += f->ilen[i] + 1;
	/* One block: the pointers, the lengths, then the names. */
	size_t head = f->nitems * (sizeof(char *) + sizeof(size_t));
	char *mem = xmalloc(head + names);
	char **items = (char **)(void *)mem;
	size_t *ilen = (size_t *)(void *)(mem + f->nitems * sizeof(char *));
	char *p = mem + head;
	for (size_t i = 0; i < f->nitems; i++) {
		memcpy(p, f->items[i], f->ilen[i] + 1);
		items[i] = p;
		ilen[i] = f->ilen[i];
		p += f->ilen[i] + 1;
	}
	api_feed *k = &x->st.feed;
	if (k != f) {
		memcpy(k->cs, f->cs, f->ncs * sizeof *f->cs);
		memcpy(k->cl, f->cl, f->ncs * sizeof *f->cl);
		k->ncs = f->ncs;
		k->nitems = f->nitems;
	}
	k->items = items;
	k->ilen = ilen;
	free(x->kept);
	x->kept = mem;
}

/* --- what the edge knows, and what it asks central ------------------------ */

typedef struct member_entry {
	int8_t state; /* 1 member, 0 not (or never seen at central) */
	uint64_t hlc; /* the winning op's clock (0: not said) */
	uint64_t fetched_mono;
} member_entry;

static size_t member_key(char *k, const char *counter, const char *item, const char *user)
{
	size_t cl = strlen(counter), il = strlen(item), ul = strlen(user);
	memcpy(k, counter, cl + 1);
	memcpy(k + cl + 1, item, il + 1);
	memcpy(k + cl + 1 + il + 1, user, ul);
	return cl + il + ul + 2;
}

void api_member_put(api *a, const char *counter, const char *item, const char *user, int state,
                    uint64_t hlc)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	bool created;
	smap_val *v = smap_put_gen(&a->member_hot, &a->member_cold, a->cfg.member_entries, k, kn,
	                           true, &created);
	if (created)
		v->p = xmalloc(sizeof(member_entry));
	member_entry *e = v->p;
	e->state = (int8_t)state;
	e->hlc = hlc;
	e->fetched_mono = clock_mono_ms();
	if (created) /* a new entry, maybe a generation dropped */
		atomic_store_explicit(&a->member_bytes,
		                      smap_bytes(&a->member_hot) + smap_bytes(&a->member_cold) +
		                          (a->member_hot.len + a->member_cold.len) *
		                              memacct_chunk(sizeof(member_entry)),
		                      memory_order_relaxed);
}

uint64_t api_member_bytes(const api *a)
{
	return atomic_load_explicit(&a->member_bytes, memory_order_relaxed);
}

int api_member_cached_at(api *a, const char *counter, const char *item, const char *user,
                         uint64_t max_age_ms, uint64_t *hlc)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	smap_val *v = smap_get(&a->member_hot, k, kn);
	if (!v)
		v = smap_get(&a->member_cold, k, kn);
	*hlc = 0;
	if (!v)
		return -1;
	member_entry *e = v->p;
	if (clock_mono_ms() - e->fetched_mono > max_age_ms)
		return -1;
	*hlc = e->hlc;
	return e->state;
}

int api_member_cached(api *a, const char *counter, const char *item, const char *user)
{
	uint64_t hlc;
	return api_member_cached_at(a, counter, item, user, a->cfg.member_ttl_ms, &hlc);
}

bool api_need_any(const need *n)
{
	return n && (n->nitems > 0 || n->nmembers > 0 || n->breakdown[0]);
}

void api_need_count(api *a, need *n, const counter_def *c, const char *item)
{
	n->counter_used[c - a->counters.defs] = true;
	/* The same item for two counters is asked once. */
	size_t il = strlen(item);
	const char *p = n->items.p;
	for (uint32_t i = 0; i < n->nitems && p; i++) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == il && memcmp(p, item, il) == 0)
			return;
		p = e ? e + 1 : NULL;
	}
	if (n->nitems)
		sbuf_add(&n->items, ",", 1);
	sbuf_adds(&n->items, item);
	n->nitems++;
}

int api_view(api *a, api_ctx *x, const counter_def *c, const char *item, ledger_view *v)
{
	int rc = ledger_read(a->lg, c->name, item, v);
	if (rc)
		return rc;
	if (!v->known && x->n) {
		api_need_count(a, x->n, c, item);
		return 1;
	}
	return 0;
}

/* Adds (counter, item, user) to what n asks of central, once; false
 * when n is full. */
static bool need_member_add(api *a, need *n, const char *counter, const char *item,
                            const char *user, bool at_home)
{
	for (size_t i = 0; i < n->nmembers; i++)
		if (!strcmp(n->members[i].counter, counter) && !strcmp(n->members[i].item, item) &&
		    !strcmp(n->members[i].user, user))
			return true;
	if (n->nmembers >= NEED_MAX)
		return false;
	if (a->tm)
		metric_add(a->tm->rt_members[at_home ? 0 : 1], 1);
	need_member *m = &n->members[n->nmembers++];
	snprintf(m->counter, sizeof m->counter, "%s", counter);
	snprintf(m->item, sizeof m->item, "%s", item);
	snprintf(m->user, sizeof m->user, "%s", user);
	return true;
}

/* A membership of a user away from home (the identity names another
 * region): this edge hears of its changes only when they are made here,
 * so central is asked for every pair (once per page: lookups of a loop
 * turn go together) and the newer of its answer and this store's wins by
 * the ops' clocks. The first step uses an answer for AWAY_FRESH_MS; the
 * continuation, every answer the first step could use or that came
 * since, however long the wait. (With AWAY_FRESH_MS there too, a pair
 * the first step took from an answer nearly a second old, or one whose
 * answer came in an earlier request to central than the page's last,
 * had no answer at the continuation; it fell back to this store's own
 * record and said "liked" of a like undone in another region long
 * before, in geo_hearts runs on a saturated machine.) */
#define AWAY_FRESH_MS 1000
static int member_away(api *a, api_ctx *x, const char *counter, const char *item, const char *user,
                       int *state, const char **source)
{
	int local;
	uint64_t local_hlc, central_hlc;
	int rc = ledger_member_at(a->lg, counter, item, user, &local, &local_hlc);
	if (rc)
		return rc;
	uint64_t fresh = AWAY_FRESH_MS;
	if (!x->n)
		fresh += clock_mono_ms() - x->begun_ms;
	int said = api_member_cached_at(a, counter, item, user, fresh, &central_hlc);
	if (said >= 0) {
		bool mine = local >= 0 && local_hlc > central_hlc;
		*state = mine ? local : said;
		*source = mine ? "local" : "central";
		return 0;
	}
	if (x->n && need_member_add(a, x->n, counter, item, user, false)) {
		*state = -1; /* asked: the answer comes in the next step */
		*source = "central";
		return 0;
	}
	/* Central out of reach or not asked: what this store knows. */
	if (!x->n && a->central)
		a->st.away_local++;
	*state = local;
	*source = "local";
	return 0;
}

/* Whether a user whose identity names this region as home lives here as
 * far as this store knows, for item's partition: with no move of theirs
 * known here, unless the identity says they moved (home_since) and the
 * home stream has not brought that move yet; else when the last move
 * known is at least as late as the identity's, and to here (a token from
 * before a move away says otherwise). Until then their pairs are asked
 * of central, as an away user's are. 0 with *here, or the store's error
 * (the request's, as any other read's). */
static int lives_here(api *a, const api_ctx *x, const char *item, bool *here)
{
	char home[EDGE_ID_MAX + 1];
	uint64_t since;
	int rc = ledger_home_mark(a->lg, x->who.user, item, home, &since);
	if (rc == ERR_NOTFOUND) {
		*here = x->who.home_since == 0;
		return 0;
	}
	*here = rc == 0 && since >= x->who.home_since && strcmp(home, x->who.home) == 0;
	return rc;
}

int api_membership(api *a, api_ctx *x, const char *counter, const char *item, const char *user,
                   int *state, const char **source)
{
	if (x->who.home[0] && a->cfg.region && strcmp(x->who.home, a->cfg.region) != 0)
		return member_away(a, x, counter, item, user, state, source);
	if (x->who.home[0] && a->cfg.home_region && !strcmp(x->who.home, a->cfg.home_region)) {
		bool here;
		int rc = lives_here(a, x, item, &here);
		if (rc)
			return rc;
		if (!here)
			return member_away(a, x, counter, item, user, state, source);
	}
	need *n = x->n;
	bool at_home = a->cfg.home_region && !strcmp(x->who.home, a->cfg.home_region);
	int rc = at_home ? ledger_member_home(a->lg, counter, item, user, state)
	                 : ledger_member(a->lg, counter, item, user, state);
	if (rc)
		return rc;
	*source = "local";
	if (*state >= 0)
		return 0;
	*state = api_member_cached(a, counter, item, user);
	*source = "central";
	if (*state >= 0 || !n)
		return 0;
	(void)need_member_add(a, n, counter, item, user, at_home);
	return 0;
}

bool api_item_ok(api *a, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	return colon && item_valid(s, n) && item_in_names(a->types, s, (size_t)(colon - s));
}

bool api_idem_key(const http_request *req, http_response *resp, char key[IDEM_KEY_MAX + 1],
                  bool *present)
{
	const http_header *h = http_find_header(req, "idempotency-key");
	*present = h != NULL;
	if (!h)
		return true;
	if (!idem_key_valid(h->value, h->valuelen)) {
		api_error(resp, 400, "invalid_idempotency_key",
		          "Idempotency-Key must be 1-128 visible ASCII characters");
		return false;
	}
	memcpy(key, h->value, h->valuelen);
	key[h->valuelen] = 0;
	return true;
}

/* Works out who is asking, once per request: the answer stays in x,
 * through any wait. */
static int resolve_identity(api *a, api_ctx *x, const http_request *req)
{
	if (x->id_rc == 1)
		x->id_rc = identity_user(&a->ic, req, (int64_t)(clock_wall_ms() / 1000), &x->who,
		                         &x->id_why);
	return x->id_rc;
}

bool api_user(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	int rc = resolve_identity(a, x, req);
	if (rc == 0)
		return true;
	guard_count(a->guard, GUARD_UNAUTH);
	api_error(resp, 401, "unauthenticated", x->id_why);
	/* RFC 6750 3: a refused token says so; no token just names the scheme. */
	api_header(resp, "www-authenticate",
	           rc == ERR_INVAL ? "Bearer error=\"invalid_token\"" : "Bearer");
	return false;
}

static void too_many(http_response *resp, const char *code, const char *message,
                     unsigned retry_after_s)
{
	char ra[16];
	snprintf(ra, sizeof ra, "%u", retry_after_s);
	api_error(resp, 429, code, message);
	api_header(resp, "retry-after", ra);
}

bool api_charge_writes(api *a, const char *user, unsigned count, http_response *resp)
{
	unsigned retry_s;
	if (!a->guard || guard_user_write(a->guard, user, count, clock_mono_ms(), &retry_s))
		return true;
	telemetry_refused(a->tm, TM_REFUSED_RATE, count);
	too_many(resp, "rate_limited", "too many writes by this user: see Retry-After", retry_s);
	return false;
}

int api_stage_writes(api *a, api_ctx *x, const http_request *req, const char *key,
                     const write_req *w, const bool *skip, size_t n, ledger_render_fn render,
                     void *ctx, ledger_answer *ans, size_t *slot, size_t *nstaged,
                     ledger_replay *replay)
{
	const char *user = x->who.user;
	ledger_op few[8]; /* a single write, and most batches, without a malloc */
	ledger_op *ops = n <= sizeof few / sizeof *few ? few : xcalloc(n, sizeof *ops);
	size_t nl = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip && skip[i])
			continue;
		int prior = w[i].c->kind == COUNTER_SET && !w[i].add
		                ? api_member_cached(a, w[i].c->name, w[i].item, user)
		                : -1;
		if (slot)
			slot[i] = nl;
		ops[nl++] = (ledger_op){.counter = w[i].c->name,
		                        .item = w[i].item,
		                        .user = user,
		                        .home = x->who.home,
		                        .sum = w[i].c->kind == COUNTER_SUM,
		                        .add = w[i].add,
		                        .n = w[i].n,
		                        .prior = prior,
		                        .client_hlc = w[i].client_hlc};
	}
	*nstaged = nl;
	uint64_t now = clock_wall_ms();
	ledger_idem idem = {.render = render, .ctx = ctx};
	if (key)
		idem.req = (idem_req){
		    user, key, idem_fingerprint(req->method, req->path, req->body, req->body_len),
		    now + a->cfg.idem_retention_ms};
	int rc = ledger_stage_ops(a->lg, ops, nl, now, ans, key ? &idem : NULL, replay, x->ticket);
	if (ops != few)
		free(ops);
	return rc;
}

/* Requests that carry no valid identity share a budget per client
 * address (the client the trusted-proxy rule found, else the peer).
 * Charged once, before the route's first step. False with a 429 in
 * resp. */
static bool charge_address(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	unsigned retry_s;
	const uint8_t *ip = x->has_client_ip ? x->client_ip : x->has_peer_ip ? x->peer_ip : NULL;
	if (!a->guard || !guard_addr_limited(a->guard) || resolve_identity(a, x, req) == 0 ||
	    guard_addr_request(a->guard, ip, clock_mono_ms(), &retry_s))
		return true;
	too_many(resp, "rate_limited",
	         "too many requests without a valid identity from this address: see Retry-After",
	         retry_s);
	return false;
}

/* --- routing ---------------------------------------------------------------- */

/* The loopback-only routes judge the client (through trusted proxies:
 * the one their headers name), and refuse a request that came through a
 * proxy the edge does not trust, wherever that proxy is. */
bool api_from_loopback(const api_ctx *x)
{
	return x->has_client_ip && !x->via_untrusted && netaddr_ip_is_loopback(x->client_ip);
}

/* Prometheus text of the edge's registry (telemetry.h). Served to
 * loopback clients only, for the agent on the same host; the rest of the
 * world gets 404. */
static void answer_metrics(api *a, http_response *resp)
{
	sbuf b;
	sbuf_init(&b);
	metrics_render(a->tm->reg, &b);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	resp->content_type = "text/plain; version=0.0.4";
	api_header(resp, "cache-control", "no-store");
}

/* GET /v1/hot[?limit=N]: the hot items, fastest first (loopback only;
 * hot.h: the same answer as central's). */
static void answer_hot(api *a, const http_request *req, http_response *resp)
{
	query q;
	size_t k = telemetry_hot_k(a->tm), limit = 0;
	if (query_parse_target(&q, req->path)) {
		query_free(&q);
		api_error(resp, 400, "bad_query", "the query string does not parse");
		return;
	}
	bool ok = hot_limit(query_get(&q, "limit"), k, &limit);
	query_free(&q);
	if (!ok) {
		api_error(resp, 400, "bad_limit", HOT_LIMIT_MESSAGE);
		return;
	}
	topk_entry *e = xcalloc(limit ? limit : 1, sizeof *e);
	size_t n = telemetry_hot(a->tm, e, limit);
	sbuf b;
	sbuf_init(&b);
	hot_render(&b, e, n, TM_HOT_WINDOW_MS, k);
	free(e);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
}

/* GET /readyz: {"ready":bool,"checks":{name:{"ok":bool,"reason":".."}}},
 * 503 when a check fails. */
static void answer_ready(api *a, http_response *resp)
{
	api_readiness r = {.store.ok = true,
	                   .kafka.ok = true,
	                   .snapshots.ok = true,
	                   .replica.ok = true,
	                   .writer.ok = true};
	if (a->readiness)
		a->readiness(a->readiness_ctx, &r);
	const struct {
		const char *name;
		const api_check *c;
	} ch[] = {{"store", &r.store},
	          {"kafka", &r.kafka},
	          {"snapshots", &r.snapshots},
	          {"replica", &r.replica},
	          {"writer", &r.writer}};
	bool ready = r.store.ok && r.kafka.ok && r.snapshots.ok && r.replica.ok && r.writer.ok;
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"ready\":%s,\"checks\":{", ready ? "true" : "false");
	for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
		/* A passing check may say why it passes only in part. */
		sbuf_addf(&b, "%s\"%s\":{\"ok\":%s,\"reason\":\"%s\"}", i ? "," : "", ch[i].name,
		          ch[i].c->ok ? "true" : "false", ch[i].c->reason);
	}
	sbuf_addf(&b, "}}");
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_header(resp, "cache-control", "no-store");
	api_respond(resp, ready ? 200 : 503, body, len);
}

/* --- the route table ---------------------------------------------------------- */

static int r_healthz(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	/* Alive: the loop answers. Over budget is readiness's. */
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"status\":\"ok\",\"edge\":\"%s\"}", a->edge_id);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
	return API_DONE;
}

static int r_readyz(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	answer_ready(a, resp);
	return API_DONE;
}

static int r_metrics(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	answer_metrics(a, resp);
	return API_DONE;
}

static int r_hot(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)x;
	answer_hot(a, req, resp);
	return API_DONE;
}

/* Pending batches, watermarks, snapshots: edge inspect (inspect.h). */
static int r_inspect(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	size_t len;
	char *body = inspect_json(a->lg, a->up, clock_wall_ms(), &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
	return API_DONE;
}

/* A route's first step: API_DONE, or API_AGAIN when it waits for central
 * (api_int.h). */
typedef int (*route_fn)(api *a, api_ctx *x, const http_request *req, http_response *resp);

/* What a route needs set up to exist (route.needs): tests run an api
 * without telemetry or a ledger. */
#define NEEDS_TM 1u
#define NEEDS_LG 2u
#define ITEMS_PREFIX "/v1/items/"
#define ROUTE(fn) ((route_handler)(fn))

/* The edge's routes (route.h), in one table that dispatch, the 404 and
 * 405 answers and the metrics' route label read. A route a request's
 * method does not match answers 405 with its Allow; a loopback route is
 * absent for anyone else (404, as for a path nobody serves). The item
 * routes share a prefix row: api_item_routes (api_item.c) judges their
 * methods, and item_metric their label. */
static const route routes[] = {
    /* First: nearly every request is an item route. */
    {ITEMS_PREFIX, NULL, ROUTE_PUBLIC, NULL, 0, TM_ROUTE_COUNT, ROUTE(api_item_routes)},
    {"/healthz", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_HEALTHZ, ROUTE(r_healthz)},
    {"/readyz", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_READYZ, ROUTE(r_readyz)},
    {"/metrics", "GET", ROUTE_LOOPBACK, NULL, NEEDS_TM, TM_ROUTE_METRICS, ROUTE(r_metrics)},
    {"/v1/hot", "GET", ROUTE_LOOPBACK, NULL, NEEDS_TM, TM_ROUTE_HOT, ROUTE(r_hot)},
    {"/v1/admin/inspect", "GET", ROUTE_LOOPBACK, NULL, NEEDS_LG, TM_ROUTE_OTHER, ROUTE(r_inspect)},
    {"/v1/counts", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_COUNTS, ROUTE(api_counts)},
    {"/v1/me", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_ME, ROUTE(api_me_batch)},
    {"/v1/ops", "POST", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_OPS, ROUTE(api_ops)},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Is route r there for this request (its daemon parts set up, and a
 * loopback client for a loopback route)? */
static bool route_serves(const api *a, const route *r, const api_ctx *x)
{
	return (!(r->needs & NEEDS_TM) || a->tm) && (!(r->needs & NEEDS_LG) || a->lg) &&
	       (r->access != ROUTE_LOOPBACK || api_from_loopback(x));
}

/* Runs the first step of req's route r (NULL: none): API_DONE or
 * API_AGAIN. */
static int dispatch(api *a, api_ctx *x, const route *r, const http_request *req,
                    http_response *resp)
{
	if (r && route_serves(a, r, x)) {
		if (route_method_ok(r, req->method))
			return ((route_fn)r->fn)(a, x, req, resp);
		api_method_not_allowed(resp, route_allow(r));
	} else if (!a->demo || !demo_site_answer(a->demo, req, resp)) {
		api_error(resp, 404, "not_found", "no such route");
	}
	return API_DONE;
}

/* The metrics label of an item route. */
static tm_route item_metric(const http_request *req)
{
	size_t len = strcspn(req->path, "?");
	if (len > 13 && memcmp(req->path + len - 3, "/me", 3) == 0)
		return TM_ROUTE_ME;
	if (strcmp(req->method, "GET") != 0)
		return TM_ROUTE_WRITE;
	return req->path[len] == '?' ? TM_ROUTE_COUNT_BREAKDOWN : TM_ROUTE_COUNT;
}

/* The label a request of route r (NULL: none) is counted under. */
static tm_route route_label(const route *r, const http_request *req)
{
	if (!r)
		return TM_ROUTE_OTHER;
	return r->fn == ROUTE(api_item_routes) ? item_metric(req) : (tm_route)r->metric;
}

void api_handle(void *ctx, const http_request *req, http_response *resp)
{
	api *a = ctx;
	a->st.requests++;
	if (!http_method_known(req->method, strlen(req->method))) {
		api_error(resp, 501, "not_implemented", "a method this server does not implement");
		if (a->tm)
			telemetry_request(a->tm, TM_ROUTE_OTHER, 501, clock_mono_ns());
		return;
	}
	/* HEAD is GET without the body (RFC 9110 9.3.2): routed as GET; the
	 * transports send the head alone. */
	http_request as_get;
	if (strcmp(req->method, "HEAD") == 0) {
		as_get = *req;
		as_get.method = "GET";
		req = &as_get;
	}
	/* The context is the request's own from here on; should the route
	 * wait, api_wait moves it, with what the route kept, to the heap. */
	need n, *np = a->central ? &n : NULL;
	api_ctx x;
	api_ctx_init(&x, req, np);
	const route *r = route_find(routes, NROUTES, req->path); /* once a request */
	if (a->tm) {
		x.t0_ns = req->arrived_ns ? req->arrived_ns : clock_mono_ns();
		x.route = route_label(r, req);
	}
	parked *p = api_park_get(a);
	x.ticket = p ? &p->ticket : NULL;
	int rc = API_DONE;
	if (charge_address(a, &x, req, resp))
		rc = dispatch(a, &x, r, req, resp);
	if (rc == API_AGAIN) {
		/* Only reads wait: nothing was staged. */
		x.ticket = NULL;
		api_wait(a, req, &x, &n);
	} else if (api_park_staged(p)) {
		api_park(a, p, &x, http_defer(req), resp);
		p = NULL;
	} else {
		telemetry_request(a->tm, x.route, resp->status, x.t0_ns);
	}
	api_park_put(a, p);
	if (rc != API_AGAIN)
		api_ctx_release(&x);
	if (np)
		sbuf_free(&np->items);
}

int api_init(api *a)
{
	smap_init(&a->member_hot);
	smap_init(&a->member_cold);
	atomic_store_explicit(&a->member_bytes, 0, memory_order_relaxed);
	if (a->cfg.member_entries < 2)
		a->cfg.member_entries = 2;
	snprintf(a->cache_control, sizeof a->cache_control,
	         "public, max-age=%u, stale-while-revalidate=%u", a->cfg.max_age_s, a->cfg.stale_s);
	memset(&a->st, 0, sizeof a->st);
	a->wait_free = NULL;
	a->wait_nfree = 0;
	return api_group_init(a);
}

void api_free(api *a)
{
	api_central_free(a);
	api_group_free(a);
	smap_free_values(&a->member_hot);
	smap_free_values(&a->member_cold);
}
