/* opsread.c - the ops API's read routes (see opsapi.h): GET /v1/counts,
 * /v1/items/{type}/{id}/{counter} (with its by=region and by=day
 * breakdowns and /users/{user}), /v1/memberships and /v1/totals/{counter}.
 * Each checks every path segment and parameter before it is used and
 * answers only for items of owned partitions (421 otherwise); an answer
 * that combines several keys reads them from one store snapshot. The
 * strings that reach a JSON answer are items, counters, users, edges and
 * regions, all of a validated alphabet without '"' or '\\', so they are
 * written without escaping.
 *
 * The ops API's thread (opsapi.c dispatches to them); they only read.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "central/apply/day.h"
#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "central/apply/merge.h"
#include "central/ops/opsread.h"
#include "partition.h"
#include "central/apply/shard.h"

#define OPS_MAX_ITEMS 100
#define OPS_MAX_DAYS 366
#define OPS_DEFAULT_DAYS 30

/* ---- answers ------------------------------------------------------------- */

static void reply_store_error(struct evhttp_request *req)
{
	ops_reply_error(req, 503, "store_error", "the store could not be read");
}

/* Ends an answer read at sn: out as JSON, or a store error. */
static void reply_read(struct evhttp_request *req, store_snap *sn, struct evbuffer *out, int rc)
{
	store_snap_free(sn);
	if (rc)
		reply_store_error(req);
	else
		ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}

/* ---- query parameters ---------------------------------------------------- */

/* One element of a comma-separated list. */
typedef struct span {
	const char *p;
	size_t n;
} span;

/* Splits s on ',' into out (cap entries). Returns the number of elements
 * (which may exceed cap: only cap are stored), or -1 for an empty one. */
static int split(const char *s, span *out, int cap)
{
	int n = 0;
	for (;;) {
		const char *c = strchr(s, ',');
		size_t len = c ? (size_t)(c - s) : strlen(s);
		if (len == 0)
			return -1;
		if (n < cap)
			out[n] = (span){s, len};
		n++;
		if (!c)
			return n;
		s = c + 1;
	}
}

static bool span_in(const span *list, int n, span x)
{
	for (int i = 0; i < n; i++)
		if (list[i].n == x.n && memcmp(list[i].p, x.p, x.n) == 0)
			return true;
	return false;
}

/* ---- store reads --------------------------------------------------------- */

/* A u64 under key in the view: 0 when absent. 0 or a store error. */
static int snap_u64(store_snap *sn, const unsigned char *key, size_t kn, uint64_t *v)
{
	int rc = store_snap_read_u64(sn, key, kn, v);
	if (rc == ERR_NOTFOUND) {
		*v = 0;
		return 0;
	}
	return rc;
}

/* ---- /v1/counts ---------------------------------------------------------- */

const char *const ops_counts_params[] = {"items", "counters", "edge", NULL};

