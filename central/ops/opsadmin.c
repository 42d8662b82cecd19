/* opsadmin.c - the ops API's admin and bulk routes (see opsapi.h):
 * verify and repair of the derived counts (verify.h), the export of
 * every count as a stream, per-partition stats and digests, and the
 * online backup.
 *
 * Runs on the ops API's thread. verify reads one store snapshot there;
 * repair finds the mismatched items the same way, then hands them to the
 * repair hook, which has central's run loop re-check and fix them (the
 * run loop is the store's only writer), and waits for it with a deadline.
 * The export streams from one snapshot in chunks, the next one produced
 * only when the last has gone out, so its memory stays bounded whatever
 * the store holds. A backup copies one snapshot into a new store on this
 * thread (other ops requests wait for it; the run loop does not).
 */
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "clock.h"
#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "central/ops/cmetrics.h"
#include "central/ops/opsadmin.h"
#include "central/apply/shard.h"
#include "xmem.h"

#define VERIFY_LIMIT_DEFAULT 100
#define VERIFY_LIMIT_MAX 10000
#define REPAIR_ITEMS_MAX 1000
#define REPAIR_WAIT_MS 10000
#define EXPORT_CHUNK_BYTES 65536

const char *const ops_verify_params[] = {"limit", NULL};
const char *const ops_export_params[] = {"format", "counter", NULL};
const char *const ops_digest_params[] = {"partition", NULL};
const char *const ops_backup_params[] = {"dir", NULL};

/* ?limit=N within 1..max (default def); false after a 400. */
static bool limit_of(struct evhttp_request *req, const query *kv, size_t def, size_t max,
                     size_t *out)
{
	const char *q = query_get(kv, "limit");
	*out = def;
	if (!q)
		return true;
	char *end;
	unsigned long long v = strtoull(q, &end, 10);
	if (!q[0] || *end || q[0] == '-' || v < 1 || v > max) {
		ops_reply_error(req, 400, "bad_request", "limit must be 1 to %zu", max);
		return false;
	}
	*out = (size_t)v;
	return true;
}

static void add_totals(struct evbuffer *out, const verify_totals *t)
{
	evbuffer_add_printf(out,
	                    "\"items\":%" PRIu64 ",\"memberships\":%" PRIu64 ",\"present\":%" PRIu64
	                    ",\"mismatches\":%" PRIu64 ",\"items_mismatched\":%" PRIu64
	                    ",\"bad_states\":%" PRIu64 ",\"bad_keys\":%" PRIu64
	                    ",\"sum_counters_skipped\":%" PRIu64,
	                    t->items, t->memberships, t->present, t->mismatches,
	                    t->items_mismatched, t->bad_states, t->bad_keys, t->sum_counters);
}

static const char *kind_name(char kind)
{
	return kind == CKEY_COUNT ? "count" : kind == CKEY_REGION ? "region" : "day";
}

/* ,"name":[{...},...] with the report's mismatches. */
static void add_list(struct evbuffer *out, const char *name, const verify_report *r)
{
	evbuffer_add_printf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < r->n; i++) {
		const verify_mismatch *m = &r->m[i];
		evbuffer_add_printf(out,
		                    "%s{\"counter\":\"%s\",\"item\":\"%s\",\"kind\":\"%s\","
		                    "\"what\":\"%s\",\"stored\":%" PRIu64 ",\"stored_present\":%s,"
		                    "\"stored_bad\":%s,\"expected\":%" PRIu64 "}",
		                    i ? "," : "", m->counter, m->item, kind_name(m->kind), m->what,
		                    m->stored, m->stored_present ? "true" : "false",
		                    m->stored_bad ? "true" : "false", m->expected);
	}
	evbuffer_add_printf(out, "]");
}

/* Scans a snapshot into r; 0 or a store error (answered). */
static int scan(const ops_env *env, struct evhttp_request *req, verify_report *r)
{
	store_snap *sn = store_snap_new(env->db);
	uint64_t t0 = clock_mono_ms();
	int rc = verify_scan(sn, env->ctr, verify_report_add, r, &r->t);
	store_snap_free(sn);
	if (rc) {
		ops_reply_error(req, 503, "store_error", "the store could not be read");
		return rc;
	}
	log_info("verify scan",
	         "items=%" PRIu64 " memberships=%" PRIu64 " mismatches=%" PRIu64 " ms=%" PRIu64,
	         r->t.items, r->t.memberships, r->t.mismatches, clock_mono_ms() - t0);
	return 0;
}

