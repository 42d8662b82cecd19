/* test_checkpoint.c - central's checkpoint stream (GET /v1/checkpoint,
 * central/ops/opsckpt.c) over a real store filled through the applier, read
 * the way an edge reads it: hclient's streamed body into a FILE made
 * with fopencookie, fed to the frame reader (ckpt.h). Every count of the
 * partitions asked comes back once and only those; the messages' shape
 * (counts in key order, at most 4096 a message, one last message per
 * partition with the edges' sequences, the end frame); versions as
 * epoch and offset; resuming after a key; 421 and 400 answers; and the
 * view: counts and versions as they were when the request came, while
 * the applier keeps writing during the stream (read by a slow client
 * with a small receive buffer, so most of the stream is made after).
 * The home checkpoint (home=REGION): exactly that region's memberships of
 * the partitions asked, in the same message shape with members instead
 * of counts and no edges, and its refusals.
 *
 * Each test gets its own temp dir with a store, an applier for 4
 * partitions (set counter likes, sum counter views) and the ops API on
 * 127.0.0.1 at a port the kernel picks.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/support/apply_util.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "central/apply/apply.h"
#include "central/apply/keys.h"
#include "central/ops/opsapi.h"
#include "central/apply/shard.h"
#include "ckpt.h"
#include "counter.h"
#include "err.h"
#include "hclient.h"
#include "hlc.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "version.h"
#include "wire.h"
#include "xmem.h"

#define NPARTS 4
#define TOKEN "ckpt-token"
#define SOURCE "c-test"
#define PER_MSG 4096
#define T0 hlc_make(1700000000000ull, 0) /* every op's clock */

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
	shard_set own;
	bool owned; /* own is set */
	ops_api *api;
	int port;
	uint64_t seq[4][NPARTS];
	int64_t offset[NPARTS];
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	cr_assert_eq(evthread_use_pthreads(), 0);
	T.a = apply_util_open("test_checkpoint", "likes", "views", NPARTS, T.dir, sizeof T.dir,
	                      &T.ctr, &T.db);
}

static void teardown(void)
{
	ops_api_stop(T.api);
	if (T.owned)
		shard_set_free(&T.own);
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	memset(&T, 0, sizeof T);
}

TestSuite(checkpoint, .init = setup, .fini = teardown, .timeout = 120);

/* The API, owning the partitions of spec (NULL: all). */
static void start_api(const char *spec)
{
	if (spec) {
		char err[256];
		cr_assert_eq(shard_set_parse(&T.own, spec, NPARTS, err, sizeof err), 0, "%s", err);
		T.owned = true;
	}
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = TOKEN,
	                  .db = T.db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = T.a,
	                  .owned = spec ? &T.own : NULL,
	                  .instance_id = SOURCE};
	char err[256];
	T.api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(T.api, "ops_api_start: %s", err);
	T.port = ops_api_port(T.api);
}

/* ---- filling the store --------------------------------------------------- */

static const char *const edges[4] = {"m1", "v1", "s1", "x1"};

static wire_op op(const char *counter, const char *item, const char *user, uint32_t n, uint64_t ts)
{
	return (wire_op){wire_cstr(counter, strlen(counter)),
	                 wire_cstr(item, strlen(item)),
	                 wire_cstr(user, strlen(user)),
	                 WIRE_ADD,
	                 n,
	                 ts,
	                 {NULL, 0}};
}

/* Applies ops (all of partition p) as batch seq of edge e, at p's next
 * offset. */
