/* api_batch.c - the batch routes (api_int.h): GET /v1/counts, a feed
 * page's counts in one pass over local state; GET /v1/me, a feed page's
 * memberships; and POST /v1/ops, a client's debounced taps in one atomic
 * write. The two feed reads may wait for central, keeping their parsed
 * items and counters (api_feed_keep), and resume at their answer step.
 * Loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "edge/api/api_int.h"
#include "clock.h"
#include "display.h"
#include "log.h"
#include "query.h"
#include "xmem.h"

/* --- GET /v1/counts ------------------------------------------------------- */

/* A feed page's request fits on the stack; larger ones take one
 * allocation per array. */
#define COUNTS_ITEMS_STACK 128 /* distinct items */
#define COUNTS_VIEWS_STACK 256 /* items x counters */

/* A feed request being parsed: its items and counters (f, the items
 * inside the decoded query), and what the parse needs besides. */
typedef struct counts_req {
	api_feed f;
	size_t cap;
	uint32_t *seen; /* open addressing over items: index + 1, 0 = empty */
	size_t seen_mask;
	const char *code; /* a refusal: 400 with code and why */
	char why[256];
} counts_req;

/* Quotes n bytes of s (at most max) for an error message (api_error
 * escapes the message for JSON); control and non-ASCII bytes become '?',
 * so a message never carries bytes that are not text. */
