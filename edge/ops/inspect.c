/* inspect.c - `edge inspect` (see inspect.h): the JSON of the
 * loopback-only route GET /v1/admin/inspect, its table, and the command
 * that fetches it from a running edge or builds it from a stopped
 * edge's store.
 *
 * Live, the command makes one blocking HTTP/1.1 request (hclient.h),
 * through OpenSSL when it has to use the TLS listener; the certificate
 * is not checked since the peer is this host's edge on loopback.
 * Offline it opens the store and loads a ledger over it with a sink that
 * never sends, so nothing is written. inspect_json runs on a worker
 * thread of the edge (the ledger locks for itself); the rest on the
 * command's main thread.
 */
#include "edge/ops/inspect.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buildinfo.h"
#include "clock.h"
#include "edge/config/edge.h"
#include "hclient.h"
#include "item.h"
#include "log.h"
#include "opcmd.h"
#include "store.h"
#include "edge/upstream/uplink.h"
#include "xmem.h"

#define INSPECT_PATH "/v1/admin/inspect"
#define INSPECT_TIMEOUT_MS 10000
#define INSPECT_BODY_MAX (32u << 20) /* 4096 partitions fit many times over */
_Static_assert(INSPECT_USAGE == OPCMD_USAGE && INSPECT_UNREACHABLE == OPCMD_UNREACHABLE,
               "edge inspect exits as every operator command does");

/* ---- the JSON ------------------------------------------------------------- */

static void put_u64(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

char *inspect_json(ledger *lg, struct uplink *up, uint64_t now_ms, size_t *len)
{
	ledger_summary sum;
	ledger_part_state *ps = ledger_inspect(lg, &sum);
	json_t *root = json_object(), *parts = json_array(), *tot = json_object();
	json_object_set_new(root, "edge", json_string(sum.edge_id));
	json_object_set_new(root, "region", json_string(sum.region));
	put_u64(root, "now_ms", now_ms);
	uint64_t over = 0;
	for (uint32_t p = 0; p < sum.partitions; p++) {
		const ledger_part_state *s = &ps[p];
		json_t *o = json_object();
		put_u64(o, "partition", p);
		put_u64(o, "open_ops", s->open_ops);
		put_u64(o, "open_bytes", s->open_bytes);
		put_u64(o, "sealed_batches", s->sealed);
		put_u64(o, "sealed_bytes", s->sealed_bytes);
		put_u64(o, "seq_lo", s->seq_lo);
		put_u64(o, "seq_hi", s->seq_hi);
		put_u64(o, "unsent", s->unsent);
		put_u64(o, "in_flight", s->inflight);
		put_u64(o, "delivered", s->delivered);
		put_u64(o, "last_seq", s->last_seq);
		put_u64(o, "applied_seq", s->applied);
		put_u64(o, "snapshot_version", s->version);
		put_u64(o, "snapshot_as_of", s->as_of);
		if (s->as_of)
			put_u64(o, "snapshot_age_ms", now_ms > s->as_of ? now_ms - s->as_of : 0);
		else
			json_object_set_new(o, "snapshot_age_ms", json_null());
		json_object_set_new(o, "in_window", json_boolean(s->in_window));
		over += !s->in_window;
		json_array_append_new(parts, o);
	}
	free(ps);
	json_object_set_new(root, "partitions", parts);
	put_u64(tot, "pending_ops", sum.st.pending_ops);
	put_u64(tot, "pending_batches", sum.st.pending_batches);
	put_u64(tot, "pending_bytes", sum.st.pending_bytes);
	put_u64(tot, "budget_used_bytes", sum.st.pending_bytes);
	put_u64(tot, "budget_limit_bytes", sum.budget_bytes);
	put_u64(tot, "window_bytes", sum.window_bytes);
	put_u64(tot, "partitions_over_window", over);
	if (up)
		put_u64(tot, "kafka_in_flight", uplink_outq_len(up));
	json_object_set_new(root, "totals", tot);
	char *out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!out) /* jansson fails only when out of memory */
		abort();
	*len = strlen(out);
	return out;
}

/* ---- the table ------------------------------------------------------------ */

static uint64_t jnum(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));
	return v < 0 ? 0 : (uint64_t)v;
}

static void fmt_age(char *out, size_t cap, json_t *age)
{
	if (!json_is_integer(age)) {
		snprintf(out, cap, "-");
		return;
	}
	double s = (double)json_integer_value(age) / 1000.0;
	if (s < 120)
		snprintf(out, cap, "%.1fs", s);
	else if (s < 7200)
		snprintf(out, cap, "%.1fm", s / 60);
	else
		snprintf(out, cap, "%.1fh", s / 3600);
}