static void send_seq(int e, uint32_t p, uint64_t seq, const wire_op *ops, size_t n)
{
	wire_util_msg m = wire_util_batch(edges[e], "eu", p, seq, ops, n, NULL, 0);
	int rc = applier_apply(T.a, p, T.offset[p]++, m.buf, m.len);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

static void send_ops(int e, uint32_t p, const wire_op *ops, size_t n)
{
	send_seq(e, p, ++T.seq[e][p], ops, n);
}

/* Item i: post: and its number in 60 digits (long names make a stream
 * of many bytes for its counts). */
static void item_name(int i, char *out, size_t cap)
{
	snprintf(out, cap, "post:%060d", i);
}

static int item_number(const char *item)
{
	return atoi(item + 5);
}

typedef uint32_t (*amount_fn)(int i);

/* views of items from..to-1 go up by amount(i) (0: that item is left
 * alone), from edge e, in batches of at most 10000 ops per partition. */
static void add_views(int e, int from, int to, amount_fn amount)
{
	size_t cap = 10000;
	for (uint32_t p = 0; p < NPARTS; p++) {
		wire_op *ops = xcalloc(cap, sizeof *ops);
		char(*names)[80] = xcalloc(cap, sizeof *names);
		size_t n = 0;
		for (int i = from; i < to; i++) {
			char item[80];
			item_name(i, item, sizeof item);
			if (!amount(i) || partition_of(item, strlen(item), NPARTS) != p)
				continue;
			memcpy(names[n], item, sizeof item);
			ops[n] = op("views", names[n], "u1", amount(i), T0);
			if (++n == cap) {
				send_ops(e, p, ops, n);
				n = 0;
			}
		}
		if (n)
			send_ops(e, p, ops, n);
		free(ops);
		free(names);
	}
}

static uint32_t base_amount(int i)
{
	return (uint32_t)(i % 7) + 1;
}

static uint32_t one(int i)
{
	(void)i;
	return 1;
}

/* ---- the client: hclient into a cookie FILE into the frame reader -------- */

typedef struct got_count {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	uint64_t count;
	uint32_t p;
} got_count;

typedef struct got_edge {
	char name[EDGE_ID_MAX + 1];
	uint64_t applied, held;
} got_edge;

typedef struct got_member {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	char user[USER_MAX + 1];
	bool member;
	uint64_t hlc;
	uint32_t p;
} got_member;

typedef struct got_msg {
	uint32_t p;
	uint64_t n, w;
	bool last, source_ok;
	uint32_t ncounts, nedges, nmembers;
	got_edge edges[8];
} got_msg;

typedef struct got {
	int status;
	char *body; /* a refusal's body */
	bool ended;
	int rc;
	got_msg *msgs;
	size_t nmsgs, msgs_cap;
	got_count *counts;
	size_t ncounts, counts_cap;
	got_member *members;
	size_t nmembers, members_cap;
	uint64_t bytes;
	ckpt_reader rd;
	void (*after_msg)(struct got *g); /* NULL: nothing */
} got;

static void got_free(got *g)
{
	free(g->body);
	free(g->msgs);
	free(g->counts);
	free(g->members);
}

/* Copies s's membership entries to g->members. */
static void take_members(got *g, const wire_snapshot *s)
{
	for (uint32_t i = 0; i < s->nmembers; i++) {
		if (g->nmembers == g->members_cap) {
			g->members_cap = g->members_cap * 2 + 1024;
			g->members = xrealloc(g->members, g->members_cap * sizeof *g->members);
		}
		const wire_member *w = &s->members[i];
		got_member *m = &g->members[g->nmembers++];
		cr_assert_leq(w->counter.n, COUNTER_MAX);
		cr_assert_leq(w->item.n, ITEM_MAX);
		cr_assert_leq(w->user.n, USER_MAX);
		snprintf(m->counter, sizeof m->counter, "%.*s", (int)w->counter.n, w->counter.p);
		snprintf(m->item, sizeof m->item, "%.*s", (int)w->item.n, w->item.p);
		snprintf(m->user, sizeof m->user, "%.*s", (int)w->user.n, w->user.p);
		m->member = w->member;
		m->hlc = w->hlc;
		m->p = s->partition;
	}
}

static int on_msg(void *ctx, const wire_snapshot *s)
{
	got *g = ctx;
	if (g->nmsgs == g->msgs_cap)
		g->msgs = xrealloc(g->msgs, (g->msgs_cap = g->msgs_cap * 2 + 16) * sizeof *g->msgs);
	got_msg *m = &g->msgs[g->nmsgs++];
	memset(m, 0, sizeof *m);
	m->p = s->partition;
	m->n = s->offset;
	m->w = s->produced_ms;
	m->last = s->last;
	m->source_ok =
	    s->source.n == strlen(SOURCE) && memcmp(s->source.p, SOURCE, s->source.n) == 0;
	m->ncounts = s->ncounts;
	m->nedges = s->nedges;
	m->nmembers = s->nmembers;
	take_members(g, s);
	cr_assert_leq(s->nedges, 8);
	for (uint32_t i = 0; i < s->nedges; i++) {
		snprintf(m->edges[i].name, sizeof m->edges[i].name, "%.*s", (int)s->edges[i].edge.n,
		         s->edges[i].edge.p);
		m->edges[i].applied = s->edges[i].applied;
		m->edges[i].held = s->edges[i].held;
	}
	for (uint32_t i = 0; i < s->ncounts; i++) {
		if (g->ncounts == g->counts_cap) {
			g->counts_cap = g->counts_cap * 2 + 1024;
			g->counts = xrealloc(g->counts, g->counts_cap * sizeof *g->counts);
		}
		got_count *c = &g->counts[g->ncounts++];
		cr_assert_leq(s->counts[i].counter.n, COUNTER_MAX);
		cr_assert_leq(s->counts[i].item.n, ITEM_MAX);
		snprintf(c->counter, sizeof c->counter, "%.*s", (int)s->counts[i].counter.n,
		         s->counts[i].counter.p);
		snprintf(c->item, sizeof c->item, "%.*s", (int)s->counts[i].item.n,
		         s->counts[i].item.p);
		c->count = s->counts[i].count;
		c->p = s->partition;
	}
	if (g->after_msg)
		g->after_msg(g);
	return 0;
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t len)
{
	got *g = cookie;
	g->bytes += len;
	g->rc = ckpt_reader_feed(&g->rd, buf, len, on_msg, NULL, g);
	return g->rc ? -1 : (ssize_t)len;
}

/* GET path with the token (or without, token false) into g. */
static void fetch_as(const char *path, bool token, got *g)
{
	memset(g, 0, sizeof *g);
	ckpt_reader_init(&g->rd);
	cookie_io_functions_t io = {.write = cookie_write};
	FILE *f = fopencookie(g, "w", io);
	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	hclient_req r = {.host = "127.0.0.1",
	                 .port = T.port,
	                 .method = "GET",
	                 .path = path,
	                 .token = token ? TOKEN : NULL,
	                 .stream = f,
	                 .timeout_ms = 30000,
	                 .max_body = 1 << 20};
	hclient_answer a;
	char err[256];
	int rc = hclient_do(&r, &a, err, sizeof err);
	fclose(f);
	cr_assert_eq(rc, 0, "GET %s: %s (reader %s)", path, err, err_str(g->rc));
	g->status = a.status;
	g->body = a.body;
	g->ended = ckpt_reader_ended(&g->rd);
	ckpt_reader_free(&g->rd);
}

static void fetch(const char *path, got *g)
{
	fetch_as(path, true, g);
}

/* A refusal: its status and error code. */
static void expect_refused(const char *path, int status, const char *code)
{
	got g;
	fetch(path, &g);
	cr_assert_eq(g.status, status, "%s -> %d %s", path, g.status, g.body ? g.body : "");
	json_t *j = json_loads(g.body, 0, NULL);
	cr_assert_not_null(j, "%s: not JSON: %s", path, g.body);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
	cr_assert(c && strcmp(c, code) == 0, "%s -> %s, wanted %s", path, g.body, code);
	json_decref(j);
	got_free(&g);
}

/* ---- checks -------------------------------------------------------------- */

/* "counter\0item" order, as the C keys sort. */
static int key_cmp(const got_count *a, const got_count *b)
{
	int c = strcmp(a->counter, b->counter);
	return c ? c : strcmp(a->item, b->item);
}

static int by_key(const void *x, const void *y)
{
	return key_cmp(x, y);
}

static void sort_counts(got_count *c, size_t n)
{
	if (n)
		qsort(c, n, sizeof *c, by_key);
}

/* The stream's shape for the partitions in want (NPARTS flags): it
 * ended; count (or membership) messages (not last, no edges, 1..4096
 * entries, each partition's counts in key order) all come before one
 * last message per wanted partition, ascending, with no counts or
 * members; every message of p carries the same n, the source and one
 * wall time. */
static void check_shape(const got *g, const bool *want)
{
	cr_assert_eq(g->status, 200, "%s", g->body ? g->body : "");
	cr_assert(g->ended, "the end frame came");
	cr_assert_eq(g->rc, 0);
	uint64_t n_of[NPARTS] = {0};
	bool has_n[NPARTS] = {false};
	size_t c = 0, i = 0;
	const got_count *prev[NPARTS] = {NULL};
	for (; i < g->nmsgs && !g->msgs[i].last; i++) {
		const got_msg *m = &g->msgs[i];
		cr_assert_lt(m->p, NPARTS);
		cr_assert(want[m->p], "message of partition %u, not asked for", m->p);
		cr_assert_eq(m->nedges, 0);
		cr_assert(m->ncounts + m->nmembers >= 1 && m->ncounts + m->nmembers <= PER_MSG,
		          "%u counts, %u members", m->ncounts, m->nmembers);
		for (uint32_t k = 0; k < m->ncounts; k++, c++) {
			const got_count *x = &g->counts[c];
			cr_assert_eq(partition_of(x->item, strlen(x->item), NPARTS), m->p,
			             "%s in a message of partition %u", x->item, m->p);
			if (prev[m->p])
				cr_assert_lt(key_cmp(prev[m->p], x), 0, "%s after %s", x->item,
				             prev[m->p]->item);
			prev[m->p] = x;
		}
		if (has_n[m->p])
			cr_assert_eq(m->n, n_of[m->p]);
		n_of[m->p] = m->n;
		has_n[m->p] = true;
	}
	cr_assert_eq(c, g->ncounts);
	uint32_t p = 0;
	for (; i < g->nmsgs; i++) {
		const got_msg *m = &g->msgs[i];
		cr_assert(m->last, "a count message after the last ones");
		cr_assert_eq(m->ncounts, 0);
		cr_assert_eq(m->nmembers, 0);
		while (p < NPARTS && !want[p])
			p++;
		cr_assert_eq(m->p, p, "last messages ascending, one per partition");
		if (has_n[p])
			cr_assert_eq(m->n, n_of[p]);
		p++;
	}
	while (p < NPARTS && !want[p])
		p++;
	cr_assert_eq(p, NPARTS, "a last message for every partition asked");
	for (i = 0; i < g->nmsgs; i++) {
		cr_assert(g->msgs[i].source_ok);
		cr_assert_eq(g->msgs[i].w, g->msgs[0].w);
	}
}

/* The last message of p. */
static const got_msg *last_of(const got *g, uint32_t p)
{
	for (size_t i = 0; i < g->nmsgs; i++)
		if (g->msgs[i].last && g->msgs[i].p == p)
			return &g->msgs[i];
	cr_assert_fail("no last message for partition %u", p);
	return NULL;
}

/* The store's counts of the partitions in want, in key order. */
static got_count *store_counts(const bool *want, size_t *n)
{
	size_t cap = 1024;
	got_count *out = xmalloc(cap * sizeof *out);
	*n = 0;
	store_iter *it = store_iter_new(T.db, "C", 1);
	const char *k, *v, *c, *item;
	size_t kn, vn, cn, in;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		cr_assert(ckey_parse_count(k, kn, &c, &cn, &item, &in));
		uint32_t p = partition_of(item, in, NPARTS);
		if (!want[p])
			continue;
		if (*n == cap)
			out = xrealloc(out, (cap *= 2) * sizeof *out);
		got_count *x = &out[(*n)++];
		snprintf(x->counter, sizeof x->counter, "%.*s", (int)cn, c);
		snprintf(x->item, sizeof x->item, "%.*s", (int)in, item);
		x->count = store_get_u64((const unsigned char *)v);
		x->p = p;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return out;
}

/* g's counts are exactly want's counts in the store: each once. */
static void check_counts_are_the_store(got *g, const bool *want)
{
	size_t n;
	got_count *s = store_counts(want, &n);
	sort_counts(g->counts, g->ncounts);
	cr_assert_eq(g->ncounts, n, "%zu counts sent, the store has %zu", g->ncounts, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(key_cmp(&g->counts[i], &s[i]), 0, "%s/%s vs %s/%s",
		             g->counts[i].counter, g->counts[i].item, s[i].counter, s[i].item);
		cr_assert_eq(g->counts[i].count, s[i].count, "%s", s[i].item);
	}
	free(s);
}

/* ---- what comes back ----------------------------------------------------- */

Test(checkpoint, counts_of_the_partitions_asked_come_back_each_once)
{
	/* About 5000 views per partition (two messages each) and some
	 * likes. */
	add_views(0, 0, 20000, base_amount);
	for (int i = 0; i < 40; i++) {
		char item[80], user[16];
		item_name(i * 3, item, sizeof item);
		snprintf(user, sizeof user, "u%d", i);
		wire_op o = op("likes", item, user, 1, hlc_make(1700000000000ull + (uint64_t)i, 0));
		send_ops(1, partition_of(item, strlen(item), NPARTS), &o, 1);
	}
	start_api(NULL);

	got g;
	fetch("/v1/checkpoint?partitions=0,2", &g);
	bool want[NPARTS] = {true, false, true, false};
	check_shape(&g, want);
	size_t full = 0;
	for (size_t i = 0; i < g.nmsgs; i++)
		full += g.msgs[i].ncounts == PER_MSG;
	cr_assert_geq(full, 2, "partitions of over 4096 counts take several messages");
	check_counts_are_the_store(&g, want);
	got_free(&g);

	fetch("/v1/checkpoint?partitions=all", &g);
	bool all[NPARTS] = {true, true, true, true};
	check_shape(&g, all);
	check_counts_are_the_store(&g, all);
	cr_assert_gt(g.ncounts, 20000, "every view and like");
	got_free(&g);

	fetch("/v1/checkpoint?partitions=1-3", &g);
	bool r13[NPARTS] = {false, true, true, true};
	check_shape(&g, r13);
	check_counts_are_the_store(&g, r13);
	got_free(&g);
}

Test(checkpoint, a_partition_without_counts_still_has_its_last_message)
{
	start_api(NULL);
	got g;
	fetch("/v1/checkpoint?partitions=3", &g);
	bool want[NPARTS] = {false, false, false, true};
	check_shape(&g, want);
	cr_assert_eq(g.nmsgs, 1);
	cr_assert_eq(g.msgs[0].n, 0, "no O key: version 0");
	cr_assert_eq(g.msgs[0].nedges, 0);
	got_free(&g);
}

Test(checkpoint, versions_are_the_epoch_and_offset_of_the_view)
{
	add_views(0, 0, 200, base_amount);
	/* Partition 1's input went backwards: epoch 1, from offset 0. */
	cr_assert_eq(applier_reset_offset(T.a, 1, 0, true), 0);
	T.offset[1] = 0;
	add_views(0, 200, 400, base_amount);
	start_api(NULL);

	got g;
	fetch("/v1/checkpoint?partitions=all", &g);
	bool all[NPARTS] = {true, true, true, true};
	check_shape(&g, all);
	for (uint32_t p = 0; p < NPARTS; p++) {
		uint64_t want = version_make(p == 1 ? 1 : 0, (uint64_t)T.offset[p]);
		cr_assert_eq(last_of(&g, p)->n, want, "partition %u: %" PRIu64 " want %" PRIu64, p,
		             last_of(&g, p)->n, want);
		cr_assert_eq(applier_version(T.a, p), want, "the snapshots say the same");
	}
	cr_assert_eq(version_epoch(last_of(&g, 1)->n), 1);
	got_free(&g);

	/* A read-through answer carries the same version. */
	char item[80], path[256];
	for (int i = 0;; i++) {
		item_name(i, item, sizeof item);
		if (partition_of(item, strlen(item), NPARTS) == 1)
			break;
	}
	snprintf(path, sizeof path, "/v1/counts?items=%s&edge=m1", item);
	hclient_req r = {.host = "127.0.0.1",
	                 .port = T.port,
	                 .method = "GET",
	                 .path = path,
	                 .token = TOKEN,
	                 .timeout_ms = 10000,
	                 .max_body = 1 << 20};
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200, "%s", a.body);
	json_t *j = json_loads(a.body, 0, NULL);
	json_t *it = json_object_get(json_object_get(j, "items"), item);
	cr_assert_eq((uint64_t)json_integer_value(json_object_get(it, "version")),
	             version_make(1, (uint64_t)T.offset[1]));
	json_decref(j);
	free(a.body);
}

