/* api_ctx.c - what every route of the edge's API stands on (api_int.h):
 * the answer helpers (a body, a header, the JSON error, 405, the
 * caching headers and If-None-Match), the request's context (set up,
 * released, kept for a wait: api_again, api_feed_keep), the needs a
 * first step collects for central, who is asking (resolved once) and
 * the admission limits a request is charged. The routes (api_item.c,
 * api_batch.c, demo.c), the waiting (api_central.c) and the dispatch
 * (api.c) call it; it calls nothing of theirs. Loop thread.
 */
#include "edge/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "item.h"
#include "log.h"
#include "netaddr.h"
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

/* --- what a route asks central ------------------------------------------------ */

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

/* --- who is asking, and what it may do --------------------------------------- */

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

/* Requests that carry no valid identity share a budget per client
 * address (the client the trusted-proxy rule found, else the peer).
 * Charged once, before the route's first step. False with a 429 in
 * resp. */
bool api_charge_address(api *a, api_ctx *x, const http_request *req, http_response *resp)
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

/* --- where from ------------------------------------------------------------- */

/* The loopback-only routes judge the client (through trusted proxies:
 * the one their headers name), and refuse a request that came through a
 * proxy the edge does not trust, wherever that proxy is. */
bool api_from_loopback(const api_ctx *x)
{
	return x->has_client_ip && !x->via_untrusted && netaddr_ip_is_loopback(x->client_ip);
}