void ops_route_counts(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	const char *items_q = query_get(kv, "items");
	const char *counters_q = query_get(kv, "counters");
	const char *edge = query_get(kv, "edge");
	span items[OPS_MAX_ITEMS], raw[OPS_MAX_ITEMS];
	int nraw = items_q ? split(items_q, raw, OPS_MAX_ITEMS) : -1;
	if (nraw < 0) {
		ops_reply_error(req, 400, "invalid_item", "items must list 1 to %d items, type:id",
		                OPS_MAX_ITEMS);
		return;
	}
	if (nraw > OPS_MAX_ITEMS) {
		ops_reply_error(req, 400, "too_many_items", "at most %d items per request",
		                OPS_MAX_ITEMS);
		return;
	}
	int nitems = 0, nother = 0;
	span other[OPS_MAX_ITEMS];
	for (int i = 0; i < nraw; i++) {
		if (!item_valid(raw[i].p, raw[i].n)) {
			ops_reply_error(req, 400, "invalid_item",
			                "item %d is not type:id with id [A-Za-z0-9_-]{1,%d}", i + 1,
			                ITEM_ID_MAX);
			return;
		}
		if (span_in(items, nitems, raw[i]) || span_in(other, nother, raw[i]))
			continue;
		if (shard_owns(env->owned, partition_of(raw[i].p, raw[i].n, env->partitions)))
			items[nitems++] = raw[i];
		else
			other[nother++] = raw[i];
	}
	if (!nitems) {
		char item[ITEM_MAX + 1];
		snprintf(item, sizeof item, "%.*s", (int)other[0].n, other[0].p);
		ops_reply_not_owner(req, item,
		                    partition_of(other[0].p, other[0].n, env->partitions));
		return;
	}
	const counter_def *defs[COUNTERS_MAX];
	int ndefs = 0;
	if (counters_q) {
		span cs[COUNTERS_MAX];
		int nc = split(counters_q, cs, COUNTERS_MAX);
		if (nc < 0 || nc > COUNTERS_MAX) {
			ops_reply_error(req, 400, "unknown_counter",
			                "counters must list 1 to %d configured counters",
			                COUNTERS_MAX);
			return;
		}
		for (int i = 0; i < nc; i++) {
			const counter_def *d = counters_find(env->ctr, cs[i].p, cs[i].n);
			if (!d) {
				ops_reply_error(req, 400, "unknown_counter",
				                "counter %d is not configured at central", i + 1);
				return;
			}
			bool dup = false;
			for (int j = 0; j < ndefs; j++)
				dup = dup || defs[j] == d;
			if (!dup)
				defs[ndefs++] = d;
		}
	} else {
		for (size_t i = 0; i < env->ctr->n; i++)
			defs[ndefs++] = &env->ctr->defs[i];
	}
	if (edge && !item_edge_valid(edge, strlen(edge))) {
		ops_reply_error(req, 400, "bad_request", "edge must match [a-z0-9_-]{1,%d}",
		                EDGE_ID_MAX);
		return;
	}

	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	store_snap *sn = store_snap_new(env->db);
	uint64_t as_of = clock_wall_ms();
	int rc = 0;
	evbuffer_add_printf(out, "{\"items\":{");
	for (int i = 0; i < nitems && !rc; i++) {
		uint32_t p = partition_of(items[i].p, items[i].n, env->partitions);
		uint64_t version = 0, applied = 0;
		rc = applier_view_version(sn, p, &version);
		if (!rc && edge) {
			unsigned char key[CKEY_MAX];
			rc = snap_u64(sn, key, ckey_edge(key, CKEY_APPLIED, edge, strlen(edge), p),
			              &applied);
		}
		evbuffer_add_printf(out,
		                    "%s\"%.*s\":{\"partition\":%u,\"version\":%" PRIu64
		                    ",\"applied\":%" PRIu64 ",\"as_of\":%" PRIu64 ",\"counts\":{",
		                    i ? "," : "", (int)items[i].n, items[i].p, p, version, applied,
		                    as_of);
		for (int j = 0; j < ndefs && !rc; j++) {
			unsigned char key[CKEY_MAX];
			const char *c = defs[j]->name;
			uint64_t count = 0;
			rc = snap_u64(
			    sn, key, ckey_count(key, c, strlen(c), items[i].p, items[i].n), &count);
			evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, j ? "," : "", c, count);
		}
		evbuffer_add_printf(out, "}}");
	}
	evbuffer_add_printf(out, "}");
	if (nother) {
		evbuffer_add_printf(out, ",\"not_owned\":[");
		for (int i = 0; i < nother; i++)
			evbuffer_add_printf(out, "%s{\"item\":\"%.*s\",\"partition\":%u}",
			                    i ? "," : "", (int)other[i].n, other[i].p,
			                    partition_of(other[i].p, other[i].n, env->partitions));
		evbuffer_add_printf(out, "]");
	}
	evbuffer_add_printf(out, "}");
	reply_read(req, sn, out, rc);
}