Test(checkpoint, after_resumes_strictly_after_the_key)
{
	add_views(0, 0, 3000, base_amount);
	for (int i = 0; i < 30; i++) {
		char item[80];
		item_name(i * 7, item, sizeof item);
		wire_op o = op("likes", item, "u1", 1, T0);
		send_ops(1, partition_of(item, strlen(item), NPARTS), &o, 1);
	}
	start_api(NULL);
	bool want[NPARTS] = {true, true, false, true};
	got whole;
	fetch("/v1/checkpoint?partitions=0-1,3", &whole);
	check_shape(&whole, want);
	sort_counts(whole.counts, whole.ncounts);
	size_t cuts[] = {0, 1, 17, whole.ncounts / 2, whole.ncounts - 1};
	for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
		const got_count *k = &whole.counts[cuts[c]];
		char path[512];
		snprintf(path, sizeof path,
		         "/v1/checkpoint?partitions=0-1,3&after_counter=%s&after_item=%s",
		         k->counter, k->item);
		got g;
		fetch(path, &g);
		check_shape(&g, want);
		sort_counts(g.counts, g.ncounts);
		cr_assert_eq(g.ncounts, whole.ncounts - cuts[c] - 1, "after %s/%s", k->counter,
		             k->item);
		for (size_t i = 0; i < g.ncounts; i++) {
			cr_assert_eq(key_cmp(&g.counts[i], &whole.counts[cuts[c] + 1 + i]), 0);
			cr_assert_eq(g.counts[i].count, whole.counts[cuts[c] + 1 + i].count);
		}
		got_free(&g);
	}
	/* After a key of a partition not asked for, or of no count at all:
	 * the keys above it. */
	got g;
	fetch("/v1/checkpoint?partitions=0-1,3&after_counter=likes&after_item=zzz:z", &g);
	check_shape(&g, want);
	size_t views = 0;
	for (size_t i = 0; i < whole.ncounts; i++)
		views += strcmp(whole.counts[i].counter, "views") == 0;
	cr_assert_eq(g.ncounts, views, "only the views sort after likes/zzz:z");
	got_free(&g);
	fetch("/v1/checkpoint?partitions=0-1,3&after_counter=views&after_item=zzz:z", &g);
	check_shape(&g, want);
	cr_assert_eq(g.ncounts, 0);
	cr_assert_eq(g.nmsgs, 3, "the last messages still come");
	got_free(&g);
	got_free(&whole);
}