int inspect_print(const char *json, bool offline, FILE *out)
{
	json_t *root = json_loads(json, 0, NULL);
	json_t *parts = root ? json_object_get(root, "partitions") : NULL;
	json_t *tot = root ? json_object_get(root, "totals") : NULL;
	const char *edge = root ? json_string_value(json_object_get(root, "edge")) : NULL;
	const char *region = root ? json_string_value(json_object_get(root, "region")) : NULL;
	if (!json_is_array(parts) || !json_is_object(tot) || !edge || !region) {
		json_decref(root);
		return ERR_CORRUPT;
	}
	fprintf(out, "edge %s  region %s  partitions %zu  (%s)\n", edge, region,
	        json_array_size(parts), offline ? "offline, from the store" : "live");
	fprintf(out, "%4s %8s %7s %10s %-17s %6s %8s %9s %8s %10s %8s %6s\n", "PART", "OPEN_OPS",
	        "SEALED", "BYTES", "SEQS", "UNSENT", "INFLIGHT", "DELIVERED", "APPLIED", "VERSION",
	        "SNAP_AGE", "WINDOW");
	size_t i;
	json_t *p;
	json_array_foreach(parts, i, p)
	{
		char seqs[48], age[32];
		if (jnum(p, "sealed_batches"))
			snprintf(seqs, sizeof seqs, "%" PRIu64 "-%" PRIu64, jnum(p, "seq_lo"),
			         jnum(p, "seq_hi"));
		else
			snprintf(seqs, sizeof seqs, "-");
		fmt_age(age, sizeof age, json_object_get(p, "snapshot_age_ms"));
		fprintf(out,
		        "%4" PRIu64 " %8" PRIu64 " %7" PRIu64 " %10" PRIu64 " %-17s %6" PRIu64
		        " %8" PRIu64 " %9" PRIu64 " %8" PRIu64 " %10" PRIu64 " %8s %6s\n",
		        jnum(p, "partition"), jnum(p, "open_ops"), jnum(p, "sealed_batches"),
		        jnum(p, "sealed_bytes"), seqs, jnum(p, "unsent"), jnum(p, "in_flight"),
		        jnum(p, "delivered"), jnum(p, "applied_seq"), jnum(p, "snapshot_version"),
		        age, json_is_true(json_object_get(p, "in_window")) ? "ok" : "over");
	}
	uint64_t used = jnum(tot, "budget_used_bytes"), limit = jnum(tot, "budget_limit_bytes");
	fprintf(out,
	        "total: pending_ops=%" PRIu64 " pending_batches=%" PRIu64 " pending_bytes=%" PRIu64
	        " budget=%" PRIu64 "/%" PRIu64 " (%.1f%%) window_bytes=%" PRIu64
	        " partitions_over_window=%" PRIu64,
	        jnum(tot, "pending_ops"), jnum(tot, "pending_batches"), jnum(tot, "pending_bytes"),
	        used, limit, limit ? 100.0 * (double)used / (double)limit : 0.0,
	        jnum(tot, "window_bytes"), jnum(tot, "partitions_over_window"));
	if (json_object_get(tot, "kafka_in_flight"))
		fprintf(out, " kafka_in_flight=%" PRIu64, jnum(tot, "kafka_in_flight"));
	fprintf(out, "\n");
	json_decref(root);
	return 0;
}

/* ---- the command ---------------------------------------------------------- */

typedef struct cmd {
	edge_config cfg;
	bool cfg_loaded;
	bool json, offline;
	const cfg_opt *opts;
	size_t nopts;
} cmd;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: edge inspect -c FILE [-s section.key=value]... [--json] [--offline]\n"
	        "  --json     the edge's answer as it is, instead of the table\n"
	        "  --offline  read the store of a stopped edge instead of asking it\n"
	        "exit: 0 ok, 2 usage or config error, 3 the edge or its store cannot be reached\n");
}

/* The listener to ask: http.listen, else http.tls_listen. 0 with host
 * (a wildcard becomes loopback), port and tls; or an exit code. */
static int pick_listener(const cmd *c, char *host, size_t cap, int *port, bool *tls)
{
	const char *addr = c->cfg.listen;
	*tls = false;
	if (!addr[0]) {
		addr = c->cfg.tls_listen;
		*tls = true;
	}
	if (!addr[0]) {
		fprintf(stderr, "edge: neither http.listen nor http.tls_listen is set; "
		                "with the edge stopped, use --offline\n");
		return INSPECT_USAGE;
	}
	if (hclient_local_target(addr, host, cap, port)) {
		fprintf(stderr, "edge: %s '%s' is not host:port\n",
		        *tls ? "http.tls_listen" : "http.listen", addr);
		return INSPECT_USAGE;
	}
	return 0;
}

/* GET INSPECT_PATH from the running edge: 0 with the body (malloc'ed,
 * NUL-terminated) in *body, or an exit code with the reason on stderr. */
static int fetch(const cmd *c, char **body)
{
	char host[256];
	int port;
	bool tls;
	int rc = pick_listener(c, host, sizeof host, &port, &tls);
	if (rc)
		return rc;
	hclient_req r = {.host = host,
	                 .port = port,
	                 .tls = tls,
	                 .method = "GET",
	                 .path = INSPECT_PATH,
	                 .timeout_ms = INSPECT_TIMEOUT_MS,
	                 .max_body = INSPECT_BODY_MAX};
	hclient_answer a;
	if ((rc = opcmd_ask("edge", "the edge", &r, &a)))
		return rc;
	if (a.status != 200) {
		if (a.status == 404)
			fprintf(
			    stderr,
			    "edge: %s answered 404: the edge shows it to loopback clients only "
			    "(is %s:%d a loopback address?), or it is older than this command\n",
			    INSPECT_PATH, host, port);
		else
			fprintf(stderr, "edge: %s answered HTTP %d: %s\n", INSPECT_PATH, a.status,
			        a.body);
		free(a.body);
		return INSPECT_UNREACHABLE;
	}
	*body = a.body;
	return 0;
}

