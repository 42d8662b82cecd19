/* cli.c - central's operator commands (see cli.h): verify [--repair],
 * stats, get, export, backup and prune; tail is handed to tail.c.
 *
 * Live (the default) they ask the running central's ops API, at the
 * address and with the token of its config, over plain HTTP/1.1
 * (hclient.h: one request per connection; an export's 200 body streamed
 * to stdout as it comes). --offline opens the store itself instead,
 * which LevelDB's lock allows only while central is stopped; prune works
 * only that way (it deletes keys, and central must not be writing).
 * Output goes to stdout, errors to stderr. Main thread only.
 */
#include "central/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "central/apply/apply.h"
#include "buildinfo.h"
#include "central/central.h"
#include "central/cmdargs.h"
#include "clock.h"
#include "hclient.h"
#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "central/ops/cmetrics.h"
#include "central/ops/opsapi.h"
#include "opcmd.h"
#include "central/apply/shard.h"
#include "central/apply/verify.h"
#include "central/homemove.h"
#include "central/tail.h"
#include "xmem.h"

#define CLI_OK OPCMD_OK
#define CLI_MISMATCH 1
#define CLI_USAGE OPCMD_USAGE
#define CLI_UNREACHABLE OPCMD_UNREACHABLE

#define CLI_TIMEOUT_MS 120000 /* a verify scans the whole store */
#define CLI_BODY_MAX (64u << 20)
#define CLI_LIST_MAX 1000
#define CLI_REPAIR_BATCH 1000
#define CLI_HOT_LIST 10
#define HOME_MOVE_AHEAD_MS (10 * 60 * 1000) /* home-move --since: at most this ahead */

typedef struct cli {
	central_config cfg;
	bool cfg_loaded;
	const char *cmd;
	bool repair, offline;
	const char *format;     /* csv or json */
	const char *to;         /* backup --to PATH */
	uint64_t since_ms;      /* home-move --since MS; 0: now */
	const char *users_from; /* home-move --users-from LIST ("-": stdin) */
	const char *args[2];
	int nargs;
	counters ctr;
	const cfg_opt *opts; /* central's option table (main.c) */
	size_t nopts;
} cli;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: central verify -c FILE [--repair] [--offline]\n"
	        "       central stats  -c FILE [--offline]\n"
	        "       central get    -c FILE [--offline] ITEM [COUNTER]\n"
	        "       central export -c FILE [--offline] [--format csv|json]\n"
	        "       central backup -c FILE --to PATH   (a new dir, absolute; central running)\n"
	        "       central prune  -c FILE --offline   (delete partitions not owned)\n"
	        "       central home-index-reset -c FILE --offline   (after every edge sends\n"
	        "                                          homes: the next start notes where\n"
	        "                                          the home index is complete)\n"
	        "       central tail changes|milestones -c FILE ...   (the change feed as JSON\n"
	        "                                          lines: central tail -h)\n"
	        "       central home-move -c FILE USER REGION [--since MS]   (a user's new\n"
	        "                                          home region, from now or MS, wall\n"
	        "                                          ms: their memberships follow; Kafka)\n"
	        "       central home-move -c FILE --users-from LIST REGION [--since MS]\n"
	        "                                          (the same for the users of LIST, one\n"
	        "                                          a line; - reads standard input)\n"
	        "  (-s section.key=value overrides the config, as for the daemon)\n"
	        "exit: 0 ok, 1 mismatches found, 2 usage or config error, 3 central or its\n"
	        "      store cannot be reached\n");
}

/* ---- HTTP to the ops API ------------------------------------------------- */

typedef hclient_answer http_answer;

/* method path to central's ops API. With stream, a 200 body goes to it
 * as it comes (other answers are kept in a->body). 0, or an exit code
 * with the reason on stderr. */