void ops_route_verify(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	size_t limit;
	if (!limit_of(req, kv, VERIFY_LIMIT_DEFAULT, VERIFY_LIMIT_MAX, &limit))
		return;
	verify_report r;
	verify_report_init(&r, limit, 0);
	if (scan(env, req, &r) == 0) {
		struct evbuffer *out = evbuffer_new();
		if (!out)
			abort();
		evbuffer_add_printf(out, "{\"ok\":%s,", r.t.mismatches ? "false" : "true");
		add_totals(out, &r.t);
		add_list(out, "list", &r);
		evbuffer_add_printf(out, ",\"truncated\":%s}", r.seen > r.n ? "true" : "false");
		ops_reply_buf(req, 200, "application/json", out);
		evbuffer_free(out);
	}
	verify_report_free(&r);
}

void ops_route_repair(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	if (!env->repair) {
		ops_reply_error(req, 503, "unavailable", "repair is not wired in this process");
		return;
	}
	size_t limit;
	if (!limit_of(req, kv, REPAIR_ITEMS_MAX, REPAIR_ITEMS_MAX, &limit))
		return;
	verify_report found;
	verify_report_init(&found, 0, limit);
	if (scan(env, req, &found)) {
		verify_report_free(&found);
		return;
	}
	verify_report fixed;
	verify_report_init(&fixed, VERIFY_LIMIT_MAX, 0);
	int rc = 0;
	if (found.ntargets)
		rc = env->repair(env->repair_ctx, found.targets, found.ntargets, &fixed,
		                 REPAIR_WAIT_MS);
	if (rc == ERR_TIMEOUT || rc == ERR_FULL || rc == ERR_CLOSED) {
		ops_reply_error(
		    req, 503, "busy",
		    "the run loop did not take the repair in time (%s); nothing changed",
		    err_str(rc));
	} else if (rc) {
		ops_reply_error(req, 500, "repair_failed",
		                "the repair stopped on a store error (%s); see central's log",
		                err_str(rc));
	} else {
		struct evbuffer *out = evbuffer_new();
		if (!out)
			abort();
		evbuffer_add_printf(out, "{\"found\":{");
		add_totals(out, &found.t);
		evbuffer_add_printf(out, "},\"items_sent\":%zu,\"more\":%s,\"rechecked\":{",
		                    found.ntargets, found.targets_truncated ? "true" : "false");
		add_totals(out, &fixed.t);
		evbuffer_add_printf(out, "},\"repaired\":%" PRIu64, fixed.t.repaired);
		add_list(out, "fixes", &fixed);
		evbuffer_add_printf(out, "}");
		ops_reply_buf(req, 200, "application/json", out);
		evbuffer_free(out);
	}
	verify_report_free(&found);
	verify_report_free(&fixed);
}

/* ---- /v1/export ---------------------------------------------------------- */

typedef struct export_job {
	struct evhttp_request *req;
	struct evhttp_connection *con;
	store_snap *sn;
	store_iter *it;
	bool json;
	uint64_t rows;
} export_job;

static void export_free(export_job *x)
{
	store_iter_free(x->it);
	store_snap_free(x->sn);
	free(x);
}

/* The connection went away mid-stream: the request is gone with it. */
static void export_closed(struct evhttp_connection *con, void *arg)
{
	(void)con;
	export_job *x = arg;
	log_warn("export stopped: the client went away", "rows=%" PRIu64, x->rows);
	ops_stream_gone(x->req);
	export_free(x);
}