/* The offline ledger's sink: nothing leaves a stopped edge. */
static int no_send(void *ctx, uint32_t partition, uint64_t seq, const void *buf, size_t len)
{
	(void)ctx, (void)partition, (void)seq, (void)buf, (void)len;
	return ERR_AGAIN;
}

/* The JSON built from the store of a stopped edge: 0 with *body, or an
 * exit code with the reason on stderr. Reads only: the ledger loads the
 * pending state and is freed without a write. */
static int read_offline(const cmd *c, char **body)
{
	char err[512] = "";
	store *db = opcmd_open_store("edge", c->cfg.data_dir, "edge.data_dir", "the edge");
	if (!db)
		return INSPECT_UNREACHABLE;
	char parts[32];
	snprintf(parts, sizeof parts, "%" PRId64, c->cfg.partitions);
	/* Both are recorded at the edge's first start: these only compare. */
	if (store_meta_ensure(db, "partitions", parts, err, sizeof err) ||
	    store_meta_ensure(db, "edge_id", c->cfg.id, err, sizeof err)) {
		fprintf(stderr, "edge: the config does not match the store: %s\n", err);
		store_close(db);
		return INSPECT_USAGE;
	}
	ledger_opts lo = {
	    .edge_id = c->cfg.id,
	    .region = c->cfg.region,
	    .partitions = (uint32_t)c->cfg.partitions,
	    .seal_ops = (uint32_t)c->cfg.batch_max_ops,
	    .seal_age_ms = (uint64_t)c->cfg.batch_max_age_ms,
	    .budget_bytes = (uint64_t)c->cfg.budget_mb << 20,
	    .window_bytes = (uint64_t)c->cfg.window_kb << 10,
	    .cache_entries = 2,
	    .rt_entries = 2,
	    .send = no_send,
	};
	ledger *lg = ledger_open(db, &lo, err, sizeof err);
	if (!lg) {
		fprintf(stderr, "edge: cannot load the ledger from the store: %s\n", err);
		store_close(db);
		return INSPECT_UNREACHABLE;
	}
	size_t len;
	*body = inspect_json(lg, NULL, clock_wall_ms(), &len);
	ledger_free(lg);
	store_close(db);
	return 0;
}

static bool parse_args(cmd *c, int argc, char **argv)
{
	cfg_cmdline cl = {0};
	char err[512];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int took = cfg_cmdline_take(&cl, argc, argv, &i, err, sizeof err);
		if (took < 0) {
			fprintf(stderr, "edge: %s\n", err);
			return false;
		}
		if (took)
			continue;
		if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "--offline") == 0) {
			c->offline = true;
		} else {
			fprintf(stderr, "edge: unexpected argument '%s'\n", a);
			return false;
		}
	}
	if (!opcmd_load_config("edge", c->opts, c->nopts, &c->cfg, &cl))
		return false;
	c->cfg_loaded = true;
	if (!item_edge_valid(c->cfg.id, strlen(c->cfg.id)) ||
	    !item_edge_valid(c->cfg.region, strlen(c->cfg.region))) {
		fprintf(stderr, "edge: edge.id and edge.region must match [a-z0-9_-]{1,64}\n");
		return false;
	}
	return true;
}

int inspect_main(int argc, char **argv, const cfg_opt *opts, size_t nopts)
{
	cmd c;
	memset(&c, 0, sizeof c);
	c.opts = opts;
	c.nopts = nopts;
	if (build_help_version(argc, argv, 2, "edge inspect", usage) == 0)
		return 0;
	if (!parse_args(&c, argc, argv)) {
		usage(stderr);
		if (c.cfg_loaded)
			cfg_free(c.opts, c.nopts, &c.cfg);
		return INSPECT_USAGE;
	}
	log_set_component("edge-inspect");
	/* The ledger's start-up lines would only clutter the answer. */
	log_threshold = LOG_WARN;
	char *body = NULL;
	int rc = c.offline ? read_offline(&c, &body) : fetch(&c, &body);
	if (!rc && c.json) {
		printf("%s\n", body);
	} else if (!rc && inspect_print(body, c.offline, stdout)) {
		fprintf(stderr, "edge: the answer is not what %s gives\n", INSPECT_PATH);
		rc = INSPECT_UNREACHABLE;
	}
	if (!rc && fflush(stdout)) {
		fprintf(stderr, "edge: writing the output failed\n");
		rc = INSPECT_UNREACHABLE;
	}
	free(body);
	cfg_free(c.opts, c.nopts, &c.cfg);
	return rc;
}