static int http(const cli *c, const char *method, const char *path, FILE *stream, http_answer *a)
{
	char host[256];
	int port;
	memset(a, 0, sizeof *a);
	if (!c->cfg.ops_listen[0]) {
		fprintf(stderr, "central: the ops API is off in this config (central.ops_listen); "
		                "stop central and use --offline\n");
		return CLI_USAGE;
	}
	if (hclient_local_target(c->cfg.ops_listen, host, sizeof host, &port)) {
		fprintf(stderr, "central: central.ops_listen '%s' is not host:port\n",
		        c->cfg.ops_listen);
		return CLI_USAGE;
	}
	hclient_req r = {.host = host,
	                 .port = port,
	                 .method = method,
	                 .path = path,
	                 .token = c->cfg.ops_token,
	                 .stream = stream,
	                 .timeout_ms = CLI_TIMEOUT_MS,
	                 .max_body = CLI_BODY_MAX};
	return opcmd_ask("central", "central's ops API", &r, a);
}

/* A non-200 answer, said on stderr: 2 for auth (the config's token is
 * wrong), 1 for none, else 3. */
static int http_failed(const http_answer *a, const char *what)
{
	json_t *j = a->body ? json_loads(a->body, 0, NULL) : NULL;
	const char *msg =
	    j ? json_string_value(json_object_get(json_object_get(j, "error"), "message")) : NULL;
	fprintf(stderr, "central: %s: HTTP %d: %s\n", what, a->status,
	        msg ? msg : (a->body ? a->body : ""));
	if (j)
		json_decref(j);
	return a->status == 401 || a->status == 403 ? CLI_USAGE : CLI_UNREACHABLE;
}

/* GET or POST path, answer as JSON in *out. 0 or an exit code. */
static int http_json(const cli *c, const char *method, const char *path, json_t **out)
{
	http_answer a;
	int rc = http(c, method, path, NULL, &a);
	if (rc)
		return rc;
	if (a.status != 200) {
		rc = http_failed(&a, path);
		free(a.body);
		return rc;
	}
	json_error_t je;
	*out = json_loads(a.body, 0, &je);
	free(a.body);
	if (!*out) {
		fprintf(stderr, "central: %s: the answer is not JSON: %s\n", path, je.text);
		return CLI_UNREACHABLE;
	}
	return 0;
}

static uint64_t jnum(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));
	return v < 0 ? 0 : (uint64_t)v;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* ---- output shared by live and offline ----------------------------------- */

static void print_totals(const char *what, uint64_t items, uint64_t memberships,
                         uint64_t mismatches, uint64_t items_mismatched, uint64_t sums)
{
	printf("%s: items=%" PRIu64 " memberships=%" PRIu64 " mismatches=%" PRIu64
	       " items_mismatched=%" PRIu64 " sum_counters_skipped=%" PRIu64 "\n",
	       what, items, memberships, mismatches, items_mismatched, sums);
}

static void print_mismatch(const char *tag, const char *counter, const char *item, const char *what,
                           uint64_t stored, bool present, uint64_t expected)
{
	printf("%s counter=%s item=%s what=%s stored=%" PRIu64 "%s expected=%" PRIu64 "\n", tag,
	       counter, item, what, stored, present ? "" : " (absent)", expected);
}

static void print_list(json_t *list, const char *tag)
{
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m)
	{
		print_mismatch(
		    tag, jstr(m, "counter"), jstr(m, "item"), jstr(m, "what"), jnum(m, "stored"),
		    json_is_true(json_object_get(m, "stored_present")), jnum(m, "expected"));
	}
}

/* ---- offline: the store itself ------------------------------------------- */

static store *open_offline(const cli *c)
{
	return opcmd_open_store("central", c->cfg.data_dir, "central.data_dir", "central");
}

static void print_fn(void *ctx, const verify_mismatch *m)
{
	print_mismatch((const char *)ctx, m->counter, m->item, m->what, m->stored,
	               m->stored_present, m->expected);
}

