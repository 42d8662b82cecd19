/* api_item.c - the single-item routes (api_int.h):
 * /v1/items/{type}/{id}/{counter}, a count's GET (ETag, 304), the POST
 * and DELETE that write it (an optional Idempotency-Key, the user's
 * write budget, group commit through the context's ticket), GET .../me
 * for a set counter's membership, and the ?by= breakdowns read through
 * to central. The three reads may wait for central; each resumes at its
 * answer step (item_resume). Also what api_batch.c reuses for POST
 * /v1/ops: the one write path of both write routes (api_stage_writes)
 * and the single-item write answer. Loop thread.
 */
#include "edge/api/api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "display.h"
#include "item.h"
#include "log.h"
#include "query.h"
#include "xmem.h"

/* --- the single-item routes ----------------------------------------------- */

/* Where a single-item read resumes once central answered. */
enum { STEP_COUNT = 1, STEP_ME, STEP_BREAKDOWN };

static void item_resume(api *a, api_ctx *x, http_response *resp);

/* Parses /v1/items/{type}/{id}/{counter}[/me]. 0, or a status with
 * *code and *why set. */
static int parse_item_route(api *a, const char *path, item_route *r, const char **code,
                            const char **why)
{
	const char *p = path + strlen("/v1/items/");
	const char *end = p + strcspn(p, "?");
	const char *seg[4];
	size_t len[4];
	int n = 0;
	while (p < end) {
		if (n == 4)
			goto notfound;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t l = slash ? (size_t)(slash - p) : (size_t)(end - p);
		seg[n] = p;
		len[n++] = l;
		p += l + (slash ? 1 : 0);
		if (slash && p == end)
			goto notfound; /* trailing slash */
	}
	if (n < 3 || (n == 4 && !(len[3] == 2 && memcmp(seg[3], "me", 2) == 0)))
		goto notfound;
	if (!item_in_names(a->types, seg[0], len[0])) {
		*code = "invalid_item";
		*why = "unknown item type";
		return 400;
	}
	if (!item_id_valid(seg[1], len[1])) {
		*code = "invalid_item";
		*why = "item id must match [A-Za-z0-9_-]{1,64}";
		return 400;
	}
	r->c = counters_find(&a->counters, seg[2], len[2]);
	if (!r->c) {
		*code = "unknown_counter";
		*why = "no such counter";
		return 404;
	}
	if (len[0] + 1 + len[1] > ITEM_MAX)
		goto notfound; /* cannot happen: types and ids are shorter */
	memcpy(r->item, seg[0], len[0]);
	r->item[len[0]] = ':';
	memcpy(r->item + len[0] + 1, seg[1], len[1]);
	r->item[len[0] + 1 + len[1]] = 0;
	r->me = n == 4;
	return 0;
notfound:
	*code = "not_found";
	*why = "no such route";
	return 404;
}

void api_write_json(sbuf *b, const write_req *w, const ledger_answer *a)
{
	/* Item and counter names are validated ([a-z0-9_:-]), so they need no
	 * escaping; no printf on the write path. */
	char disp[DISPLAY_MAX];
	display_count(a->view.count, disp, sizeof disp);
	sbuf_adds(b, "{\"item\":\"");
	sbuf_adds(b, w->item);
	sbuf_adds(b, "\",\"counter\":\"");
	sbuf_adds(b, w->c->name);
	sbuf_adds(b, "\",");
	if (w->c->kind == COUNTER_SET)
		sbuf_adds(b, a->member ? "\"member\":true," : "\"member\":false,");
	sbuf_adds(b, a->changed ? "\"changed\":true,\"count\":" : "\"changed\":false,\"count\":");
	if (a->view.known) {
		sbuf_addu64(b, a->view.count);
		sbuf_adds(b, ",\"display\":\"");
		sbuf_adds(b, disp);
		sbuf_adds(b, "\",\"version\":");
	} else {
		/* The replica is still loading: the count is not known here,
		 * and a write never waits for central to learn it. */
		sbuf_adds(b, "null,\"display\":null,\"version\":");
	}
	sbuf_addu64(b, a->view.version);
	sbuf_adds(b, ",\"hlc\":");
	sbuf_addu64(b, a->hlc);
	sbuf_adds(b, "}");
}