Test(checkpoint, every_edge_applied_and_held_as_in_the_snapshots)
{
	char item[80];
	for (int i = 0;; i++) {
		item_name(i, item, sizeof item);
		if (partition_of(item, strlen(item), NPARTS) == 2)
			break;
	}
	wire_op o = op("likes", item, "u1", 1, T0);
	for (uint64_t s = 1; s <= 5; s++)
		send_seq(0, 2, s, &o, 1); /* m1 applied 5 */
	send_seq(1, 2, 1, &o, 1);         /* v1 applied 1 */
	send_seq(1, 2, 5, &o, 1);         /* then held 5, 3 */
	send_seq(1, 2, 3, &o, 1);
	send_seq(2, 2, 2, &o, 1); /* s1: nothing applied, 2 held */
	char other[80];
	for (int i = 0;; i++) {
		item_name(i, other, sizeof other);
		if (partition_of(other, strlen(other), NPARTS) == 1)
			break;
	}
	wire_op o1 = op("likes", other, "u1", 1, T0);
	send_seq(3, 1, 1, &o1, 1); /* x1: on partition 1 only */
	start_api(NULL);

	got g;
	fetch("/v1/checkpoint?partitions=2", &g);
	bool want[NPARTS] = {false, false, true, false};
	check_shape(&g, want);
	const got_msg *m = last_of(&g, 2);
	cr_assert_eq(m->nedges, 3, "m1, s1, v1");
	/* In key order of their names. */
	cr_assert_str_eq(m->edges[0].name, "m1");
	cr_assert_eq(m->edges[0].applied, 5);
	cr_assert_eq(m->edges[0].held, 0);
	cr_assert_str_eq(m->edges[1].name, "s1");
	cr_assert_eq(m->edges[1].applied, 0);
	cr_assert_eq(m->edges[1].held, 2);
	cr_assert_str_eq(m->edges[2].name, "v1");
	cr_assert_eq(m->edges[2].applied, 1);
	cr_assert_eq(m->edges[2].held, 3);

	/* The applier's snapshot of the same partition says the same. */
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 2, 100, &s, &more);
	cr_assert_eq(s.nedges, m->nedges);
	cr_assert_eq(s.offset, m->n);
	for (uint32_t i = 0; i < s.nedges; i++) {
		bool found = false;
		for (uint32_t j = 0; j < m->nedges; j++)
			if (s.edges[i].edge.n == strlen(m->edges[j].name) &&
			    memcmp(s.edges[i].edge.p, m->edges[j].name, s.edges[i].edge.n) == 0) {
				cr_assert_eq(s.edges[i].applied, m->edges[j].applied);
				cr_assert_eq(s.edges[i].held, m->edges[j].held);
				found = true;
			}
		cr_assert(found);
	}
	wire_snapshot_free(&s);
	got_free(&g);
}