static int verify_offline(cli *c, store *db)
{
	verify_totals t;
	store_snap *sn = store_snap_new(db);
	int rc = verify_scan(sn, &c->ctr, print_fn, "MISMATCH", &t);
	store_snap_free(sn);
	if (rc) {
		fprintf(stderr, "central: reading the store failed: %s\n", err_str(rc));
		return CLI_UNREACHABLE;
	}
	print_totals("verify", t.items, t.memberships, t.mismatches, t.items_mismatched,
	             t.sum_counters);
	if (!c->repair || !t.mismatches)
		return t.mismatches ? CLI_MISMATCH : CLI_OK;
	/* Nothing else writes: central is stopped (the lock says so). */
	uint64_t repaired = 0;
	for (;;) {
		verify_report r;
		verify_report_init(&r, 0, CLI_REPAIR_BATCH);
		sn = store_snap_new(db);
		rc = verify_scan(sn, &c->ctr, verify_report_add, &r, &r.t);
		store_snap_free(sn);
		verify_totals done = {0};
		if (!rc && r.ntargets)
			rc = verify_repair(db, &c->ctr, NULL, r.targets, r.ntargets, print_fn,
			                   "REPAIRED", &done);
		repaired += done.repaired;
		bool more = r.targets_truncated && done.repaired;
		verify_report_free(&r);
		if (rc) {
			fprintf(stderr, "central: repair failed: %s\n", err_str(rc));
			return CLI_UNREACHABLE;
		}
		if (!more)
			break;
	}
	printf("repair: repaired=%" PRIu64 "\n", repaired);
	return CLI_OK;
}

static int get_offline(cli *c, store *db, const char *item, const char *counter)
{
	for (size_t i = 0; i < c->ctr.n; i++) {
		const char *name = c->ctr.defs[i].name;
		if (counter && strcmp(counter, name) != 0)
			continue;
		unsigned char key[CKEY_MAX];
		uint64_t v = 0;
		int rc = store_read_u64(
		    db, key, ckey_count(key, name, strlen(name), item, strlen(item)), &v);
		if (rc && rc != ERR_NOTFOUND) {
			fprintf(stderr, "central: reading the store failed: %s\n", err_str(rc));
			return CLI_UNREACHABLE;
		}
		printf("%s %s %" PRIu64 "\n", item, name, v);
	}
	return CLI_OK;
}

static int export_offline(cli *c, store *db)
{
	bool json = strcmp(c->format, "json") == 0;
	store_iter *it = store_iter_new(db, ckey_prefix(CKEY_COUNT), 1);
	const char *k, *v;
	size_t kn, vn;
	if (!json)
		printf("counter,item,count\n");
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *counter, *item;
		size_t cn, in;
		if (!ckey_parse_count(k, kn, &counter, &cn, &item, &in) || vn != 8)
			continue;
		uint64_t n = store_get_u64((const unsigned char *)v);
		if (json)
			printf("{\"counter\":\"%.*s\",\"item\":\"%.*s\",\"count\":%" PRIu64 "}\n",
			       (int)cn, counter, (int)in, item, n);
		else
			printf("%.*s,%.*s,%" PRIu64 "\n", (int)cn, counter, (int)in, item, n);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		fprintf(stderr, "central: reading the store failed: %s\n", err_str(rc));
		return CLI_UNREACHABLE;
	}
	return CLI_OK;
}

static int stats_offline(cli *c, store *db)
{
	printf("store_bytes=%" PRIu64 " (central stopped: no lag or held counts)\n",
	       cmetrics_store_bytes(c->cfg.data_dir));
	printf("%-9s %12s\n", "partition", "next_offset");
	for (uint32_t p = 0; p < (uint32_t)c->cfg.partitions; p++) {
		unsigned char key[8];
		uint64_t off = 0;
		int rc = store_read_u64(db, key, ckey_offset(key, p), &off);
		if (rc && rc != ERR_NOTFOUND) {
			fprintf(stderr, "central: reading the store failed: %s\n", err_str(rc));
			return CLI_UNREACHABLE;
		}
		printf("%-9u %12" PRIu64 "\n", p, off);
	}
	store_iter *it = store_iter_new(db, ckey_prefix(CKEY_APPLIED), 1);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		if (!ckey_parse_edge(k, kn, CKEY_APPLIED, &e, &en, &p, NULL) || vn != 8)
			continue;
		printf("applied edge=%.*s partition=%u seq=%" PRIu64 "\n", (int)en, e, p,
		       store_get_u64((const unsigned char *)v));
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc ? CLI_UNREACHABLE : CLI_OK;
}

/* The config's central.partitions into own (shard_set_free it); false,
 * said on stderr, when the list is bad. */
static bool owned_partitions(const cli *c, shard_set *own)
{
	char err[512];
	if (shard_set_parse(own, c->cfg.owned_partitions, (uint32_t)c->cfg.partitions, err,
	                    sizeof err)) {
		fprintf(stderr, "central: %s\n", err);
		return false;
	}
	return true;
}

