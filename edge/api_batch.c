/* api_batch.c - the batch routes (api_int.h): GET /v1/counts, a feed
 * page's counts in one pass over local state, and POST /v1/ops, a
 * client's debounced taps in one atomic write. Loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>
#include <xxhash.h>

#include "api_int.h"
#include "clock.h"
#include "display.h"
#include "log.h"
#include "xmem.h"

/* --- GET /v1/counts ------------------------------------------------------- */

typedef struct counts_req {
	char (*items)[ITEM_MAX + 1];
	size_t nitems;
	smap seen; /* items already listed: a repeat counts once */
	const counter_def *cs[COUNTERS_MAX];
	size_t ncs;
} counts_req;

/* Splits a comma-separated list in place-free fashion: calls fn for each
 * element; stops at the first nonzero return. */
static int each_name(const char *list, int (*fn)(void *, const char *, size_t), void *arg)
{
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		int rc = fn(arg, p, l);
		if (rc || !e)
			return rc;
		p = e + 1;
	}
}

typedef struct parse_ctx {
	api *a;
	counts_req *cr;
	const char *why;
	char why_buf[160];
} parse_ctx;

static int add_item(void *arg, const char *s, size_t n)
{
	parse_ctx *pc = arg;
	counts_req *cr = pc->cr;
	if (!api_item_ok(pc->a, s, n)) {
		snprintf(pc->why_buf, sizeof pc->why_buf,
			 "item \"%.*s\" is not type:id with a configured type and an id matching "
			 "[A-Za-z0-9_-]{1,64}",
			 (int)(n > 80 ? 80 : n), s);
		pc->why = "invalid_item";
		return 1;
	}
	if (smap_get(&cr->seen, s, n))
		return 0;
	if (cr->nitems == pc->a->cfg.max_items) {
		snprintf(pc->why_buf, sizeof pc->why_buf, "at most %u items per request",
			 pc->a->cfg.max_items);
		pc->why = "too_many_items";
		return 1;
	}
	smap_put(&cr->seen, s, n, NULL);
	memcpy(cr->items[cr->nitems], s, n);
	cr->items[cr->nitems++][n] = 0;
	return 0;
}

static int add_counter(void *arg, const char *s, size_t n)
{
	parse_ctx *pc = arg;
	const counter_def *c = counters_find(&pc->a->counters, s, n);
	if (!c) {
		snprintf(pc->why_buf, sizeof pc->why_buf, "no counter named \"%.*s\"",
			 (int)(n > 40 ? 40 : n), s);
		pc->why = "unknown_counter";
		return 1;
	}
	for (size_t i = 0; i < pc->cr->ncs; i++)
		if (pc->cr->cs[i] == c)
			return 0;
	pc->cr->cs[pc->cr->ncs++] = c;
	return 0;
}

/* Writes the answer: counts, display strings, version and as_of per
 * item, and what is missing (unknown here, central unreachable). */
/* Appends the nested buffer in as the object {in} (in may be empty). */
static void add_object(sbuf *out, const sbuf *in)
{
	sbuf_add(out, "{", 1);
	if (in->len)
		sbuf_add(out, in->p, in->len);
	sbuf_add(out, "}", 1);
}

/* Writes the answer: counts, display strings, version and as_of per
 * item, and what is missing (unknown here, central unreachable). Built
 * without printf: a feed page has hundreds of fields. */