/* Sends the next chunk; called again once it has gone out. */
static void export_more(struct evhttp_connection *con, void *arg)
{
	(void)con;
	export_job *x = arg;
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	const char *k, *v;
	size_t kn, vn;
	bool done = false;
	while (evbuffer_get_length(out) < EXPORT_CHUNK_BYTES) {
		if (!store_iter_next(x->it, &k, &kn, &v, &vn)) {
			done = true;
			break;
		}
		const char *counter, *item;
		size_t cn, in;
		if (!ckey_parse_count(k, kn, &counter, &cn, &item, &in) || vn != 8)
			continue;
		if (!item_counter_valid(counter, cn) || !item_valid(item, in))
			continue;
		uint64_t n = store_get_u64((const unsigned char *)v);
		if (x->json)
			evbuffer_add_printf(
			    out, "{\"counter\":\"%.*s\",\"item\":\"%.*s\",\"count\":%" PRIu64 "}\n",
			    (int)cn, counter, (int)in, item, n);
		else
			evbuffer_add_printf(out, "%.*s,%.*s,%" PRIu64 "\n", (int)cn, counter,
			                    (int)in, item, n);
		x->rows++;
	}
	if (!done) {
		evhttp_send_reply_chunk_with_cb(x->req, out, export_more, x);
		evbuffer_free(out);
		return;
	}
	int rc = store_iter_status(x->it);
	if (rc) {
		/* Too late for a status: the stream ends with a line saying so. */
		log_error("export stopped on a store error", "rows=%" PRIu64, x->rows);
		evbuffer_add_printf(out, x->json ? "{\"error\":\"store_error\"}\n"
		                                 : "#error,store_error\n");
	}
	if (evbuffer_get_length(out))
		evhttp_send_reply_chunk(x->req, out);
	evbuffer_free(out);
	evhttp_connection_set_closecb(x->con, NULL, NULL);
	evhttp_send_reply_end(x->req);
	log_info("export done", "rows=%" PRIu64, x->rows);
	export_free(x);
}

void ops_route_export(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	const char *format = query_get(kv, "format");
	const char *counter = query_get(kv, "counter");
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
		ops_reply_error(req, 400, "bad_request", "format must be csv or json");
		return;
	}
	if (counter && !counters_find(env->ctr, counter, strlen(counter))) {
		ops_reply_error(req, 404, "unknown_counter", "no such counter at central");
		return;
	}
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	if (!con) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	export_job *x = xcalloc(1, sizeof *x);
	x->req = req;
	x->con = con;
	x->json = format && strcmp(format, "json") == 0;
	x->sn = store_snap_new(env->db);
	unsigned char pre[COUNTER_MAX + 2];
	size_t pn =
	    counter ? ckey_join(pre, CKEY_COUNT, counter, strlen(counter), "", 0, NULL, 0, 0) : 1;
	pre[0] = CKEY_COUNT;
	x->it = store_snap_iter_from(x->sn, pre, pn, NULL, 0);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type",
	                  x->json ? "application/x-ndjson" : "text/csv; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(con, export_closed, x);
	if (!x->json) {
		struct evbuffer *out = evbuffer_new();
		if (!out)
			abort();
		evbuffer_add_printf(out, "counter,item,count\n");
		evhttp_send_reply_chunk_with_cb(req, out, export_more, x);
		evbuffer_free(out);
	} else {
		export_more(con, x);
	}
}

/* ---- /v1/stats ----------------------------------------------------------- */