/* The per-partition digests of the owned partitions, from one view. */
static int digests_offline(cli *c, store *db)
{
	shard_set own;
	if (!owned_partitions(c, &own))
		return CLI_USAGE;
	shard_digest *d = xcalloc((size_t)c->cfg.partitions, sizeof *d);
	store_snap *sn = store_snap_new(db);
	int rc = shard_digest_all(sn, (uint32_t)c->cfg.partitions, d);
	store_snap_free(sn);
	if (!rc) {
		printf("%-9s %-16s %10s %12s\n", "partition", "digest", "keys", "offset");
		for (uint32_t p = 0; p < (uint32_t)c->cfg.partitions; p++)
			if (shard_owns(&own, p))
				printf("%-9u %016" PRIx64 " %10" PRIu64 " %12" PRIu64 "\n", p,
				       d[p].digest, d[p].keys, d[p].offset);
	}
	free(d);
	shard_set_free(&own);
	if (rc) {
		fprintf(stderr, "central: reading the store failed: %s\n", err_str(rc));
		return CLI_UNREACHABLE;
	}
	return CLI_OK;
}

/* Deletes the keys of partitions the config does not own. */
static int prune_offline(cli *c, store *db)
{
	shard_set own;
	if (!owned_partitions(c, &own))
		return CLI_USAGE;
	char text[1024];
	shard_set_format(&own, text, sizeof text);
	shard_prune_counts n;
	int rc = shard_prune(db, &own, &n);
	shard_set_free(&own);
	if (rc) {
		fprintf(stderr,
		        "central: prune stopped on a store error (%s) after %" PRIu64
		        " deletions; run it again\n",
		        err_str(rc), n.deleted);
		return CLI_UNREACHABLE;
	}
	printf("prune: owned=%s scanned=%" PRIu64 " deleted=%" PRIu64 " memberships=%" PRIu64
	       " counts=%" PRIu64 " regions=%" PRIu64 " days=%" PRIu64 " applied=%" PRIu64
	       " held=%" PRIu64 " offsets=%" PRIu64 " epochs=%" PRIu64 " milestone_levels=%" PRIu64
	       " feed_records=%" PRIu64 " home_index=%" PRIu64 " home_days=%" PRIu64
	       " moved_users=%" PRIu64 " fences=%" PRIu64 "\n",
	       text, n.scanned, n.deleted, n.by_tag[CKEY_STATE - 'A'], n.by_tag[CKEY_COUNT - 'A'],
	       n.by_tag[CKEY_REGION - 'A'], n.by_tag[CKEY_DAY - 'A'], n.by_tag[CKEY_APPLIED - 'A'],
	       n.by_tag[CKEY_HELD - 'A'], n.by_tag[CKEY_OFFSET - 'A'], n.by_tag[CKEY_EPOCH - 'A'],
	       n.by_tag[CKEY_LEVEL - 'A'], n.by_tag[CKEY_FEED - 'A'], n.by_tag[CKEY_HOME - 'A'],
	       n.by_tag[CKEY_HOME_DAY - 'A'], n.by_tag[CKEY_WHERE - 'A'],
	       n.by_tag[CKEY_FENCE - 'A']);
	return CLI_OK;
}

/* The home index's noted start forgotten: the next start notes it anew
 * (applier_home_index_forget). */
static int home_index_reset_offline(store *db)
{
	uint32_t forgot;
	int rc = applier_home_index_forget(db, &forgot);
	if (rc) {
		fprintf(stderr, "central: home-index-reset failed on a store error (%s)\n",
		        err_str(rc));
		return CLI_UNREACHABLE;
	}
	printf("home-index-reset: forgot the start of %" PRIu32
	       " partitions' home index; the next start of central notes where it is complete\n",
	       forgot);
	return CLI_OK;
}

static int run_offline(cli *c)
{
	store *db = open_offline(c);
	if (!db)
		return CLI_UNREACHABLE;
	int rc;
	if (strcmp(c->cmd, "verify") == 0)
		rc = verify_offline(c, db);
	else if (strcmp(c->cmd, "get") == 0)
		rc = get_offline(c, db, c->args[0], c->args[1]);
	else if (strcmp(c->cmd, "export") == 0)
		rc = export_offline(c, db);
	else if (strcmp(c->cmd, "prune") == 0)
		rc = prune_offline(c, db);
	else if (strcmp(c->cmd, "home-index-reset") == 0)
		rc = home_index_reset_offline(db);
	else if ((rc = stats_offline(c, db)) == CLI_OK)
		rc = digests_offline(c, db);
	store_close(db);
	return rc;
}