/* ---- refusals ------------------------------------------------------------ */

Test(checkpoint, a_partition_not_owned_is_421)
{
	add_views(0, 0, 100, base_amount);
	start_api("0-1");
	expect_refused("/v1/checkpoint?partitions=1,2", 421, "not_owner");
	expect_refused("/v1/checkpoint?partitions=all", 421, "not_owner");
	expect_refused("/v1/checkpoint?partitions=1,2&home=ap", 421, "not_owner");
	got g;
	fetch("/v1/checkpoint?partitions=3", &g);
	cr_assert_eq(g.status, 421);
	json_t *j = json_loads(g.body, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "error"), "partition")),
	             3);
	json_decref(j);
	got_free(&g);
	fetch("/v1/checkpoint?partitions=0-1", &g);
	bool want[NPARTS] = {true, true, false, false};
	check_shape(&g, want);
	check_counts_are_the_store(&g, want);
	got_free(&g);
}

Test(checkpoint, bad_requests_are_400)
{
	start_api(NULL);
	const char *paths[] = {
	    "/v1/checkpoint",
	    "/v1/checkpoint?partitions=",
	    "/v1/checkpoint?partitions=4",
	    "/v1/checkpoint?partitions=0,0",
	    "/v1/checkpoint?partitions=2-1",
	    "/v1/checkpoint?partitions=x",
	    "/v1/checkpoint?partitions=0%22",
	    "/v1/checkpoint?partitions=0&after_counter=likes",
	    "/v1/checkpoint?partitions=0&after_item=post:1",
	    "/v1/checkpoint?partitions=0&after_counter=Likes&after_item=post:1",
	    "/v1/checkpoint?partitions=0&after_counter=likes&after_item=post",
	    "/v1/checkpoint?partitions=0&after_counter=likes&after_item=",
	    "/v1/checkpoint?partitions=0&partitions=1",
	    "/v1/checkpoint?partitions=0&limit=3",
	    /* A home load always starts from the beginning. */
	    "/v1/checkpoint?partitions=0&home=ap&after_counter=likes&after_item=post:1",
	    "/v1/checkpoint?partitions=0&home=ap&after_counter=likes",
	    "/v1/checkpoint?partitions=0&home=",
	    "/v1/checkpoint?partitions=0&home=AP",
	    "/v1/checkpoint?partitions=0&home=ap&home=us",
	    "/v1/checkpoint?partitions=0&home="
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr", /* 65 */
	    "/v1/checkpoint?home=ap",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		expect_refused(paths[i], 400, "bad_request");
	got g;
	fetch_as("/v1/checkpoint?partitions=0", false, &g);
	cr_assert_eq(g.status, 401);
	got_free(&g);
}

/* ---- the home checkpoint ------------------------------------------------- */

#define HOME_USERS 40000 /* 20,000 at home in "ap": about 5,000 a partition */
#define HOME_ITEMS 997

/* User i's home: "ap" for i % 4 of 0 or 1, "ap-south" (which starts as
 * "ap" does) for 2, none for 3. */
static const char *home_of(int i)
{
	static const char *const homes[4] = {"ap", "ap", "ap-south", NULL};
	return homes[i % 4];
}

/* User i likes item i % HOME_ITEMS; every tenth unlikes it later. */
static bool unliked(int i)
{
	return i % 10 == 0;
}

static void home_item(int i, char *out, size_t cap)
{
	item_name(i % HOME_ITEMS, out, cap);
}

/* Every user's like (pass 0), then the unlikes (pass 1), each op with its
 * user's home, from edge e in batches of one partition. */
static void add_home_likes(int e)
{
	size_t cap = 10000;
	wire_op *ops = xcalloc(cap, sizeof *ops);
	char(*items)[80] = xcalloc(cap, sizeof *items);
	char(*users)[16] = xcalloc(cap, sizeof *users);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t p = 0; p < NPARTS; p++) {
			size_t n = 0;
			for (int i = 0; i < HOME_USERS; i++) {
				home_item(i, items[n], sizeof items[n]);
				if (partition_of(items[n], strlen(items[n]), NPARTS) != p ||
				    (pass && !unliked(i)))
					continue;
				snprintf(users[n], sizeof users[n], "u%d", i);
				ops[n] =
				    op("likes", items[n], users[n], 1, T0 + 1 + (uint64_t)pass);
				ops[n].kind = pass ? WIRE_REMOVE : WIRE_ADD;
				const char *h = home_of(i);
				if (h)
					ops[n].home = wire_cstr(h, strlen(h));
				if (++n == cap) {
					send_ops(e, p, ops, n);
					n = 0;
				}
			}
			if (n)
				send_ops(e, p, ops, n);
		}
	}
	free(ops);
	free(items);
	free(users);
}