static void answer_counts(api *a, const http_request *req, http_response *resp,
			  const counts_req *cr, const ledger_view *views)
{
	uint64_t tag = 0;
	sbuf counts, disp, fresh, missing, ic, id;
	sbuf_init(&counts);
	sbuf_init(&disp);
	sbuf_init(&fresh);
	sbuf_init(&missing);
	sbuf_init(&ic);
	sbuf_init(&id);
	size_t nknown = 0, nmissing = 0;
	for (size_t i = 0; i < cr->nitems; i++) {
		uint64_t version = 0, as_of = 0;
		size_t any = 0;
		ic.len = id.len = 0;
		for (size_t j = 0; j < cr->ncs; j++) {
			const ledger_view *v = &views[i * cr->ncs + j];
			const char *cname = cr->cs[j]->name;
			if (!v->known) {
				sbuf_adds(&missing, nmissing++ ? ",\"" : "\"");
				sbuf_adds(&missing, cr->items[i]);
				sbuf_add(&missing, "/", 1);
				sbuf_adds(&missing, cname);
				sbuf_add(&missing, "\"", 1);
				continue;
			}
			char d[DISPLAY_MAX];
			display_count(v->count, d, sizeof d);
			sbuf_addkey(&ic, any ? "," : "", cname);
			sbuf_addu64(&ic, v->count);
			sbuf_addkey(&id, any ? "," : "", cname);
			sbuf_add(&id, "\"", 1);
			sbuf_adds(&id, d);
			sbuf_add(&id, "\"", 1);
			any++;
			if (v->version > version)
				version = v->version;
			if (v->as_of > as_of)
				as_of = v->as_of;
			/* The ETag chains a hash over every (item, counter, count,
			 * version) answered. */
			uint64_t hv[2] = {v->count, v->version};
			tag = XXH64(cr->items[i], strlen(cr->items[i]), tag);
			tag = XXH64(cname, strlen(cname), tag);
			tag = XXH64(hv, sizeof hv, tag);
		}
		if (!any)
			continue;
		const char *sep = nknown++ ? "," : "";
		sbuf_addkey(&counts, sep, cr->items[i]);
		add_object(&counts, &ic);
		sbuf_addkey(&disp, sep, cr->items[i]);
		add_object(&disp, &id);
		sbuf_addkey(&fresh, sep, cr->items[i]);
		sbuf_adds(&fresh, "{\"version\":");
		sbuf_addu64(&fresh, version);
		sbuf_adds(&fresh, ",\"as_of\":");
		sbuf_addu64(&fresh, as_of);
		sbuf_add(&fresh, "}", 1);
	}
	if (!nknown) {
		a->st.unknown_503++;
		api_error(resp, 503, "count_unavailable",
			  "this edge has none of these counts yet and central cannot be reached");
	} else {
		char etag[40];
		snprintf(etag, sizeof etag, "\"b%016" PRIx64 "\"", tag);
		if (api_cacheable(a, req, resp, etag)) {
			api_respond(resp, 304, NULL, 0);
		} else {
			sbuf b;
			sbuf_init(&b);
			sbuf_adds(&b, "{\"counts\":");
			add_object(&b, &counts);
			sbuf_adds(&b, ",\"display\":");
			add_object(&b, &disp);
			sbuf_adds(&b, ",\"freshness\":");
			add_object(&b, &fresh);
			if (nmissing) {
				sbuf_adds(&b, ",\"missing\":[");
				sbuf_add(&b, missing.p, missing.len);
				sbuf_add(&b, "]", 1);
			}
			sbuf_add(&b, "}", 1);
			size_t len;
			char *body = sbuf_take(&b, &len);
			api_respond(resp, 200, body, len);
		}
	}
	sbuf_free(&counts);
	sbuf_free(&disp);
	sbuf_free(&fresh);
	sbuf_free(&missing);
	sbuf_free(&ic);
	sbuf_free(&id);
}

void api_counts(api *a, const http_request *req, http_response *resp, need *n)
{
	struct evkeyvalq q;
	if (api_query(req->path, &q)) {
		evhttp_clear_headers(&q);
		api_error(resp, 400, "bad_query", "the query string does not parse");
		return;
	}
	counts_req cr = {.items = xcalloc(a->cfg.max_items ? a->cfg.max_items : 1,
					  sizeof *cr.items)};
	smap_init(&cr.seen);
	parse_ctx pc = {.a = a, .cr = &cr};
	const char *items = evhttp_find_header(&q, "items");
	const char *cnames = evhttp_find_header(&q, "counters");
	ledger_view *views = NULL;
	if (!items || !items[0]) {
		api_error(resp, 400, "invalid_item", "items=type:id,... is required");
		goto out;
	}
	if (each_name(items, add_item, &pc) ||
	    (cnames && cnames[0] && each_name(cnames, add_counter, &pc))) {
		api_error(resp, 400, pc.why, pc.why_buf);
		goto out;
	}
	if (!cr.ncs)
		for (size_t i = 0; i < a->counters.n; i++)
			cr.cs[cr.ncs++] = &a->counters.defs[i];

	views = xcalloc(cr.nitems * cr.ncs, sizeof *views);
	for (size_t i = 0; i < cr.nitems; i++) {
		for (size_t j = 0; j < cr.ncs; j++) {
			int rc = api_view(a, n, cr.cs[j], cr.items[i], &views[i * cr.ncs + j]);
			if (rc < 0) {
				api_error(resp, 503, "store_unavailable", "counts could not be read");
				goto out;
			}
		}
	}
	if (api_need_any(n))
		goto out; /* asks central, then runs again */

	answer_counts(a, req, resp, &cr, views);
out:
	free(views);
	free(cr.items);
	smap_free(&cr.seen);
	evhttp_clear_headers(&q);
}