/* ---- live: the ops API --------------------------------------------------- */

static int verify_live(cli *c)
{
	json_t *j = NULL;
	char path[64];
	if (!c->repair) {
		snprintf(path, sizeof path, "/v1/admin/verify?limit=%d", CLI_LIST_MAX);
		int rc = http_json(c, "GET", path, &j);
		if (rc)
			return rc;
		print_list(json_object_get(j, "list"), "MISMATCH");
		print_totals("verify", jnum(j, "items"), jnum(j, "memberships"),
		             jnum(j, "mismatches"), jnum(j, "items_mismatched"),
		             jnum(j, "sum_counters_skipped"));
		if (json_is_true(json_object_get(j, "truncated")))
			printf("(only the first %d mismatches are listed)\n", CLI_LIST_MAX);
		rc = jnum(j, "mismatches") ? CLI_MISMATCH : CLI_OK;
		json_decref(j);
		return rc;
	}
	uint64_t repaired = 0;
	for (;;) {
		int rc = http_json(c, "POST", "/v1/admin/repair", &j);
		if (rc)
			return rc;
		json_t *found = json_object_get(j, "found");
		print_totals("verify", jnum(found, "items"), jnum(found, "memberships"),
		             jnum(found, "mismatches"), jnum(found, "items_mismatched"),
		             jnum(found, "sum_counters_skipped"));
		print_list(json_object_get(j, "fixes"), "REPAIRED");
		uint64_t n = jnum(j, "repaired");
		repaired += n;
		bool more = json_is_true(json_object_get(j, "more")) && n;
		json_decref(j);
		if (!more)
			break;
	}
	printf("repair: repaired=%" PRIu64 "\n", repaired);
	return CLI_OK;
}

static int get_live(cli *c)
{
	char path[512];
	snprintf(path, sizeof path, "/v1/counts?items=%s%s%s", c->args[0],
	         c->args[1] ? "&counters=" : "", c->args[1] ? c->args[1] : "");
	json_t *j = NULL;
	int rc = http_json(c, "GET", path, &j);
	if (rc)
		return rc;
	json_t *counts =
	    json_object_get(json_object_get(json_object_get(j, "items"), c->args[0]), "counts");
	const char *name;
	json_t *v;
	json_object_foreach(counts, name, v)
	{
		printf("%s %s %" PRIu64 "\n", c->args[0], name, (uint64_t)json_integer_value(v));
	}
	json_decref(j);
	return CLI_OK;
}

static int export_live(cli *c)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/export?format=%s", c->format);
	http_answer a;
	int rc = http(c, "GET", path, stdout, &a);
	if (rc)
		return rc;
	if (a.status != 200) {
		rc = http_failed(&a, path);
		free(a.body);
		return rc;
	}
	return fflush(stdout) ? CLI_UNREACHABLE : CLI_OK;
}

/* The per-partition state digests of the owned partitions. */
static int digests_live(cli *c)
{
	json_t *j = NULL;
	int rc = http_json(c, "GET", "/v1/digest", &j);
	if (rc)
		return rc;
	printf("%-9s %-16s %10s %12s\n", "partition", "digest", "keys", "offset");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "partitions"), i, p)
	{
		printf("%-9" PRIu64 " %-16s %10" PRIu64 " %12" PRIu64 "\n", jnum(p, "partition"),
		       jstr(p, "digest"), jnum(p, "keys"), jnum(p, "offset"));
	}
	json_decref(j);
	return CLI_OK;
}

static int backup_live(cli *c)
{
	char path[1200];
	snprintf(path, sizeof path, "/v1/admin/backup?dir=%s", c->to);
	json_t *j = NULL;
	int rc = http_json(c, "POST", path, &j);
	if (rc)
		return rc;
	printf("backup dir=%s keys=%" PRIu64 " ms=%" PRIu64 "\n", jstr(j, "dir"), jnum(j, "keys"),
	       jnum(j, "ms"));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "offsets"), i, p)
	{
		printf("offset partition=%" PRIu64 " offset=%" PRIu64 "\n", jnum(p, "partition"),
		       jnum(p, "offset"));
	}
	json_decref(j);
	return CLI_OK;
}