write_result api_write_error(int rc)
{
	switch (rc) {
	case ERR_FULL:
		return (write_result){
		    503, "over_budget",
		    "this edge cannot record more writes until its backlog drains"};
	case ERR_CONFLICT:
		return (write_result){422, "idempotency_key_reused",
		                      "this Idempotency-Key was used for a different request"};
	case ERR_INVAL: return (write_result){400, "invalid_op", "the op is out of range"};
	case ERR_TIMEOUT:
	case ERR_KAFKA:
		return (write_result){503, "not_replicated",
		                      "the write could not be copied to the region's log"};
	case ERR_FENCED:
		return (write_result){
		    503, "not_active",
		    "this instance is not the region's active edge: try its other one"};
	case ERR_CLOCK:
		return (write_result){
		    409, "clock_ahead",
		    "the hlc sent is further ahead of this edge's clock than "
		    "api.client_clock_ahead_ms: the write cannot be ordered after "
		    "it and was not recorded"};
	case ERR_AGAIN:
		return (write_result){503, "write_queue_full",
		                      "this edge has more writes waiting for the region's log than "
		                      "it queues: nothing was recorded"};
	default: return (write_result){503, "store_unavailable", "the write could not be recorded"};
	}
}

static char *render_one(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)n;
	sbuf b;
	sbuf_init(&b);
	api_write_json(&b, ctx, &answers[0]);
	return sbuf_take(&b, len);
}

/* True for a body that is "{}" (with any JSON whitespace around and
 * inside): the common like, answered without a parser's allocations. */
static bool empty_object(const char *s, size_t n)
{
	size_t i = 0;
	int state = 0; /* 0: before '{', 1: inside, 2: after '}' */
	for (; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (state == 0 && c == '{')
			state = 1;
		else if (state == 1 && c == '}')
			state = 2;
		else
			return false;
	}
	return state == 2;
}

/* The body of a single-item write: empty, or {"n": k, "hlc": t}. */
static bool parse_write_body(const http_request *req, write_req *w, const char **why)
{
	w->n = 1;
	w->client_hlc = 0;
	if (!req->body_len || empty_object(req->body, req->body_len))
		return true;
	json_error_t jerr;
	json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	bool ok = false;
	*why = "the body must be a JSON object";
	if (!json_is_object(root))
		goto out;
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
	{
		if (!strcmp(key, "n")) {
			json_int_t k = json_is_integer(val) ? json_integer_value(val) : 0;
			if (k < 1 || k > COUNTER_SUM_MAX || (w->c->kind == COUNTER_SET && k != 1)) {
				*why = w->c->kind == COUNTER_SET
				           ? "n must be 1 for this counter"
				           : "n must be an integer from 1 to 1000";
				goto out;
			}
			w->n = (uint32_t)k;
		} else if (!strcmp(key, "hlc")) {
			if (!json_is_integer(val) || json_integer_value(val) < 0) {
				*why = "hlc must be a non-negative integer";
				goto out;
			}
			w->client_hlc = (uint64_t)json_integer_value(val);
		} else {
			/* Refused rather than ignored: a client that thinks it
			 * can name a user (or misspells a field) finds out. */
			*why = "unknown field: the body may hold n and hlc only";
			goto out;
		}
	}
	ok = true;
out:
	json_decref(root);
	return ok;
}

static void answer_write(api *a, api_ctx *x, const http_request *req, http_response *resp, bool add)
{
	const item_route *r = &x->st.item;
	const char *user = x->who.user;
	if (!api_user(a, x, req, resp))
		return;
	if (r->c->kind == COUNTER_SUM && !add) {
		api_method_not_allowed(resp, "GET, HEAD, POST");
		return;
	}
	write_req w = {.c = r->c, .add = add};
	memcpy(w.item, r->item, sizeof w.item);
	const char *why;
	if (!parse_write_body(req, &w, &why)) {
		api_error(resp, 400, "invalid_body", why);
		return;
	}
	char keybuf[IDEM_KEY_MAX + 1];
	bool key;
	if (!api_idem_key(req, resp, keybuf, &key))
		return;
	if (!api_charge_writes(a, user, 1, resp))
		return;
	/* An unlike of a pair this edge never saw uses what central said of
	 * it, if a lookup is cached; otherwise central's snapshot settles it
	 * (api_stage_writes). */
	ledger_answer ans;
	ledger_replay replay;
	size_t staged;
	uint64_t skipped;
	int rc = api_stage_writes(a, x, req, key ? keybuf : NULL, &w, NULL, 1, render_one, &w, &ans,
	                          NULL, &staged, &replay);
	if (rc) {
		write_result e = api_write_error(rc);
		if (rc == ERR_FULL)
			api_header(resp, "retry-after", "5");
		else if (rc == ERR_FENCED || rc == ERR_AGAIN)
			api_header(resp, "retry-after", "1");
		else if (rc != ERR_CONFLICT && log_every(&a->write_errors, 1000, &skipped))
			log_error("write failed",
			          "item=%s counter=%s err=\"%s\" similar_since_last=%" PRIu64,
			          r->item, r->c->name, err_str(rc), skipped);
		api_error(resp, e.status, e.code, e.message);
		return;
	}
	api_header(resp, "cache-control", "no-store");
	if (replay.replayed) {
		a->st.replayed++;
		api_header(resp, "idempotent-replayed", "true");
		api_respond(resp, replay.status, replay.body, replay.len);
		return;
	}
	sbuf b;
	sbuf_init(&b);
	api_write_json(&b, &w, &ans);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
}