/* ---- /v1/items/{type}/{id}/{counter}[/users/{user}] ---------------------- */

static const char *const item_params[] = {"by", "from", "to", NULL};

typedef struct item_req {
	char item[ITEM_MAX + 1];
	size_t in;
	const counter_def *def;
	char user[USER_MAX + 1];
} item_req;

/* Appends ,"by_region":{...} for the item; 0 or a store error. */
static int add_by_region(store_snap *sn, struct evbuffer *out, const item_req *r)
{
	unsigned char pre[CKEY_MAX];
	const char *c = r->def->name;
	size_t pn = ckey_breakdown_prefix(pre, CKEY_REGION, c, strlen(c), r->item, r->in);
	store_iter *it = store_snap_iter_from(sn, pre, pn, NULL, 0);
	const char *k, *v;
	size_t kn, vn;
	int n = 0, rc = 0;
	evbuffer_add_printf(out, ",\"by_region\":{");
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (vn != 8 || !item_edge_valid(k + pn, kn - pn)) {
			log_error("bad region bucket in store", "item=%s counter=%s", r->item, c);
			rc = ERR_CORRUPT;
			break;
		}
		uint64_t x = store_get_u64((const unsigned char *)v);
		if (x)
			evbuffer_add_printf(out, "%s\"%.*s\":%" PRIu64, n++ ? "," : "",
			                    (int)(kn - pn), k + pn, x);
	}
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	evbuffer_add_printf(out, "}");
	return rc;
}

/* Appends ,"from","to","by_day":{...} for days from..to; 0 or an error. */
static int add_by_day(store_snap *sn, struct evbuffer *out, const item_req *r, uint32_t from,
                      uint32_t to)
{
	unsigned char pre[CKEY_MAX], start[CKEY_MAX];
	const char *c = r->def->name;
	size_t pn = ckey_breakdown_prefix(pre, CKEY_DAY, c, strlen(c), r->item, r->in);
	size_t sn_len = ckey_day(start, c, strlen(c), r->item, r->in, from);
	char d[DAY_TEXT_MAX];
	day_format(from, d);
	evbuffer_add_printf(out, ",\"from\":\"%s\"", d);
	day_format(to, d);
	evbuffer_add_printf(out, ",\"to\":\"%s\",\"by_day\":{", d);
	store_iter *it = store_snap_iter_from(sn, pre, pn, start, sn_len);
	const char *k, *v;
	size_t kn, vn;
	int n = 0, rc = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (kn != pn + 4 || vn != 8) {
			log_error("bad day bucket in store", "item=%s counter=%s", r->item, c);
			rc = ERR_CORRUPT;
			break;
		}
		uint32_t day = store_get_u32((const unsigned char *)k + pn);
		if (day > to)
			break;
		uint64_t x = store_get_u64((const unsigned char *)v);
		if (!x)
			continue;
		day_format(day, d);
		evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, n++ ? "," : "", d, x);
	}
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	evbuffer_add_printf(out, "}");
	return rc;
}

/* The by=day range from the from/to parameters: 0 or false after a 400. */
static bool day_range(struct evhttp_request *req, const char *from_q, const char *to_q,
                      uint32_t *from, uint32_t *to)
{
	if (to_q) {
		if (day_parse(to_q, strlen(to_q), to)) {
			ops_reply_error(req, 400, "bad_range", "to must be a date YYYY-MM-DD");
			return false;
		}
	} else {
		*to = day_of_ms(clock_wall_ms());
	}
	if (from_q) {
		if (day_parse(from_q, strlen(from_q), from)) {
			ops_reply_error(req, 400, "bad_range", "from must be a date YYYY-MM-DD");
			return false;
		}
	} else {
		*from = *to >= OPS_DEFAULT_DAYS - 1 ? *to - (OPS_DEFAULT_DAYS - 1) : 0;
	}
	if (*from > *to || *to - *from >= OPS_MAX_DAYS) {
		ops_reply_error(req, 400, "bad_range",
		                "from must not be after to, and at most %d days", OPS_MAX_DAYS);
		return false;
	}
	return true;
}