/* The fastest-moving counts, after the stats. */
static int hot_live(cli *c)
{
	json_t *j = NULL;
	char path[64];
	snprintf(path, sizeof path, "/v1/hot?limit=%d", CLI_HOT_LIST);
	int rc = http_json(c, "GET", path, &j);
	if (rc)
		return rc;
	json_t *items = json_object_get(j, "items");
	printf("hot items (changes per second over the last %" PRIu64 " s):\n",
	       jnum(j, "window_ms") / 1000);
	if (!json_array_size(items))
		printf("  (none)\n");
	else
		printf("%-8s %-40s %10s %10s %8s\n", "counter", "item", "rate", "count", "error");
	size_t i;
	json_t *h;
	json_array_foreach(items, i, h)
	{
		printf("%-8s %-40s %10.2f %10" PRIu64 " %8" PRIu64 "\n", jstr(h, "counter"),
		       jstr(h, "item"), json_number_value(json_object_get(h, "rate")),
		       jnum(h, "count"), jnum(h, "error"));
	}
	json_decref(j);
	return CLI_OK;
}

static int stats_live(cli *c)
{
	json_t *j = NULL;
	int rc = http_json(c, "GET", "/v1/stats", &j);
	if (rc)
		return rc;
	printf("store_bytes=%" PRIu64 " batches_applied=%" PRIu64 " ops_applied=%" PRIu64 "\n",
	       jnum(j, "store_bytes"), jnum(j, "batches_applied"), jnum(j, "ops_applied"));
	printf("%-9s %12s %14s %8s %6s %s\n", "partition", "next_offset", "high_watermark", "lag",
	       "held", "status");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(j, "partitions"), i, p)
	{
		json_int_t high = json_integer_value(json_object_get(p, "high_watermark"));
		json_int_t lag = json_integer_value(json_object_get(p, "lag"));
		char hs[24] = "-", ls[24] = "-";
		if (high >= 0) {
			snprintf(hs, sizeof hs, "%lld", (long long)high);
			snprintf(ls, sizeof ls, "%lld", (long long)lag);
		}
		printf("%-9" PRIu64 " %12" PRIu64 " %14s %8s %6" PRIu64 " %s\n",
		       jnum(p, "partition"), jnum(p, "next_offset"), hs, ls,
		       jnum(p, "held_batches"), jstr(p, "status"));
	}
	json_array_foreach(json_object_get(j, "applied"), i, p)
	{
		printf("applied edge=%s partition=%" PRIu64 " seq=%" PRIu64 "\n", jstr(p, "edge"),
		       jnum(p, "partition"), jnum(p, "seq"));
	}
	json_decref(j);
	rc = digests_live(c);
	return rc ? rc : hot_live(c);
}

/* ---- home-move ------------------------------------------------------------ */

/* The user ids of --users-from: one a line (a trailing CR dropped, empty
 * lines skipped), each valid, at most HOMEMOVE_USERS_MAX. 0 with the
 * ids in *users (one buffer: free (*users)[0] when n, then *users), or
 * an exit code after saying why. */