/* Partition, then counter, item and user: the order of the stream. */
static int member_cmp(const got_member *a, const got_member *b)
{
	if (a->p != b->p)
		return a->p < b->p ? -1 : 1;
	int c = strcmp(a->counter, b->counter);
	if (!c)
		c = strcmp(a->item, b->item);
	return c ? c : strcmp(a->user, b->user);
}

static int by_member(const void *x, const void *y)
{
	return member_cmp(x, y);
}

/* What a home checkpoint of region over want should carry, from the
 * ops add_home_likes sent (not from the store), in stream order. */
static got_member *expected_members(const char *region, const bool *want, size_t *n)
{
	got_member *out = xcalloc(HOME_USERS, sizeof *out);
	*n = 0;
	for (int i = 0; i < HOME_USERS; i++) {
		got_member *m = &out[*n];
		home_item(i, m->item, sizeof m->item);
		m->p = partition_of(m->item, strlen(m->item), NPARTS);
		if (!home_of(i) || strcmp(home_of(i), region) != 0 || !want[m->p])
			continue;
		snprintf(m->counter, sizeof m->counter, "likes");
		snprintf(m->user, sizeof m->user, "u%d", i);
		m->member = !unliked(i);
		m->hlc = T0 + (unliked(i) ? 2 : 1);
		(*n)++;
	}
	qsort(out, *n, sizeof *out, by_member);
	return out;
}

/* g is the home checkpoint of region over want: the stream's shape, no
 * counts or edges anywhere, every partition's version, and exactly the
 * memberships expected, in partition then key order. */
static void check_home(const got *g, const char *region, const bool *want)
{
	check_shape(g, want);
	for (size_t i = 0; i < g->nmsgs; i++) {
		cr_assert_eq(g->msgs[i].ncounts, 0);
		cr_assert_eq(g->msgs[i].nedges, 0, "a home checkpoint carries no edges");
	}
	for (uint32_t p = 0; p < NPARTS; p++)
		if (want[p])
			cr_assert_eq(last_of(g, p)->n, applier_version(T.a, p), "partition %u", p);
	size_t n;
	got_member *x = expected_members(region, want, &n);
	cr_assert_eq(g->nmembers, n, "%s: %zu members sent, %zu expected", region, g->nmembers, n);
	for (size_t i = 0; i < n; i++) {
		const got_member *m = &g->members[i];
		if (i)
			cr_assert_lt(member_cmp(&g->members[i - 1], m), 0, "%s/%s after %s/%s",
			             m->item, m->user, g->members[i - 1].item,
			             g->members[i - 1].user);
		cr_assert_eq(member_cmp(m, &x[i]), 0, "%s/%s/%s, expected %s/%s/%s", m->counter,
		             m->item, m->user, x[i].counter, x[i].item, x[i].user);
		cr_assert_eq(m->member, x[i].member, "%s/%s", m->item, m->user);
		cr_assert_eq(m->hlc, x[i].hlc, "%s/%s", m->item, m->user);
	}
	free(x);
}