void ops_route_stats(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	store_snap *sn = store_snap_new(env->db);
	int rc = 0;
	evbuffer_add_printf(out, "{\"partitions\":[");
	int np = 0;
	for (uint32_t p = 0; p < env->partitions && !rc; p++) {
		if (!shard_owns(env->owned, p))
			continue;
		unsigned char key[8];
		uint64_t stored = 0;
		rc = store_snap_read_u64(sn, key, ckey_offset(key, p), &stored);
		if (rc == ERR_NOTFOUND)
			rc = 0;
		uint64_t version = 0;
		if (!rc)
			rc = applier_view_version(sn, p, &version);
		int64_t next = env->ap ? applier_input_offset(env->ap, p) : (int64_t)stored;
		int64_t high = -1;
		if (env->run && env->run->input_high)
			high = atomic_load_explicit(&env->run->input_high[p], memory_order_relaxed);
		uint64_t held = env->ap ? applier_held_batches(env->ap, p) : 0;
		int64_t lag = high >= 0 ? high - (next < 0 ? 0 : next) : -1;
		const char *status = held       ? "held"
		                     : high < 0 ? "unknown"
		                     : lag > 0  ? "behind"
		                                : "ok";
		evbuffer_add_printf(
		    out,
		    "%s{\"partition\":%u,\"next_offset\":%" PRId64 ",\"stored_offset\":%" PRIu64
		    ",\"epoch\":%u"
		    ",\"version\":%" PRIu64 ",\"high_watermark\":%" PRId64 ",\"lag\":%" PRId64
		    ",\"held_batches\":%" PRIu64 ",\"status\":\"%s\"}",
		    np++ ? "," : "", p, next < 0 ? 0 : next, stored, version_epoch(version),
		    version, high, lag < 0 && high >= 0 ? 0 : lag, held, status);
	}
	evbuffer_add_printf(out, "],\"applied\":[");
	store_iter *it = store_snap_iter_from(sn, ckey_prefix(CKEY_APPLIED), 1, NULL, 0);
	const char *k, *v;
	size_t kn, vn;
	int n = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		if (!ckey_parse_edge(k, kn, CKEY_APPLIED, &e, &en, &p, NULL) || vn != 8 ||
		    !item_edge_valid(e, en) || !shard_owns(env->owned, p))
			continue;
		evbuffer_add_printf(
		    out, "%s{\"edge\":\"%.*s\",\"partition\":%u,\"seq\":%" PRIu64 "}",
		    n++ ? "," : "", (int)en, e, p, store_get_u64((const unsigned char *)v));
	}
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	/* Each edge's fence: the writer time before which its batches are
	 * void. */
	evbuffer_add_printf(out, "],\"fences\":[");
	it = store_snap_iter_from(sn, ckey_prefix(CKEY_FENCE), 1, NULL, 0);
	n = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		if (!ckey_parse_edge(k, kn, CKEY_FENCE, &e, &en, &p, NULL) ||
		    vn != CKEY_FENCE_LEN || !item_edge_valid(e, en) || !shard_owns(env->owned, p))
			continue;
		const unsigned char *u = (const unsigned char *)v;
		evbuffer_add_printf(out,
		                    "%s{\"edge\":\"%.*s\",\"partition\":%u,\"writer_ms\":%" PRIu64
		                    ",\"epoch\":%" PRIu64 "}",
		                    n++ ? "," : "", (int)en, e, p, store_get_u64(u),
		                    store_get_u64(u + 8));
	}
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	store_snap_free(sn);
	evbuffer_add_printf(out, "],\"store_bytes\":%" PRIu64,
	                    env->data_dir ? cmetrics_store_bytes(env->data_dir) : 0);
	if (env->ap) {
		applier_stats st;
		applier_get_stats(env->ap, &st);
		evbuffer_add_printf(out,
		                    ",\"batches_applied\":%" PRIu64 ",\"batches_held\":%" PRIu64
		                    ",\"batches_bad\":%" PRIu64 ",\"batches_fenced\":%" PRIu64
		                    ",\"ops_applied\":%" PRIu64,
		                    st.batches_applied, st.batches_held, st.batches_bad,
		                    st.batches_fenced, st.ops_applied);
	}
	evbuffer_add_printf(out, "}");
	if (rc)
		ops_reply_error(req, 503, "store_error", "the store could not be read");
	else
		ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}

/* ---- /v1/digest ---------------------------------------------------------- */

/* The hash of the whole merged state (every key but metadata) as before
 * sharding, kept for the replicas check that compares it. */
static int whole_digest(store_snap *sn, uint64_t *digest, uint64_t *keys)
{
	XXH64_state_t *h = XXH64_createState();
	if (!h)
		abort();
	XXH64_reset(h, 0);
	store_iter *it = store_snap_iter_from(sn, "", 0, NULL, 0);
	const char *k, *v;
	size_t kn, vn;
	*keys = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (kn && k[0] == CKEY_META)
			continue;
		uint64_t lens[2] = {kn, vn};
		XXH64_update(h, lens, sizeof lens);
		XXH64_update(h, k, kn);
		XXH64_update(h, v, vn);
		(*keys)++;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	*digest = XXH64_digest(h);
	XXH64_freeState(h);
	return rc;
}