static int read_users(const char *path, char ***users, size_t *n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "central: %s: %s\n", path, strerror(errno));
		return OPCMD_USAGE;
	}
	/* A line longer than any user id (and its CR LF) is refused as soon
	 * as its first USER_MAX + 3 bytes are read, whatever its length. */
	char line[USER_MAX + 4];
	size_t got = 0, lines = 0, all = 0, bytes = 0;
	char *text = NULL;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		lines++;
		size_t len = strlen(line);
		bool whole = len && line[len - 1] == '\n';
		if (!whole && !feof(f)) {
			fprintf(stderr, "central: %s:%zu: longer than a user id\n", path, lines);
			rc = OPCMD_USAGE;
			break;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		if (!item_user_valid(line, len)) {
			fprintf(stderr, "central: %s:%zu: not a user id (1-128 visible ASCII)\n",
			        path, lines);
			rc = OPCMD_USAGE;
			break;
		}
		if (all == HOMEMOVE_USERS_MAX) {
			fprintf(stderr,
			        "central: %s: more than %d users; move them in several runs\n",
			        path, HOMEMOVE_USERS_MAX);
			rc = OPCMD_USAGE;
			break;
		}
		text = xrealloc(text, bytes + len + 1);
		memcpy(text + bytes, line, len + 1);
		bytes += len + 1;
		all++;
	}
	if (!rc && ferror(f)) {
		fprintf(stderr, "central: %s: read error\n", path);
		rc = OPCMD_USAGE;
	}
	if (f != stdin)
		fclose(f);
	if (!rc && !all) {
		fprintf(stderr, "central: %s: no user\n", path);
		rc = OPCMD_USAGE;
	}
	if (rc) {
		free(text);
		return rc;
	}
	*users = xcalloc(all, sizeof **users);
	for (char *at = text; got < all; at += strlen(at) + 1)
		(*users)[got++] = at;
	*n = all;
	return 0;
}

static int home_move(const cli *c)
{
	uint64_t since = c->since_ms ? c->since_ms : clock_wall_ms();
	if (!c->users_from)
		return homemove_run(&c->cfg, &c->args[0], 1, c->args[1], since);
	char **users;
	size_t n;
	int rc = read_users(c->users_from, &users, &n);
	if (rc)
		return rc;
	rc = homemove_run(&c->cfg, (const char *const *)users, n, c->args[0], since);
	free(users[0]);
	free(users);
	return rc;
}

/* ---- arguments ----------------------------------------------------------- */

bool cli_is_command(const char *arg)
{
	return arg && (strcmp(arg, "verify") == 0 || strcmp(arg, "stats") == 0 ||
	               strcmp(arg, "get") == 0 || strcmp(arg, "export") == 0 ||
	               strcmp(arg, "backup") == 0 || strcmp(arg, "prune") == 0 ||
	               strcmp(arg, "home-index-reset") == 0 || strcmp(arg, "tail") == 0 ||
	               strcmp(arg, "home-move") == 0);
}