/* A count's answer from the view read (rc: api_view's). req is NULL in
 * the continuation. */
static void answer_count(api *a, const api_ctx *x, const http_request *req, http_response *resp,
                         int rc, const ledger_view *vp)
{
	const item_route *r = &x->st.item;
	ledger_view v = *vp;
	if (rc == ERR_FENCED) {
		api_error(resp, 503, "not_active",
		          "this instance is not the region's active edge: try its other one");
		return;
	}
	if (rc) {
		api_error(resp, 503, "store_unavailable", "the count could not be read");
		return;
	}
	if (!v.known) {
		a->st.unknown_503++;
		api_error(resp, 503, "count_unavailable",
		          "this edge has no count for the item yet and central cannot be reached");
		return;
	}
	/* Built without printf: this is the hottest answer the edge gives. */
	char etag[2 * SBUF_U64_MAX + 4], *t = etag;
	*t++ = '"';
	t += sbuf_fmt_u64(t, v.version);
	*t++ = '-';
	t += sbuf_fmt_u64(t, v.count);
	*t++ = '"';
	*t = 0;
	if (api_cacheable(a, x, req, resp, etag)) {
		api_respond(resp, 304, NULL, 0);
		return;
	}
	char disp[DISPLAY_MAX];
	size_t dl = display_count(v.count, disp, sizeof disp);
	size_t il = strlen(r->item), cl = strlen(r->c->name);
	sbuf b;
	sbuf_init(&b);
	sbuf_reserve(&b, il + cl + dl + 3 * SBUF_U64_MAX + 64);
	sbuf_putl(&b, "{\"item\":\"");
	sbuf_put(&b, r->item, il);
	sbuf_putl(&b, "\",\"counter\":\"");
	sbuf_put(&b, r->c->name, cl);
	sbuf_putl(&b, "\",\"count\":");
	sbuf_put_u64(&b, v.count);
	sbuf_putl(&b, ",\"display\":\"");
	sbuf_put(&b, disp, dl);
	sbuf_putl(&b, "\",\"version\":");
	sbuf_put_u64(&b, v.version);
	sbuf_putl(&b, ",\"as_of\":");
	sbuf_put_u64(&b, v.as_of);
	sbuf_putl(&b, "}");
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
}

/* A count's GET: the first step. */
static int count_first(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	ledger_view v;
	int rc = api_view(a, x, x->st.item.c, x->st.item.item, &v);
	if (rc == 1)
		return api_again(x, req, item_resume, STEP_COUNT, true);
	answer_count(a, x, req, resp, rc, &v);
	return API_DONE;
}

/* The membership of x's user and item: rc is api_membership's. */
static void answer_me(api_ctx *x, http_response *resp, int rc, int state, const char *source)
{
	const item_route *r = &x->st.item;
	if (rc) {
		api_error(resp, 503, "store_unavailable", "membership could not be read");
		return;
	}
	api_header(resp, "cache-control", "private, no-store");
	if (state < 0) {
		api_error(
		    resp, 503, "membership_unavailable",
		    "this edge has not seen this user and item and central cannot be reached");
		return;
	}
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"item\":\"%s\",\"counter\":\"%s\",\"member\":%s,\"source\":\"%s\"}",
	          r->item, r->c->name, state == 1 ? "true" : "false", source);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
}

/* GET .../me: the first step. */
static int me_first(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	const item_route *r = &x->st.item;
	if (!api_user(a, x, req, resp))
		return API_DONE;
	if (r->c->kind != COUNTER_SET) {
		api_error(resp, 404, "not_found", "/me exists for set counters only");
		return API_DONE;
	}
	int state;
	const char *source;
	int rc = api_membership(a, x, r->c->name, r->item, x->who.user, &state, &source);
	if (!rc && api_need_any(x->n))
		return api_again(x, req, item_resume, STEP_ME, false);
	answer_me(x, resp, rc, state, source);
	return API_DONE;
}

/* --- breakdowns: read through to central ---------------------------------- */

/* Checks ?by=region | ?by=day[&from=..][&to=..] and builds central's path
 * from the checked parts only. 0, or 400 with *why. */