/* Per owned partition (or the one asked): the order-independent digest
 * of its state and the offset it reflects, all from one snapshot; and,
 * as before sharding, the whole store's digest and every partition's
 * offset (sim/drill/check.c compares replicas with those). */
void ops_route_digest(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	const char *pq = query_get(kv, "partition");
	int64_t only = -1;
	if (pq) {
		char *end;
		unsigned long v = strtoul(pq, &end, 10);
		if (!pq[0] || *end || pq[0] == '-' || v >= env->partitions) {
			ops_reply_error(req, 400, "bad_request", "partition must be 0 to %u",
			                env->partitions - 1);
			return;
		}
		if (!shard_owns(env->owned, (uint32_t)v)) {
			ops_reply_not_owner_partition(req, (uint32_t)v);
			return;
		}
		only = (int64_t)v;
	}
	shard_digest *d = xcalloc(env->partitions, sizeof *d);
	store_snap *sn = store_snap_new(env->db);
	uint64_t whole = 0, keys = 0;
	int rc = shard_digest_all(sn, env->partitions, d);
	if (!rc)
		rc = whole_digest(sn, &whole, &keys);
	store_snap_free(sn);
	if (rc) {
		free(d);
		ops_reply_error(req, 503, "store_error", "the store could not be read");
		return;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	evbuffer_add_printf(out, "{\"partitions\":[");
	int n = 0;
	for (uint32_t p = 0; p < env->partitions; p++) {
		if (!shard_owns(env->owned, p) || (only >= 0 && p != (uint32_t)only))
			continue;
		evbuffer_add_printf(out,
		                    "%s{\"partition\":%u,\"digest\":\"%016" PRIx64
		                    "\",\"keys\":%" PRIu64 ",\"offset\":%" PRIu64 "}",
		                    n++ ? "," : "", p, d[p].digest, d[p].keys, d[p].offset);
	}
	evbuffer_add_printf(
	    out, "],\"digest\":\"%016" PRIx64 "\",\"keys\":%" PRIu64 ",\"offsets\":[", whole, keys);
	for (uint32_t p = 0; p < env->partitions; p++)
		evbuffer_add_printf(out, "%s%" PRIu64, p ? "," : "", d[p].offset);
	evbuffer_add_printf(out, "]}");
	free(d);
	ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}

/* ---- /v1/admin/backup ---------------------------------------------------- */

void ops_route_backup(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	const char *dir = query_get(kv, "dir");
	if (!dir) {
		ops_reply_error(req, 400, "bad_request", "dir=PATH (absolute, new) is needed");
		return;
	}
	char err[512];
	shard_backup_info info;
	uint64_t t0 = clock_mono_ms();
	int rc =
	    shard_backup(env->db, dir, env->instance_id, env->partitions, &info, err, sizeof err);
	if (rc == ERR_INVAL || rc == ERR_CONFLICT) {
		/* The alphabet is checked before any path goes in err: nothing
		 * in it needs escaping. */
		ops_reply_error(req, rc == ERR_INVAL ? 400 : 409,
		                rc == ERR_INVAL ? "bad_request" : "exists", "%s", err);
		return;
	}
	if (rc) {
		log_error("backup failed", "dir=%s err=\"%s\"", dir, err);
		ops_reply_error(req, 500, "backup_failed",
		                "the backup failed (%s); see central's log", err_str(rc));
		return;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	evbuffer_add_printf(out,
	                    "{\"dir\":\"%s\",\"keys\":%" PRIu64 ",\"ms\":%" PRIu64 ",\"offsets\":[",
	                    dir, info.keys, clock_mono_ms() - t0);
	int n = 0;
	for (uint32_t p = 0; p < env->partitions; p++)
		if (shard_owns(env->owned, p))
			evbuffer_add_printf(out, "%s{\"partition\":%u,\"offset\":%" PRIu64 "}",
			                    n++ ? "," : "", p, info.offsets[p]);
	evbuffer_add_printf(out, "]}");
	free(info.offsets);
	ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}