Test(checkpoint, home_sends_exactly_that_regions_memberships_of_the_partitions_asked)
{
	add_home_likes(0);
	add_views(1, 0, 3000, base_amount); /* counts that must not come */
	start_api(NULL);

	got g;
	fetch("/v1/checkpoint?partitions=0,2&home=ap", &g);
	bool want[NPARTS] = {true, false, true, false};
	check_home(&g, "ap", want);
	size_t full = 0;
	for (size_t i = 0; i < g.nmsgs; i++)
		full += g.msgs[i].nmembers == PER_MSG;
	cr_assert_geq(full, 2, "partitions of over 4096 members take several messages");
	got_free(&g);

	/* A region whose name starts as another's has its own. */
	fetch("/v1/checkpoint?partitions=all&home=ap-south", &g);
	bool all[NPARTS] = {true, true, true, true};
	check_home(&g, "ap-south", all);
	cr_assert_gt(g.nmembers, 9000);
	got_free(&g);

	/* A region with no users: the last messages and the end. */
	fetch("/v1/checkpoint?partitions=1-3&home=jp", &g);
	bool r13[NPARTS] = {false, true, true, true};
	check_home(&g, "jp", r13);
	cr_assert_eq(g.nmsgs, 3);
	got_free(&g);

	/* The counts checkpoint is as it was: no members. */
	fetch("/v1/checkpoint?partitions=all", &g);
	check_shape(&g, all);
	check_counts_are_the_store(&g, all);
	cr_assert_eq(g.nmembers, 0);
	got_free(&g);
}

/* ---- the view ------------------------------------------------------------ */

#define BIG 100000 /* items: ~8 MB of stream, far more than socket buffers */

/* A tenth of the items, spread over the whole scan. */
static uint32_t hundred_on_a_tenth(int i)
{
	return i % 10 == 3 ? 100 : 0;
}

static size_t rounds;

/* While the stream runs: every 4th message, more views on 500 items. */
static void apply_more(got *g)
{
	if (g->nmsgs % 4)
		return;
	int from = (int)((rounds * 7919) % (BIG - 500));
	add_views(2, from, from + 500, one);
	rounds++;
}

/* GET path as a slow client: a receive buffer of a few KB, and nothing
 * of the body read until before_body() returned. The body goes to g's
 * reader, whose after_msg hook runs between reads. */