static void route_item(const ops_env *env, struct evhttp_request *req, const item_req *r,
                       const query *kv)
{
	const char *by = query_get(kv, "by");
	const char *from_q = query_get(kv, "from");
	const char *to_q = query_get(kv, "to");
	bool by_region = by && strcmp(by, "region") == 0, by_day = by && strcmp(by, "day") == 0;
	if (by && !by_region && !by_day) {
		ops_reply_error(req, 400, "bad_breakdown", "by must be region or day");
		return;
	}
	if ((from_q || to_q) && !by_day) {
		ops_reply_error(req, 400, "bad_range", "from and to go with by=day");
		return;
	}
	uint32_t from = 0, to = 0;
	if (by_day && !day_range(req, from_q, to_q, &from, &to))
		return;

	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	const char *c = r->def->name;
	store_snap *sn = store_snap_new(env->db);
	uint64_t as_of = clock_wall_ms(), count = 0, version = 0;
	unsigned char key[CKEY_MAX];
	int rc = snap_u64(sn, key, ckey_count(key, c, strlen(c), r->item, r->in), &count);
	if (!rc)
		rc = applier_view_version(sn, partition_of(r->item, r->in, env->partitions),
		                          &version);
	evbuffer_add_printf(out,
	                    "{\"item\":\"%s\",\"counter\":\"%s\",\"count\":%" PRIu64
	                    ",\"version\":%" PRIu64 ",\"as_of\":%" PRIu64,
	                    r->item, c, count, version, as_of);
	if (!rc && by_region)
		rc = add_by_region(sn, out, r);
	if (!rc && by_day)
		rc = add_by_day(sn, out, r, from, to);
	evbuffer_add_printf(out, "}");
	reply_read(req, sn, out, rc);
}

/* The stored state of (counter, item, user): *known false (st zeroed)
 * when central never saw the pair. 0, or ERR_IO / ERR_CORRUPT (logged). */
static int read_member(const ops_env *env, const char *counter, const char *item, size_t in,
                       const char *user, merge_state *st, bool *known)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_state(key, counter, strlen(counter), item, in, user, strlen(user));
	char *val;
	size_t vlen;
	memset(st, 0, sizeof *st);
	int rc = store_get(env->db, key, kn, &val, &vlen);
	*known = rc == 0;
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = merge_state_decode(val, vlen, st);
	free(val);
	if (rc || !item_edge_valid(st->edge, st->edge_len) ||
	    !item_edge_valid(st->region, st->region_len)) {
		log_error("corrupt membership state in store", "item=%.*s counter=%s", (int)in,
		          item, counter);
		return ERR_CORRUPT;
	}
	return 0;
}

static void route_user(const ops_env *env, struct evhttp_request *req, const item_req *r)
{
	const char *c = r->def->name;
	if (r->def->kind != COUNTER_SET) {
		ops_reply_error(req, 400, "not_a_set_counter", "%s counts sums, not members", c);
		return;
	}
	merge_state st;
	bool known;
	if (read_member(env, c, r->item, r->in, r->user, &st, &known)) {
		reply_store_error(req);
		return;
	}
	char body[768];
	snprintf(body, sizeof body,
	         "{\"item\":\"%s\",\"counter\":\"%s\",\"user\":\"%s\",\"member\":%s,\"known\":%s,"
	         "\"hlc\":%" PRIu64 ",\"edge\":\"%.*s\",\"region\":\"%.*s\"}",
	         r->item, c, r->user, st.present ? "true" : "false", known ? "true" : "false",
	         st.hlc, (int)st.edge_len, st.edge, (int)st.region_len, st.region);
	ops_reply_json(req, 200, body);
}