/* --- POST /v1/ops --------------------------------------------------------- */

typedef struct ops_plan {
	size_t n;
	write_req *w;      /* per op */
	write_result *res; /* per op: status 200 for the ops handed to the ledger */
	size_t *slot;      /* per op: its index among the ledger's ops */
} ops_plan;

static void op_refuse(ops_plan *pl, size_t i, int status, const char *code, const char *msg)
{
	pl->res[i] = (write_result){status, code, msg};
}

/* Checks op i of the body; a refusal is recorded in its result. */
static void parse_op(api *a, json_t *o, ops_plan *pl, size_t i)
{
	write_req *w = &pl->w[i];
	pl->res[i].status = 200;
	if (!json_is_object(o)) {
		op_refuse(pl, i, 400, "invalid_op", "each op is a JSON object");
		return;
	}
	json_t *op = json_object_get(o, "op"), *item = json_object_get(o, "item");
	json_t *counter = json_object_get(o, "counter"), *n = json_object_get(o, "n");
	json_t *clock = json_object_get(o, "hlc");
	const char *ops = json_string_value(op);
	if (!ops || (strcmp(ops, "add") && strcmp(ops, "remove"))) {
		op_refuse(pl, i, 400, "invalid_op", "op is \"add\" or \"remove\"");
		return;
	}
	w->add = strcmp(ops, "add") == 0;
	const char *is = json_string_value(item);
	if (!is || !api_item_ok(a, is, json_string_length(item))) {
		op_refuse(pl, i, 400, "invalid_item",
			  "item is type:id with a configured type and an id matching "
			  "[A-Za-z0-9_-]{1,64}");
		return;
	}
	snprintf(w->item, sizeof w->item, "%s", is);
	const char *cs = json_string_value(counter);
	w->c = cs ? counters_find(&a->counters, cs, json_string_length(counter)) : NULL;
	if (!w->c) {
		op_refuse(pl, i, 404, "unknown_counter", "no such counter");
		return;
	}
	if (w->c->kind == COUNTER_SUM && !w->add) {
		op_refuse(pl, i, 405, "method_not_allowed", "a sum counter cannot be removed from");
		return;
	}
	w->n = 1;
	if (n) {
		json_int_t k = json_is_integer(n) ? json_integer_value(n) : 0;
		if (k < 1 || k > COUNTER_SUM_MAX || (w->c->kind == COUNTER_SET && k != 1)) {
			op_refuse(pl, i, 400, "invalid_body",
				  w->c->kind == COUNTER_SET ? "n must be 1 for this counter"
							    : "n must be an integer from 1 to 1000");
			return;
		}
		w->n = (uint32_t)k;
	}
	if (clock) {
		if (!json_is_integer(clock) || json_integer_value(clock) < 0) {
			op_refuse(pl, i, 400, "invalid_body", "hlc must be a non-negative integer");
			return;
		}
		w->client_hlc = (uint64_t)json_integer_value(clock);
	}
}

/* The whole answer: one result per op, in order. */
static char *render_ops(void *ctx, const ledger_answer *answers, size_t nans, size_t *len)
{
	const ops_plan *pl = ctx;
	sbuf b;
	sbuf_init(&b);
	sbuf_adds(&b, "{\"results\":[");
	for (size_t i = 0; i < pl->n; i++) {
		sbuf_addf(&b, "%s{\"status\":%d,\"body\":", i ? "," : "", pl->res[i].status);
		if (pl->res[i].status == 200 && pl->slot[i] < nans)
			api_write_json(&b, &pl->w[i], &answers[pl->slot[i]]);
		else
			api_error_json(&b, pl->res[i].code, pl->res[i].message);
		sbuf_adds(&b, "}");
	}
	sbuf_adds(&b, "]}");
	return sbuf_take(&b, len);
}

/* Parses the body into pl; false with a 400 in resp when it is not
 * {"ops": [...]} with 1..max_ops entries. */
static bool parse_ops(api *a, const http_request *req, http_response *resp, ops_plan *pl)
{
	json_error_t jerr;
	json_t *root = req->body_len ? json_loadb(req->body, req->body_len,
						   JSON_REJECT_DUPLICATES, &jerr)
				     : NULL;
	json_t *ops = json_object_get(root, "ops");
	bool ok = false;
	if (!json_is_array(ops) || json_array_size(ops) == 0) {
		api_error(resp, 400, "invalid_body", "the body is {\"ops\": [ ... ]} with 1 or more ops");
	} else if (json_array_size(ops) > a->cfg.max_ops) {
		char msg[64];
		snprintf(msg, sizeof msg, "at most %u ops per request", a->cfg.max_ops);
		api_error(resp, 400, "too_many_ops", msg);
	} else {
		pl->n = json_array_size(ops);
		pl->w = xcalloc(pl->n, sizeof *pl->w);
		pl->res = xcalloc(pl->n, sizeof *pl->res);
		pl->slot = xcalloc(pl->n, sizeof *pl->slot);
		for (size_t i = 0; i < pl->n; i++)
			parse_op(a, json_array_get(ops, i), pl, i);
		ok = true;
	}
	json_decref(root);
	return ok;
}