static void quote_into(char *out, size_t cap, const char *s, size_t n, size_t max)
{
	size_t j = 0;
	if (n > max)
		n = max;
	out[j++] = '"';
	for (size_t i = 0; i < n && j + 3 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[j++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[j++] = '"';
	out[j] = 0;
}

static void refuse(counts_req *cr, const char *code, const char *before, const char *s, size_t n,
                   size_t max, const char *after)
{
	char q[2 * 80 + 8];
	quote_into(q, sizeof q, s, n, max);
	cr->code = code;
	snprintf(cr->why, sizeof cr->why, "%s%s%s", before, q, after);
}

/* Splits the items list (in place: commas become NULs) into cr, a repeat
 * counting once. 0, or 1 with the refusal in cr. */
static int parse_items(api *a, counts_req *cr, char *list)
{
	char *p = list;
	for (;;) {
		char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (!api_item_ok(a, p, n)) {
			refuse(cr, "invalid_item", "item ", p, n, 80,
			       " is not type:id with a configured type and an id matching "
			       "[A-Za-z0-9_-]{1,64}");
			return 1;
		}
		size_t h = (size_t)XXH3_64bits(p, n) & cr->seen_mask;
		bool repeat = false;
		for (; cr->seen[h]; h = (h + 1) & cr->seen_mask) {
			size_t k = cr->seen[h] - 1;
			if (cr->f.ilen[k] == n && memcmp(cr->f.items[k], p, n) == 0) {
				repeat = true;
				break;
			}
		}
		if (!repeat) {
			if (cr->f.nitems == a->cfg.max_items) {
				cr->code = "too_many_items";
				snprintf(cr->why, sizeof cr->why, "at most %u items per request",
				         a->cfg.max_items);
				return 1;
			}
			cr->seen[h] = (uint32_t)cr->f.nitems + 1;
			cr->f.items[cr->f.nitems] = p;
			cr->f.ilen[cr->f.nitems++] = n;
			p[n] = 0;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* The counters list into cr. 0, or 1 with the refusal in cr. */
static int parse_counters(api *a, counts_req *cr, const char *list)
{
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const counter_def *c = counters_find(&a->counters, p, n);
		if (!c) {
			refuse(cr, "unknown_counter", "no counter named ", p, n, 40, "");
			return 1;
		}
		bool dup = false;
		for (size_t i = 0; i < cr->f.ncs; i++)
			dup = dup || cr->f.cs[i] == c;
		if (!dup)
			cr->f.cs[cr->f.ncs++] = c;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Opens item i's object in one of the answer's maps: ,"item":{ (one
 * check for room, then plain stores: this runs three times an item). */
static void open_item(sbuf *b, const api_feed *f, size_t i, bool first)
{
	size_t n = f->ilen[i];
	if (b->len + n + 5 >= b->cap)
		sbuf_reserve(b, n + 5);
	char *w = b->p + b->len;
	if (!first)
		*w++ = ',';
	*w++ = '"';
	memcpy(w, f->items[i], n);
	w += n;
	*w++ = '"';
	*w++ = ':';
	*w++ = '{';
	*w = 0;
	b->len = (size_t)(w - b->p);
}

/* ,"counter": */
static void put_key(sbuf *b, const api_feed *f, size_t j, bool first)
{
	size_t n = f->cl[j];
	if (b->len + n + 4 >= b->cap)
		sbuf_reserve(b, n + 4);
	char *w = b->p + b->len;
	if (!first)
		*w++ = ',';
	*w++ = '"';
	memcpy(w, f->cs[j]->name, n);
	w += n;
	*w++ = '"';
	*w++ = ':';
	*w = 0;
	b->len = (size_t)(w - b->p);
}

/* Writes the answer: counts, display strings, version and as_of per
 * item, and what is missing (unknown here, central unreachable). One pass
 * finds the ETag, what is known and a bound on the size; the answer is
 * then written into one buffer of that size, a map at a time, without
 * printf: a feed page has hundreds of fields. */
/* One of the answer's item -> {counter: value} maps: the counts, or
 * (display) their display strings. Items with no known count are left
 * out. */
static void put_map(sbuf *b, const api_feed *f, const ledger_view *views, size_t ncs, bool display)
{
	size_t k = 0;
	for (size_t i = 0; i < f->nitems; i++) {
		bool first = true;
		for (size_t j = 0; j < ncs; j++) {
			const ledger_view *v = &views[i * ncs + j];
			if (!v->known)
				continue;
			if (first)
				open_item(b, f, i, k++ == 0);
			put_key(b, f, j, first);
			if (display) {
				char d[DISPLAY_MAX];
				size_t dl = display_count(v->count, d, sizeof d);
				sbuf_putl(b, "\"");
				sbuf_put(b, d, dl);
				sbuf_putl(b, "\"");
			} else {
				sbuf_put_u64(b, v->count);
			}
			first = false;
		}
		if (!first)
			sbuf_putl(b, "}");
	}
}

/* req is NULL in the continuation. */
static void answer_counts(api *a, const api_ctx *x, const http_request *req, http_response *resp,
                          const api_feed *f, const ledger_view *views)
{
	const size_t ncs = f->ncs;
	/* The ETag is a hash over every (item, counter, count, version)
	 * answered: the tuples are packed into hb and hashed a buffer at a
	 * time, not a field at a time. */
	unsigned char hb[2048];
	size_t hl = 0;
	uint64_t tag = 0;
	size_t nknown = 0, nmissing = 0, size = 64;
	for (size_t i = 0; i < f->nitems; i++) {
		bool any = false;
		for (size_t j = 0; j < ncs; j++) {
			const ledger_view *v = &views[i * ncs + j];
			if (!v->known) {
				nmissing++;
				size += f->ilen[i] + f->cl[j] + 4;
				continue;
			}
			any = true;
			size += 2 * f->cl[j] + SBUF_U64_MAX + DISPLAY_MAX + 10;
			size_t rec = f->ilen[i] + f->cl[j] + 2 + 2 * sizeof(uint64_t);
			if (hl + rec > sizeof hb) {
				tag = XXH3_64bits_withSeed(hb, hl, tag);
				hl = 0;
			}
			memcpy(hb + hl, f->items[i], f->ilen[i] + 1);
			hl += f->ilen[i] + 1;
			memcpy(hb + hl, f->cs[j]->name, f->cl[j] + 1);
			hl += f->cl[j] + 1;
			memcpy(hb + hl, &v->count, sizeof v->count);
			memcpy(hb + hl + 8, &v->version, sizeof v->version);
			hl += 2 * sizeof(uint64_t);
		}
		if (any) {
			nknown++;
			size += 3 * f->ilen[i] + 2 * SBUF_U64_MAX + 40;
		}
	}
	tag = XXH3_64bits_withSeed(hb, hl, tag);
	if (!nknown) {
		a->st.unknown_503++;
		api_error(resp, 503, "count_unavailable",
		          "this edge has none of these counts yet and central cannot be reached");
		return;
	}
	static const char hex[] = "0123456789abcdef";
	char etag[20];
	etag[0] = '"';
	etag[1] = 'b';
	for (int k = 0; k < 16; k++)
		etag[2 + k] = hex[(tag >> (60 - 4 * k)) & 15];
	etag[18] = '"';
	etag[19] = 0;
	if (api_cacheable(a, x, req, resp, etag)) {
		api_respond(resp, 304, NULL, 0);
		return;
	}

	sbuf b;
	sbuf_init(&b);
	sbuf_reserve(&b, size);
	sbuf_putl(&b, "{\"counts\":{");
	put_map(&b, f, views, ncs, false);
	sbuf_putl(&b, "},\"display\":{");
	put_map(&b, f, views, ncs, true);
	/* "freshness": the newest version and as_of among the item's counts */
	sbuf_putl(&b, "},\"freshness\":{");
	size_t k = 0;
	for (size_t i = 0; i < f->nitems; i++) {
		uint64_t version = 0, as_of = 0;
		bool any = false;
		for (size_t j = 0; j < ncs; j++) {
			const ledger_view *v = &views[i * ncs + j];
			if (!v->known)
				continue;
			any = true;
			if (v->version > version)
				version = v->version;
			if (v->as_of > as_of)
				as_of = v->as_of;
		}
		if (!any)
			continue;
		open_item(&b, f, i, k++ == 0);
		sbuf_putl(&b, "\"version\":");
		sbuf_put_u64(&b, version);
		sbuf_putl(&b, ",\"as_of\":");
		sbuf_put_u64(&b, as_of);
		sbuf_putl(&b, "}");
	}
	sbuf_putl(&b, "}");
	if (nmissing) {
		sbuf_putl(&b, ",\"missing\":[");
		k = 0;
		for (size_t i = 0; i < f->nitems; i++) {
			for (size_t j = 0; j < ncs; j++) {
				if (views[i * ncs + j].known)
					continue;
				sbuf_put(&b, k ? ",\"" : "\"", k ? 2 : 1);
				k++;
				sbuf_put(&b, f->items[i], f->ilen[i]);
				sbuf_putl(&b, "/");
				sbuf_put(&b, f->cs[j]->name, f->cl[j]);
				sbuf_putl(&b, "\"");
			}
		}
		sbuf_putl(&b, "]");
	}
	sbuf_putl(&b, "}");
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
}

/* Elements in a comma-separated list. */
static size_t count_elements(const char *s)
{
	size_t n = 1;
	while ((s = strchr(s, ',')))
		n++, s++;
	return n;
}

/* Where a feed request's query and items live: on the stack for a feed
 * page, allocated past it (feed_free releases what was). */
typedef struct feed_stack {
	query q; /* the decoded query; the items point into it */
	char *items[COUNTS_ITEMS_STACK];
	size_t ilen[COUNTS_ITEMS_STACK];
	uint32_t seen[2 * COUNTS_ITEMS_STACK];
} feed_stack;

static void feed_free(feed_stack *fs, counts_req *cr)
{
	if (cr->f.items && cr->f.items != fs->items) {
		free(cr->f.items);
		free(cr->f.ilen);
		free(cr->seen);
	}
	query_free(&fs->q);
}

/* Parses ?items=...[&counters=...] of a feed request (GET /v1/counts,
 * GET /v1/me) into cr: the distinct items, at most api.max_items, and
 * the counters named (none: cr->f.ncs 0, the caller's default). false with
 * a 400 in resp. feed_free afterwards, either way. */
static bool feed_parse(api *a, const http_request *req, http_response *resp, feed_stack *fs,
                       counts_req *cr)
{
	*cr = (counts_req){.f = {.items = fs->items, .ilen = fs->ilen}, .seen = fs->seen};
	int rc = query_parse_target(&fs->q, req->path);
	if (rc) {
		api_error(resp, 400, "bad_query",
		          rc == ERR_TOOBIG ? "too many query parameters"
		                           : "the query string does not parse");
		return false;
	}
	/* The values live in fs->q's own buffer, which parse_items splits
	 * in place. */
	char *items = (char *)query_get(&fs->q, "items");
	char *cnames = (char *)query_get(&fs->q, "counters");
	if (!items || !items[0]) {
		api_error(resp, 400, "invalid_item", "items=type:id,... is required");
		return false;
	}
	/* At most max_items distinct items are kept; the table that finds
	 * repeats is at least twice that, a power of two. */
	cr->cap = count_elements(items);
	if (cr->cap > a->cfg.max_items)
		cr->cap = a->cfg.max_items;
	size_t slots = 4;
	while (slots < 2 * cr->cap)
		slots *= 2;
	if (cr->cap > COUNTS_ITEMS_STACK) {
		cr->f.items = xmalloc(cr->cap * sizeof *cr->f.items);
		cr->f.ilen = xmalloc(cr->cap * sizeof *cr->f.ilen);
		cr->seen = xmalloc(slots * sizeof *cr->seen);
	}
	memset(cr->seen, 0, slots * sizeof *cr->seen);
	cr->seen_mask = slots - 1;
	if (parse_items(a, cr, items) || (cnames && cnames[0] && parse_counters(a, cr, cnames))) {
		if (strcmp(cr->code, "too_many_items") == 0)
			guard_count(a->guard, GUARD_BATCH);
		api_error(resp, 400, cr->code, cr->why);
		return false;
	}
	return true;
}

/* Where a feed read resumes once central answered. */
enum { STEP_COUNTS = 1, STEP_ME };

static void feed_resume(api *a, api_ctx *x, http_response *resp);

/* Every count of f into views (f->nitems x f->ncs) by ledger_read_many,
 * using refs as room. 0 or the ledger's error. */
static int read_counts(api *a, const api_feed *f, ledger_ref *refs, ledger_view *views)
{
	size_t nv = f->nitems * f->ncs;
	for (size_t i = 0; i < f->nitems; i++)
		for (size_t j = 0; j < f->ncs; j++)
			refs[i * f->ncs + j] =
			    (ledger_ref){f->cs[j]->name, f->items[i], f->cl[j], f->ilen[i]};
	return ledger_read_many(a->lg, refs, nv, views);
}

/* Reads f's counts and answers them (req: NULL in the continuation);
 * with x->n, a count not known here is asked of central instead and
 * API_AGAIN returned, the feed kept in x. */
static int counts_step(api *a, api_ctx *x, const http_request *req, http_response *resp,
                       const api_feed *f)
{
	/* The answers live on the stack for a feed page; nothing is
	 * allocated but the answer. */
	ledger_view vstack[COUNTS_VIEWS_STACK];
	ledger_view *views = vstack;
	ledger_ref rstack[COUNTS_VIEWS_STACK];
	ledger_ref *refs = rstack;
	int rc = API_DONE;
	size_t nv = f->nitems * f->ncs;
	if (nv > COUNTS_VIEWS_STACK) {
		views = xmalloc(nv * sizeof *views);
		refs = xmalloc(nv * sizeof *refs);
	}
	int read_rc = read_counts(a, f, refs, views);
	if (read_rc == ERR_FENCED) {
		api_error(resp, 503, "not_active",
		          "this instance is not the region's active edge: try its other one");
		goto out;
	}
	if (read_rc) {
		api_error(resp, 503, "store_unavailable", "counts could not be read");
		goto out;
	}
	if (x->n)
		for (size_t k = 0; k < nv; k++)
			if (!views[k].known)
				api_need_count(a, x->n, f->cs[k % f->ncs], f->items[k / f->ncs]);
	if (api_need_any(x->n)) {
		api_feed_keep(x, f);
		rc = api_again(x, req, feed_resume, STEP_COUNTS, true);
		goto out;
	}
	answer_counts(a, x, req, resp, f, views);
out:
	if (views != vstack) {
		free(views);
		free(refs);
	}
	return rc;
}

int api_counts(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	/* The query and the items live on the stack for a feed page. */
	feed_stack fs;
	counts_req cr;
	int rc = API_DONE;
	if (feed_parse(a, req, resp, &fs, &cr)) {
		api_feed *f = &cr.f;
		if (!f->ncs)
			for (size_t i = 0; i < a->counters.n; i++)
				f->cs[f->ncs++] = &a->counters.defs[i];
		for (size_t j = 0; j < f->ncs; j++)
			f->cl[j] = strlen(f->cs[j]->name);
		rc = counts_step(a, x, req, resp, f);
	}
	feed_free(&fs, &cr);
	return rc;
}

/* --- GET /v1/me ----------------------------------------------------------- */

/* The membership of x's user in every (item, counter) of f into states
 * (-1: unknown), local or cached, with x->n: else asked of central. 0,
 * or the ledger's error. */
static int me_states(api *a, api_ctx *x, const api_feed *f, int8_t *states)
{
	for (size_t i = 0; i < f->nitems; i++) {
		for (size_t j = 0; j < f->ncs; j++) {
			int st;
			const char *source;
			int rc = api_membership(a, x, f->cs[j]->name, f->items[i], x->who.user, &st,
			                        &source);
			if (rc)
				return rc;
			states[i * f->ncs + j] = (int8_t)st;
		}
	}
	return 0;
}

/* The memberships of f (states from me_states) as GET /v1/me answers. */
static void answer_me(const api_feed *f, const int8_t *states, http_response *resp)
{
	api_header(resp, "cache-control", "private, no-store");
	sbuf b;
	sbuf_init(&b);
	sbuf_adds(&b, "{\"me\":{");
	size_t unknown = 0;
	bool first_item = true;
	for (size_t i = 0; i < f->nitems; i++) {
		bool first = true;
		for (size_t j = 0; j < f->ncs; j++) {
			int8_t st = states[i * f->ncs + j];
			if (st < 0) {
				unknown++;
				continue;
			}
			if (first)
				sbuf_addf(&b, "%s\"%s\":{", first_item ? "" : ",", f->items[i]);
			sbuf_addf(&b, "%s\"%s\":%s", first ? "" : ",", f->cs[j]->name,
			          st ? "true" : "false");
			first = first_item = false;
		}
		if (!first)
			sbuf_adds(&b, "}");
	}
	sbuf_adds(&b, "}");
	if (unknown) {
		sbuf_adds(&b, ",\"unknown\":[");
		bool first = true;
		for (size_t i = 0; i < f->nitems; i++)
			for (size_t j = 0; j < f->ncs; j++)
				if (states[i * f->ncs + j] < 0) {
					sbuf_addf(&b, "%s\"%s/%s\"", first ? "" : ",", f->items[i],
					          f->cs[j]->name);
					first = false;
				}
		sbuf_adds(&b, "]");
	}
	sbuf_adds(&b, "}");
	if (unknown == f->nitems * f->ncs) {
		sbuf_free(&b);
		api_error(resp, 503, "membership_unavailable",
		          "this edge has not seen these pairs and central cannot be reached");
		return;
	}
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
}

/* Looks up f's memberships and answers them (req: NULL in the
 * continuation); with x->n, the pairs not known here are asked of
 * central instead and API_AGAIN returned, the feed kept in x. */
static int me_step(api *a, api_ctx *x, const http_request *req, http_response *resp,
                   const api_feed *f)
{
	/* Known here or cached, else asked of central: every lookup of this
	 * request, with those of the loop turn's other requests, in one
	 * request per shard. */
	int8_t *states = xmalloc(f->nitems * f->ncs + 1);
	int rc = API_DONE;
	if (me_states(a, x, f, states)) {
		api_error(resp, 503, "store_unavailable", "membership could not be read");
	} else if (api_need_any(x->n)) {
		api_feed_keep(x, f);
		rc = api_again(x, req, feed_resume, STEP_ME, false);
	} else {
		answer_me(f, states, resp);
	}
	free(states);
	return rc;
}

int api_me_batch(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	if (!api_user(a, x, req, resp))
		return API_DONE;
	feed_stack fs;
	counts_req cr;
	int rc = API_DONE;
	if (!feed_parse(a, req, resp, &fs, &cr))
		goto out;
	api_feed *f = &cr.f;
	if (!f->ncs)
		for (size_t i = 0; i < a->counters.n; i++)
			if (a->counters.defs[i].kind == COUNTER_SET)
				f->cs[f->ncs++] = &a->counters.defs[i];
	for (size_t j = 0; j < f->ncs; j++) {
		if (f->cs[j]->kind != COUNTER_SET) {
			api_error(resp, 400, "unknown_counter", "/me exists for set counters only");
			goto out;
		}
		f->cl[j] = strlen(f->cs[j]->name);
	}
	rc = me_step(a, x, req, resp, f);
out:
	feed_free(&fs, &cr);
	return rc;
}

/* The step after the lookup of a feed read: the same answer, from what
 * the edge knows now, over the feed kept in x. */
static void feed_resume(api *a, api_ctx *x, http_response *resp)
{
	switch (x->step) {
	case STEP_COUNTS: (void)counts_step(a, x, NULL, resp, &x->st.feed); break;
	case STEP_ME: (void)me_step(a, x, NULL, resp, &x->st.feed); break;
	default: api_error(resp, 500, "internal", "no such step"); break;
	}
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
	if (json_object_size(o) != (size_t)(!!op + !!item + !!counter + !!n + !!clock)) {
		op_refuse(pl, i, 400, "invalid_op",
		          "unknown field: an op may hold op, item, counter, n and hlc only");
		return;
	}
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
			          w->c->kind == COUNTER_SET
			              ? "n must be 1 for this counter"
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
	json_t *root = req->body_len
	                   ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)
	                   : NULL;
	json_t *ops = json_object_get(root, "ops");
	bool ok = false;
	if (!json_is_array(ops) || json_array_size(ops) == 0) {
		api_error(resp, 400, "invalid_body",
		          "the body is {\"ops\": [ ... ]} with 1 or more ops");
	} else if (json_array_size(ops) > a->cfg.max_ops) {
		char msg[64];
		snprintf(msg, sizeof msg, "at most %u ops per request", a->cfg.max_ops);
		guard_count(a->guard, GUARD_BATCH);
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

/* With its ticket staged, the answer a batch gets should its group's
 * write fail (it may have already: the commit thread can take the group
 * before the route returns): every op the ledger had gets the error, as
 * when the call's own write fails. A retry following its first try's
 * group gets the same. */
static void keep_fail_body(api_ctx *x, ops_plan *pl, const ledger_answer *ans)
{
	if (!ledger_ticket_staged(x->ticket))
		return;
	write_result e = api_write_error(ERR_IO);
	for (size_t i = 0; i < pl->n; i++)
		if (pl->res[i].status == 200)
			pl->res[i] = e;
	x->fail_body = render_ops(pl, ans, 0, &x->fail_len);
}

int api_ops(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	const char *user = x->who.user;
	if (!api_user(a, x, req, resp))
		return API_DONE;
	char keybuf[IDEM_KEY_MAX + 1];
	bool key;
	if (!api_idem_key(req, resp, keybuf, &key))
		return API_DONE;
	ops_plan pl = {0};
	if (!parse_ops(a, req, resp, &pl))
		return API_DONE;
	unsigned valid = 0;
	for (size_t i = 0; i < pl.n; i++)
		valid += pl.res[i].status == 200;
	if (!api_charge_writes(a, user, valid, resp)) {
		free(pl.w);
		free(pl.res);
		free(pl.slot);
		return API_DONE;
	}
	ledger_answer *ans = xcalloc(pl.n, sizeof *ans);
	bool *skip = xcalloc(pl.n, sizeof *skip);
	for (size_t i = 0; i < pl.n; i++)
		skip[i] = pl.res[i].status != 200;
	size_t len, nl = valid;
	char *body;
	if (valid == 0) {
		/* Nothing to record: every op was refused on its own. */
		body = render_ops(&pl, ans, 0, &len);
		api_respond(resp, 200, body, len);
		goto out;
	}
	ledger_replay replay;
	int rc = api_stage_writes(a, x, req, key ? keybuf : NULL, pl.w, skip, pl.n, render_ops, &pl,
	                          ans, pl.slot, &nl, &replay);
	if (rc == ERR_CONFLICT) {
		write_result e = api_write_error(rc);
		api_error(resp, e.status, e.code, e.message);
		goto out;
	}
	api_header(resp, "cache-control", "no-store");
	if (rc == 0 && replay.replayed) {
		/* Its first try's answer: from the store, or (the ticket
		 * staged) from the group the first try is in, whose outcome
		 * this retry then shares (keep_fail_body). */
		a->st.replayed++;
		api_header(resp, "idempotent-replayed", "true");
		api_respond(resp, replay.status, replay.body, replay.len);
		keep_fail_body(x, &pl, ans);
		goto out;
	}
	if (rc) {
		/* Nothing was recorded: every op the ledger had gets the error. */
		write_result e = api_write_error(rc);
		for (size_t i = 0; i < pl.n; i++)
			if (pl.res[i].status == 200)
				pl.res[i] = e;
		if (e.status == 503)
			api_header(resp, "retry-after", rc == ERR_FULL ? "5" : "1");
		uint64_t skipped;
		if (rc != ERR_FULL && log_every(&a->write_errors, 1000, &skipped))
			log_error("ops write failed",
			          "ops=%zu err=\"%s\" similar_since_last=%" PRIu64, nl, err_str(rc),
			          skipped);
		nl = 0;
	}
	body = render_ops(&pl, ans, nl, &len);
	api_respond(resp, 200, body, len);
	keep_fail_body(x, &pl, ans);
out:
	free(skip);
	free(ans);
	free(pl.w);
	free(pl.res);
	free(pl.slot);
	return API_DONE;
}