/* ---- /v1/memberships?pairs=counter/item/userhex,... ----------------------- */

const char *const ops_memberships_params[] = {"pairs", NULL};

/* Hex digits (even count, lower or upper case) into out (cap bytes with
 * the NUL): false when they do not decode or do not fit. */
static bool unhex(const char *s, size_t n, char *out, size_t cap)
{
	if (n % 2 || n / 2 >= cap)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (size_t j = i; j < i + 2; j++) {
			char c = s[j];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (d < 0)
				return false;
			v = v * 16 + d;
		}
		out[i / 2] = (char)v;
	}
	out[n / 2] = 0;
	return true;
}

/* Many memberships in one request: what an edge's lookups of one loop
 * turn ask together. Each pair is counter/item/user, the user in hex so
 * that no byte of it needs escaping; the answer lists the pairs in the
 * order asked, each {"member","known","hlc"} as /users/{user} says them. Every
 * pair must be of a set counter and an owned partition (421 otherwise:
 * the edge's shard map is wrong). */
void ops_route_memberships(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	const char *q = query_get(kv, "pairs");
	span raw[OPS_MAX_ITEMS];
	int n = q ? split(q, raw, OPS_MAX_ITEMS) : -1;
	if (n < 0 || n > OPS_MAX_ITEMS) {
		ops_reply_error(req, 400, "invalid_pairs",
		                "pairs must list 1 to %d counter/item/userhex", OPS_MAX_ITEMS);
		return;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		ops_reply_error(req, 500, "internal", "out of memory");
		return;
	}
	evbuffer_add_printf(out, "{\"members\":[");
	for (int i = 0; i < n; i++) {
		const char *a = memchr(raw[i].p, '/', raw[i].n);
		const char *b =
		    a ? memchr(a + 1, '/', raw[i].n - (size_t)(a + 1 - raw[i].p)) : NULL;
		char user[USER_MAX + 1];
		const counter_def *def =
		    a ? counters_find(env->ctr, raw[i].p, (size_t)(a - raw[i].p)) : NULL;
		size_t in = b ? (size_t)(b - a - 1) : 0;
		if (!b || !def || def->kind != COUNTER_SET || !item_valid(a + 1, in) ||
		    !unhex(b + 1, raw[i].n - (size_t)(b + 1 - raw[i].p), user, sizeof user) ||
		    !item_user_valid(user, strlen(user))) {
			evbuffer_free(out);
			ops_reply_error(req, 400, "invalid_pairs",
			                "pair %d is not set-counter/type:id/userhex", i + 1);
			return;
		}
		uint32_t p = partition_of(a + 1, in, env->partitions);
		if (!shard_owns(env->owned, p)) {
			char item[ITEM_MAX + 1];
			snprintf(item, sizeof item, "%.*s", (int)in, a + 1);
			evbuffer_free(out);
			ops_reply_not_owner(req, item, p);
			return;
		}
		merge_state st;
		bool known;
		if (read_member(env, def->name, a + 1, in, user, &st, &known)) {
			evbuffer_free(out);
			reply_store_error(req);
			return;
		}
		evbuffer_add_printf(out, "%s{\"member\":%s,\"known\":%s,\"hlc\":%" PRIu64 "}",
		                    i ? "," : "", st.present ? "true" : "false",
		                    known ? "true" : "false", known ? st.hlc : 0);
	}
	evbuffer_add_printf(out, "]}");
	ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}

/* Decodes one path segment (s, n bytes, still %-encoded) into out (cap
 * bytes with the NUL). False when it does not decode or does not fit. */