void api_ops(api *a, const http_request *req, http_response *resp, need *n)
{
	char user[USER_MAX + 1];
	if (!api_user(a, req, resp, user))
		return;
	char keybuf[IDEM_KEY_MAX + 1];
	bool key;
	if (!api_idem_key(req, resp, keybuf, &key))
		return;
	ops_plan pl = {0};
	if (!parse_ops(a, req, resp, &pl))
		return;
	ledger_op *lops = xcalloc(pl.n, sizeof *lops);
	ledger_answer *ans = xcalloc(pl.n, sizeof *ans);
	size_t nl = 0;
	for (size_t i = 0; i < pl.n; i++) {
		write_req *w = &pl.w[i];
		if (pl.res[i].status != 200)
			continue;
		int prior = -1, rc = 0;
		const char *source;
		ledger_view v;
		if (w->c->kind == COUNTER_SET && !w->add)
			rc = api_membership(a, n, w->c->name, w->item, user, &prior, &source);
		if (rc == 0)
			rc = api_view(a, n, w->c, w->item, &v);
		if (rc < 0) {
			api_error(resp, 503, "store_unavailable", "the ops could not be recorded");
			goto out;
		}
		pl.slot[i] = nl;
		lops[nl++] = (ledger_op){.counter = w->c->name, .item = w->item, .user = user,
					 .sum = w->c->kind == COUNTER_SUM, .add = w->add, .n = w->n,
					 .prior = prior, .client_hlc = w->client_hlc};
	}
	if (api_need_any(n))
		goto out; /* asks central, then runs again */
	size_t len;
	char *body;
	if (nl == 0) {
		/* Nothing to record: every op was refused on its own. */
		body = render_ops(&pl, ans, 0, &len);
		api_respond(resp, 200, body, len);
		goto out;
	}
	uint64_t now = clock_wall_ms();
	ledger_idem idem = {.render = render_ops, .ctx = &pl};
	if (key)
		idem.req = (idem_req){user, keybuf,
				      idem_fingerprint(req->method, req->path, req->body,
						       req->body_len),
				      now + a->cfg.idem_retention_ms};
	ledger_replay replay;
	int rc = ledger_stage_ops(a->lg, lops, nl, now, ans, key ? &idem : NULL, &replay,
				  n->ticket);
	if (rc == ERR_CONFLICT) {
		write_result e = api_write_error(rc);
		api_error(resp, e.status, e.code, e.message);
		goto out;
	}
	api_header(resp, "cache-control", "no-store");
	if (rc == 0 && replay.replayed) {
		a->st.replayed++;
		api_header(resp, "idempotent-replayed", "true");
		api_respond(resp, replay.status, replay.body, replay.len);
		goto out;
	}
	if (rc) {
		/* Nothing was recorded: every op the ledger had gets the error. */
		write_result e = api_write_error(rc);
		for (size_t i = 0; i < pl.n; i++)
			if (pl.res[i].status == 200)
				pl.res[i] = e;
		api_header(resp, "retry-after", rc == ERR_FULL ? "5" : "1");
		uint64_t skipped;
		if (rc != ERR_FULL && log_every(&a->write_errors, 1000, &skipped))
			log_error("ops write failed", "ops=%zu err=\"%s\" similar_since_last=%" PRIu64,
				  nl, err_str(rc), skipped);
		nl = 0;
	}
	body = render_ops(&pl, ans, nl, &len);
	api_respond(resp, 200, body, len);
	if (n->ticket && n->ticket->state == LEDGER_STAGED) {
		/* Should the group's write fail, every op the ledger had gets
		 * its error, as when this call's own write fails above. */
		write_result e = api_write_error(ERR_IO);
		for (size_t i = 0; i < pl.n; i++)
			if (pl.res[i].status == 200)
				pl.res[i] = e;
		n->fail_body = render_ops(&pl, ans, 0, &n->fail_len);
	}
out:
	free(lops);
	free(ans);
	free(pl.w);
	free(pl.res);
	free(pl.slot);
}