/* Parses argv (argv[1] is the command); false after saying why. */
static bool parse_args(cli *c, int argc, char **argv)
{
	static const char *const valued[] = {"--format", "--to", "--since", "--users-from", NULL};
	cfg_cmdline cl = {0};
	char err[512];
	c->cmd = argv[1];
	c->format = "csv";
	int i = 1, more;
	while ((more = cmdargs_next(&cl, argc, argv, &i, valued)) > 0) {
		const char *a = argv[i];
		if (strcmp(a, "--format") == 0) {
			c->format = argv[++i];
			if (strcmp(c->format, "csv") != 0 && strcmp(c->format, "json") != 0) {
				fprintf(stderr, "central: --format is csv or json\n");
				return false;
			}
		} else if (strcmp(a, "--to") == 0 && strcmp(c->cmd, "backup") == 0) {
			c->to = argv[++i];
		} else if (strcmp(a, "--since") == 0 && strcmp(c->cmd, "home-move") == 0) {
			char *end;
			errno = 0;
			const char *arg = argv[++i];
			unsigned long long v = strtoull(arg, &end, 10);
			if (!v || errno || *end || arg[0] < '0' || arg[0] > '9' ||
			    v > clock_wall_ms() + HOME_MOVE_AHEAD_MS) {
				fprintf(stderr,
				        "central: --since is a wall time in ms, above 0 and "
				        "no more than 10 minutes from now (a later move "
				        "would not undo it)\n");
				return false;
			}
			c->since_ms = v;
		} else if (strcmp(a, "--users-from") == 0 && strcmp(c->cmd, "home-move") == 0) {
			c->users_from = argv[++i];
		} else if (strcmp(a, "--repair") == 0 && strcmp(c->cmd, "verify") == 0) {
			c->repair = true;
		} else if (strcmp(a, "--offline") == 0) {
			c->offline = true;
		} else if (a[0] == '-' || c->nargs == 2) {
			fprintf(stderr, "central: unexpected argument '%s'\n", a);
			return false;
		} else {
			c->args[c->nargs++] = a;
		}
	}
	if (more < 0)
		return false;
	bool is_get = strcmp(c->cmd, "get") == 0;
	bool is_move = strcmp(c->cmd, "home-move") == 0;
	int move_args = c->users_from ? 1 : 2; /* [USER] REGION */
	if (!cl.file || (is_get && c->nargs < 1) ||
	    (is_move && (c->nargs != move_args || c->offline)) ||
	    (!is_get && !is_move && c->nargs)) {
		fprintf(stderr, "central: %s\n",
		        !cl.file ? "-c FILE is needed" : "wrong arguments");
		return false;
	}
	if (strcmp(c->cmd, "backup") == 0) {
		if (!c->to || c->offline) {
			fprintf(stderr, "central: backup needs --to PATH and a running central "
			                "(stopped, copy data_dir instead)\n");
			return false;
		}
		if (c->to[0] != '/' ||
		    strspn(c->to, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
		                  "rstuvwxyz0123456789/._-") != strlen(c->to) ||
		    strlen(c->to) > 1024) {
			fprintf(stderr, "central: --to must be an absolute path of "
			                "[A-Za-z0-9/._-]\n");
			return false;
		}
	}
	if ((strcmp(c->cmd, "prune") == 0 || strcmp(c->cmd, "home-index-reset") == 0) &&
	    !c->offline) {
		fprintf(stderr,
		        "central: %s writes the store and needs central stopped: stop it, "
		        "then run %s --offline\n",
		        c->cmd, c->cmd);
		return false;
	}
	if (is_move && !c->users_from && !item_user_valid(c->args[0], strlen(c->args[0]))) {
		fprintf(stderr, "central: '%s' is not a user id (1-128 visible ASCII)\n",
		        c->args[0]);
		return false;
	}
	const char *region = is_move ? c->args[move_args - 1] : NULL;
	if (is_move && !item_edge_valid(region, strlen(region))) {
		fprintf(stderr, "central: '%s' is not a region name ([a-z0-9_-], 1-64)\n", region);
		return false;
	}
	if (is_get && !item_valid(c->args[0], strlen(c->args[0]))) {
		fprintf(stderr, "central: '%s' is not an item (type:id)\n", c->args[0]);
		return false;
	}
	if (!opcmd_load_config("central", c->opts, c->nopts, &c->cfg, &cl))
		return false;
	c->cfg_loaded = true;
	if (counters_parse(&c->ctr, c->cfg.counters_set, c->cfg.counters_sum, err, sizeof err)) {
		fprintf(stderr, "central: [counters]: %s\n", err);
		return false;
	}
	if (is_get && c->args[1] && !counters_find(&c->ctr, c->args[1], strlen(c->args[1]))) {
		fprintf(stderr, "central: '%s' is not a configured counter\n", c->args[1]);
		counters_free(&c->ctr);
		return false;
	}
	return true;
}

int cli_main(int argc, char **argv, const cfg_opt *opts, size_t nopts)
{
	if (strcmp(argv[1], "tail") == 0) /* a Kafka consumer: flags of its own */
		return tail_main(argc, argv, opts, nopts);
	cli c;
	memset(&c, 0, sizeof c);
	c.opts = opts;
	c.nopts = nopts;
	char prog[32];
	snprintf(prog, sizeof prog, "central %s", argv[1]);
	if (build_help_version(argc, argv, 2, prog, usage) == 0)
		return 0;
	if (!parse_args(&c, argc, argv)) {
		usage(stderr);
		if (c.cfg_loaded)
			cfg_free(c.opts, c.nopts, &c.cfg);
		return CLI_USAGE;
	}
	log_set_component("central-cli");
	if (log_set_level(c.cfg.log_level))
		log_threshold = LOG_INFO;
	int rc;
	if (c.offline)
		rc = run_offline(&c);
	else if (strcmp(c.cmd, "verify") == 0)
		rc = verify_live(&c);
	else if (strcmp(c.cmd, "get") == 0)
		rc = get_live(&c);
	else if (strcmp(c.cmd, "export") == 0)
		rc = export_live(&c);
	else if (strcmp(c.cmd, "backup") == 0)
		rc = backup_live(&c);
	else if (strcmp(c.cmd, "home-move") == 0)
		rc = home_move(&c);
	else
		rc = stats_live(&c);
	counters_free(&c.ctr);
	cfg_free(c.opts, c.nopts, &c.cfg);
	return rc;
}