static void fetch_slow(const char *path, got *g, void (*before_body)(void))
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	int small = 4096;
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	struct timeval tv = {30, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.port)};
	cr_assert_eq(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	char req[512];
	int n =
	    snprintf(req, sizeof req,
	             "GET %s HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n", path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	/* The head, a byte at a time so that none of the body is read. */
	char head[4096];
	size_t hn = 0;
	while (hn < 4 || memcmp(head + hn - 4, "\r\n\r\n", 4) != 0) {
		cr_assert_lt(hn, sizeof head - 1);
		cr_assert_eq(read(fd, head + hn, 1), 1, "the head ended early");
		hn++;
	}
	head[hn] = 0;
	cr_assert_eq(sscanf(head, "HTTP/1.%*d %d", &g->status), 1, "%s", head);
	cr_assert_eq(g->status, 200, "%s", head);
	cr_assert_not_null(strstr(head, "Content-Type: application/octet-stream"), "%s", head);
	cr_assert_not_null(strstr(head, "Cache-Control: no-store"), "%s", head);
	before_body();
	char buf[4096];
	for (;;) {
		ssize_t got_n = read(fd, buf, sizeof buf);
		cr_assert_geq(got_n, 0, "read failed or timed out");
		if (got_n == 0)
			break;
		g->bytes += (uint64_t)got_n;
		g->rc = ckpt_reader_feed(&g->rd, buf, (size_t)got_n, on_msg, NULL, g);
		cr_assert_eq(g->rc, 0, "%s", err_str(g->rc));
	}
	close(fd);
	g->ended = ckpt_reader_ended(&g->rd);
}

/* Before any of the body is read (the stream's time-out, 10 s without
 * progress, bounds how long this may take). */
static void apply_everywhere(void)
{
	add_views(1, 0, BIG, hundred_on_a_tenth);
}

Test(checkpoint, counts_and_versions_are_those_of_the_view_while_apply_runs)
{
	add_views(0, 0, BIG, base_amount);
	uint64_t before[NPARTS];
	for (uint32_t p = 0; p < NPARTS; p++)
		before[p] = applier_version(T.a, p);
	start_api(NULL);

	got g;
	memset(&g, 0, sizeof g);
	ckpt_reader_init(&g.rd);
	g.after_msg = apply_more;
	rounds = 0;
	fetch_slow("/v1/checkpoint?partitions=all", &g, apply_everywhere);
	ckpt_reader_free(&g.rd);
	bool all[NPARTS] = {true, true, true, true};
	check_shape(&g, all);
	cr_assert_gt(g.bytes, 6u << 20, "a stream far longer than the socket buffers: %" PRIu64,
	             g.bytes);
	cr_assert_gt(rounds, 3, "the applier wrote between chunks");

	/* Each item once, with its count before the request. */
	cr_assert_eq(g.ncounts, BIG);
	unsigned char *seen = xcalloc(BIG, 1);
	for (size_t i = 0; i < g.ncounts; i++) {
		const got_count *c = &g.counts[i];
		cr_assert_str_eq(c->counter, "views");
		int k = item_number(c->item);
		cr_assert(k >= 0 && k < BIG);
		cr_assert_not(seen[k], "%s twice", c->item);
		seen[k] = 1;
		cr_assert_eq(c->count, base_amount(k), "%s: %" PRIu64 ", the view had %u", c->item,
		             c->count, base_amount(k));
	}
	free(seen);
	for (uint32_t p = 0; p < NPARTS; p++) {
		cr_assert_eq(last_of(&g, p)->n, before[p], "partition %u: the view's version", p);
		cr_assert_gt(applier_version(T.a, p), before[p], "partition %u moved on since", p);
	}
	/* And the store did change under the stream. */
	char item[80];
	item_name(BIG - 7, item, sizeof item);
	uint64_t now;
	cr_assert_eq(applier_count(T.a, "views", item, &now), 0);
	cr_assert_geq(now, base_amount(BIG - 7) + 100);
	got_free(&g);
}

Test(checkpoint, a_client_that_goes_away_mid_stream_frees_the_job)
{
	add_views(0, 0, 20000, base_amount);
	start_api(NULL);
	for (int round = 0; round < 3; round++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_geq(fd, 0);
		int small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons((uint16_t)T.port)};
		cr_assert_eq(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		const char req[] = "GET /v1/checkpoint?partitions=all HTTP/1.0\r\nAuthorization: "
		                   "Bearer " TOKEN "\r\n\r\n";
		cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
		char buf[1024];
		cr_assert_gt(read(fd, buf, sizeof buf), 0);
		close(fd);
	}
	/* The API still answers, whole. */
	got g;
	fetch("/v1/checkpoint?partitions=0", &g);
	bool want[NPARTS] = {true, false, false, false};
	check_shape(&g, want);
	check_counts_are_the_store(&g, want);
	got_free(&g);
}

/* ---- many partitions ----------------------------------------------------- */

#define WIDE 64           /* partitions */
#define WIDE_ITEMS 100000 /* ~1,560 a partition: no buffer fills, all spill */

Test(checkpoint, with_many_partitions_buffers_leave_before_they_fill)
{
	char dir[128], err[256];
	snprintf(dir, sizeof dir, "%s/wide", T.dir);
	store *db = testdir_open_store(dir);
	applier *a = applier_new(db, WIDE, &T.ctr, err, sizeof err);
	cr_assert_not_null(a, "%s", err);
	/* One batch per partition of every item there. */
	wire_op *ops = xcalloc(WIDE_ITEMS, sizeof *ops);
	char(*names)[32] = xcalloc(WIDE_ITEMS, sizeof *names);
	for (uint32_t p = 0; p < WIDE; p++) {
		size_t n = 0;
		for (int i = 0; i < WIDE_ITEMS; i++) {
			char item[32];
			snprintf(item, sizeof item, "reel:%d", i);
			if (partition_of(item, strlen(item), WIDE) != p)
				continue;
			memcpy(names[n], item, sizeof item);
			ops[n] = op("views", names[n], "u1", base_amount(i), T0);
			n++;
		}
		wire_util_msg m = wire_util_batch("m1", "eu", p, 1, ops, n, NULL, 0);
		cr_assert_eq(applier_apply(a, p, 0, m.buf, m.len), 0);
		free(m.buf);
	}
	free(ops);
	free(names);
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = TOKEN,
	                  .db = db,
	                  .ctr = &T.ctr,
	                  .partitions = WIDE,
	                  .ap = a,
	                  .instance_id = SOURCE};
	ops_api *api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(api, "%s", err);
	T.port = ops_api_port(api);

	got g;
	fetch("/v1/checkpoint?partitions=all", &g);
	cr_assert_eq(g.status, 200);
	cr_assert(g.ended);
	cr_assert_eq(g.ncounts, WIDE_ITEMS);
	unsigned char *seen = xcalloc(WIDE_ITEMS, 1);
	for (size_t i = 0; i < g.ncounts; i++) {
		int k = atoi(g.counts[i].item + 5);
		cr_assert(k >= 0 && k < WIDE_ITEMS);
		cr_assert_not(seen[k], "%s twice", g.counts[i].item);
		seen[k] = 1;
		cr_assert_eq(g.counts[i].count, base_amount(k));
		cr_assert_eq(partition_of(g.counts[i].item, strlen(g.counts[i].item), WIDE),
		             g.counts[i].p);
	}
	free(seen);
	/* Count messages of one partition before its last flush: the buffers
	 * left together before any held 4096. */
	size_t lasts = 0;
	uint32_t msgs_of[WIDE] = {0};
	for (size_t i = 0; i < g.nmsgs; i++) {
		cr_assert_leq(g.msgs[i].ncounts, PER_MSG);
		cr_assert_lt(g.msgs[i].ncounts, PER_MSG, "no partition reached 4096");
		if (g.msgs[i].last) {
			cr_assert_eq(g.msgs[i].p, lasts, "ascending");
			lasts++;
		} else {
			cr_assert_eq(lasts, 0);
			msgs_of[g.msgs[i].p]++;
		}
	}
	cr_assert_eq(lasts, WIDE);
	for (uint32_t p = 0; p < WIDE; p++)
		cr_assert_geq(msgs_of[p], 2, "partition %u: spilled, then flushed", p);
	got_free(&g);
	ops_api_stop(api);
	applier_free(a);
	store_close(db);
}