static int breakdown_path(const http_request *req, const item_route *r, char *out, size_t cap,
                          const char **why)
{
	query q;
	if (query_parse_target(&q, req->path)) {
		query_free(&q);
		*why = "the query string does not parse";
		return 400;
	}
	const char *by = query_get(&q, "by");
	const char *from = query_get(&q, "from");
	const char *to = query_get(&q, "to");
	int st = 0;
	char colon[ITEM_MAX + 1];
	snprintf(colon, sizeof colon, "%s", r->item);
	char *id = strchr(colon, ':');
	*id++ = 0;
	int n = snprintf(out, cap, "/v1/items/%s/%s/%s?by=", colon, id, r->c->name);
	if (by && !strcmp(by, "region") && !from && !to) {
		snprintf(out + n, cap - (size_t)n, "region");
	} else if (by && !strcmp(by, "day")) {
		n += snprintf(out + n, cap - (size_t)n, "day");
		const char *dates[2] = {from, to}, *names[2] = {"from", "to"};
		for (int i = 0; i < 2 && !st; i++) {
			if (!dates[i])
				continue;
			unsigned y, m, d;
			char tail;
			if (strlen(dates[i]) != 10 ||
			    sscanf(dates[i], "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3) {
				*why = "from and to are dates: YYYY-MM-DD";
				st = 400;
				break;
			}
			n += snprintf(out + n, cap - (size_t)n, "&%s=%04u-%02u-%02u", names[i], y,
			              m, d);
		}
	} else {
		*why = "by is region or day (with optional from and to)";
		st = 400;
	}
	query_free(&q);
	return st;
}

/* A breakdown's answer: central's, passed through, or 503. */
static void answer_breakdown(api *a, api_ctx *x, http_response *resp)
{
	api_reply *rp = &x->reply;
	if (!rp->ok) {
		api_error(resp, 503, "central_unavailable",
		          "breakdowns come from central, which cannot be reached");
		return;
	}
	api_respond(resp, rp->status, rp->body, rp->len);
	rp->body = NULL;
	if (rp->status == 200)
		api_header(resp, "cache-control", a->cache_control);
}

/* The step after the lookup of a single-item read. */
static void item_resume(api *a, api_ctx *x, http_response *resp)
{
	const item_route *r = &x->st.item;
	switch (x->step) {
	case STEP_COUNT: {
		ledger_view v;
		int rc = api_view(a, x, r->c, r->item, &v);
		answer_count(a, x, NULL, resp, rc, &v);
		break;
	}
	case STEP_ME: {
		int state;
		const char *source;
		int rc = api_membership(a, x, r->c->name, r->item, x->who.user, &state, &source);
		answer_me(x, resp, rc, state, source);
		break;
	}
	case STEP_BREAKDOWN: answer_breakdown(a, x, resp); break;
	default: api_error(resp, 500, "internal", "no such step"); break;
	}
}

/* --- dispatch ------------------------------------------------------------- */

int api_item_routes(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	item_route *r = &x->st.item;
	const char *code = NULL, *why = NULL;
	int st = parse_item_route(a, req->path, r, &code, &why);
	if (st) {
		api_error(resp, st, code, why);
		return API_DONE;
	}
	bool get = strcmp(req->method, "GET") == 0;
	if (r->me) {
		if (get)
			return me_first(a, x, req, resp);
		api_method_not_allowed(resp, "GET, HEAD");
		return API_DONE;
	}
	if (get && strchr(req->path, '?')) {
		need *n = x->n;
		char path[API_BREAKDOWN_PATH];
		if ((st = breakdown_path(req, r, path, sizeof path, &why))) {
			api_error(resp, st, "bad_breakdown", why);
		} else if (!n) {
			api_error(resp, 503, "central_unavailable",
			          "breakdowns come from central, which this edge cannot reach");
		} else {
			memcpy(n->breakdown, path, sizeof n->breakdown);
			memcpy(n->breakdown_item, r->item, sizeof n->breakdown_item);
			return api_again(x, req, item_resume, STEP_BREAKDOWN, false);
		}
		return API_DONE;
	}
	if (get)
		return count_first(a, x, req, resp);
	if (strcmp(req->method, "POST") == 0)
		answer_write(a, x, req, resp, true);
	else if (strcmp(req->method, "DELETE") == 0)
		answer_write(a, x, req, resp, false);
	else
		api_method_not_allowed(resp, r->c->kind == COUNTER_SET ? "GET, HEAD, POST, DELETE"
		                                                       : "GET, HEAD, POST");
	return API_DONE;
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