static bool segment(const char *s, size_t n, char *out, size_t cap)
{
	char raw[OPS_MAX_PATH + 1];
	if (n > OPS_MAX_PATH)
		return false;
	memcpy(raw, s, n);
	raw[n] = 0;
	size_t dn = 0;
	char *d = evhttp_uridecode(raw, 0, &dn);
	if (!d)
		return false;
	bool ok = dn < cap && strlen(d) == dn; /* no decoded NUL inside */
	if (ok)
		memcpy(out, d, dn + 1);
	free(d);
	return ok;
}

/* /v1/items/T/I/C or /v1/items/T/I/C/users/U (rest is after "/v1/items/"). */
void ops_route_items(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const char *rest = call->rest;
	const struct evhttp_uri *uri = call->uri;
	span seg[6];
	int n = 0;
	for (const char *p = rest; n < 6;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		seg[n++] = (span){p, len};
		if (!slash)
			break;
		p = slash + 1;
	}
	bool users = n == 5 && seg[3].n == 5 && memcmp(seg[3].p, "users", 5) == 0;
	if (n != 3 && !users) {
		ops_reply_error(req, 404, "not_found", "no such route");
		return;
	}
	item_req r;
	char type[ITEM_TYPE_MAX + 1], id[ITEM_ID_MAX + 1], counter[COUNTER_MAX + 1];
	if (!segment(seg[0].p, seg[0].n, type, sizeof type) ||
	    !segment(seg[1].p, seg[1].n, id, sizeof id) || !item_type_valid(type, strlen(type)) ||
	    !item_id_valid(id, strlen(id))) {
		ops_reply_error(req, 400, "invalid_item",
		                "the item must be {type}/{id}, id [A-Za-z0-9_-]{1,%d}",
		                ITEM_ID_MAX);
		return;
	}
	r.in = (size_t)snprintf(r.item, sizeof r.item, "%s:%s", type, id);
	if (!segment(seg[2].p, seg[2].n, counter, sizeof counter) ||
	    !(r.def = counters_find(env->ctr, counter, strlen(counter)))) {
		ops_reply_error(req, 404, "unknown_counter", "no such counter at central");
		return;
	}
	r.user[0] = 0;
	if (users && (!segment(seg[4].p, seg[4].n, r.user, sizeof r.user) ||
	              !item_user_valid(r.user, strlen(r.user)))) {
		ops_reply_error(req, 400, "invalid_user",
		                "a user id is 1 to %d visible ASCII characters", USER_MAX);
		return;
	}
	uint32_t p = partition_of(r.item, r.in, env->partitions);
	if (!shard_owns(env->owned, p)) {
		ops_reply_not_owner(req, r.item, p);
		return;
	}
	static const char *const none[] = {NULL};
	query kv;
	if (!ops_parse_query(req, uri, &kv, users ? none : item_params))
		goto out;
	if (users)
		route_user(env, req, &r);
	else
		route_item(env, req, &r, &kv);
out:
	query_free(&kv);
}

/* ---- /v1/totals/{counter} ------------------------------------------------ */

/* Sum and number of items of one counter: a full scan, for operators and
 * tests. */
void ops_route_totals(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const char *counter = call->rest;
	const counter_def *def = counters_find(env->ctr, counter, strlen(counter));
	if (!def) {
		ops_reply_error(req, 404, "unknown_counter", "no such counter at central");
		return;
	}
	unsigned char prefix[COUNTER_MAX + 2];
	size_t pn = ckey_join(prefix, CKEY_COUNT, def->name, strlen(def->name), "", 0, NULL, 0, 0);
	store_iter *it = store_iter_new(env->db, prefix, pn);
	const char *k, *v;
	size_t kn, vn;
	uint64_t items = 0, sum = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (vn != 8)
			continue;
		items++;
		sum += store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		reply_store_error(req);
		return;
	}
	char body[256];
	snprintf(body, sizeof body,
	         "{\"counter\":\"%s\",\"items\":%" PRIu64 ",\"sum\":%" PRIu64 "}", def->name, items,
	         sum);
	ops_reply_json(req, 200, body);
}
