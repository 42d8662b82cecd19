/* ckpt_fixture.h - what test_checkpoint.c and test_checkpoint_home.c
 * share: a temp dir with a store, an applier for 4 partitions (set
 * counter likes, sum counter views) filled through the applier, central's
 * ops API on 127.0.0.1 at a port the kernel picks, and a client that
 * reads GET /v1/checkpoint the way an edge does (hclient's streamed body
 * into a FILE made with fopencookie, fed to the frame reader, ckpt.h),
 * keeping every message it got for the tests to check. Header-only,
 * included once per test file: its state, T, is the test file's own.
 */
#ifndef TESTS_SUPPORT_CKPT_FIXTURE_H
#define TESTS_SUPPORT_CKPT_FIXTURE_H

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

#define CKPT_FIXTURE static __attribute__((unused))

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

CKPT_FIXTURE void setup(void)
{
	log_threshold = LOG_ERROR;
	cr_assert_eq(evthread_use_pthreads(), 0);
	T.a = apply_util_open("test_checkpoint", "likes", "views", NPARTS, T.dir, sizeof T.dir,
	                      &T.ctr, &T.db);
}

CKPT_FIXTURE void teardown(void)
{
	ops_api_stop(T.api);
	if (T.owned)
		shard_set_free(&T.own);
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	memset(&T, 0, sizeof T);
}

/* The API, owning the partitions of spec (NULL: all). */
CKPT_FIXTURE void start_api(const char *spec)
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

CKPT_FIXTURE const char *const edges[4] = {"m1", "v1", "s1", "x1"};

CKPT_FIXTURE wire_op op(const char *counter, const char *item, const char *user, uint32_t n,
                        uint64_t ts)
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
CKPT_FIXTURE void send_seq(int e, uint32_t p, uint64_t seq, const wire_op *ops, size_t n)
{
	wire_util_msg m = wire_util_batch(edges[e], "eu", p, seq, ops, n, NULL, 0);
	int rc = applier_apply(T.a, p, T.offset[p]++, m.buf, m.len, 0);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

CKPT_FIXTURE void send_ops(int e, uint32_t p, const wire_op *ops, size_t n)
{
	send_seq(e, p, ++T.seq[e][p], ops, n);
}

/* Applies the move of user to home at since_ms in partition p, at its
 * next offset (as `central home-move` produces to each partition). */
CKPT_FIXTURE void send_move(uint32_t p, const char *user, const char *home, uint64_t since_ms)
{
	wire_util_msg m = wire_util_move(p, user, home, since_ms);
	int rc = applier_apply(T.a, p, T.offset[p]++, m.buf, m.len, 0);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

/* ops[0..*n), all of partition p, gathered by a filling loop: sent as
 * one batch of edge e once cap are there, or with last whatever is. */
CKPT_FIXTURE void send_gathered(int e, uint32_t p, const wire_op *ops, size_t *n, size_t cap,
                                bool last)
{
	if (*n && (last || *n == cap)) {
		send_ops(e, p, ops, *n);
		*n = 0;
	}
}

/* Item i: post: and its number in 60 digits (long names make a stream
 * of many bytes for its counts). */
CKPT_FIXTURE void item_name(int i, char *out, size_t cap)
{
	snprintf(out, cap, "post:%060d", i);
}

CKPT_FIXTURE int item_number(const char *item)
{
	return atoi(item + 5);
}

typedef uint32_t (*amount_fn)(int i);

/* views of items from..to-1 go up by amount(i) (0: that item is left
 * alone), from edge e, in batches of at most 10000 ops per partition. */
CKPT_FIXTURE void add_views(int e, int from, int to, amount_fn amount)
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
			n++;
			send_gathered(e, p, ops, &n, cap, false);
		}
		send_gathered(e, p, ops, &n, cap, true);
		free(ops);
		free(names);
	}
}

CKPT_FIXTURE uint32_t base_amount(int i)
{
	return (uint32_t)(i % 7) + 1;
}

CKPT_FIXTURE uint32_t one(int i)
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

typedef struct got_mark {
	char user[USER_MAX + 1];
	char home[EDGE_ID_MAX + 1];
	uint64_t since_ms;
	uint32_t p;
	bool in_last; /* came in the partition's last message */
} got_mark;

typedef struct got_msg {
	uint32_t p;
	uint64_t n, w;
	uint64_t index_from; /* "i" */
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
	got_mark *marks;
	size_t nmarks, marks_cap;
	uint64_t bytes;
	ckpt_reader rd;
	void (*after_msg)(struct got *g); /* NULL: nothing */
} got;

CKPT_FIXTURE void got_free(got *g)
{
	free(g->body);
	free(g->msgs);
	free(g->counts);
	free(g->members);
	free(g->marks);
}

/* Copies s's marks (where moved users live) to g->marks. */
CKPT_FIXTURE void take_marks(got *g, const wire_snapshot *s)
{
	for (uint32_t i = 0; i < s->nmarks; i++) {
		if (g->nmarks == g->marks_cap) {
			g->marks_cap = g->marks_cap * 2 + 64;
			g->marks = xrealloc(g->marks, g->marks_cap * sizeof *g->marks);
		}
		const wire_home_mark *w = &s->marks[i];
		got_mark *m = &g->marks[g->nmarks++];
		snprintf(m->user, sizeof m->user, "%.*s", (int)w->user.n, w->user.p);
		snprintf(m->home, sizeof m->home, "%.*s", (int)w->home.n, w->home.p);
		m->since_ms = w->since_ms;
		m->p = s->partition;
		m->in_last = s->last;
	}
}

/* Copies s's membership entries to g->members. */
CKPT_FIXTURE void take_members(got *g, const wire_snapshot *s)
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

CKPT_FIXTURE int on_msg(void *ctx, const wire_snapshot *s)
{
	got *g = ctx;
	if (g->nmsgs == g->msgs_cap)
		g->msgs = xrealloc(g->msgs, (g->msgs_cap = g->msgs_cap * 2 + 16) * sizeof *g->msgs);
	got_msg *m = &g->msgs[g->nmsgs++];
	memset(m, 0, sizeof *m);
	m->p = s->partition;
	m->n = s->offset;
	m->w = s->produced_ms;
	m->index_from = s->index_from;
	m->last = s->last;
	m->source_ok =
	    s->source.n == strlen(SOURCE) && memcmp(s->source.p, SOURCE, s->source.n) == 0;
	m->ncounts = s->ncounts;
	m->nedges = s->nedges;
	m->nmembers = s->nmembers;
	take_members(g, s);
	take_marks(g, s);
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

CKPT_FIXTURE ssize_t cookie_write(void *cookie, const char *buf, size_t len)
{
	got *g = cookie;
	g->bytes += len;
	g->rc = ckpt_reader_feed(&g->rd, buf, len, on_msg, NULL, g);
	return g->rc ? -1 : (ssize_t)len;
}

/* GET path with the token (or without, token false) into g. */
CKPT_FIXTURE void fetch_as(const char *path, bool token, got *g)
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

CKPT_FIXTURE void fetch(const char *path, got *g)
{
	fetch_as(path, true, g);
}

/* A refusal: its status and error code. */
CKPT_FIXTURE void expect_refused(const char *path, int status, const char *code)
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
CKPT_FIXTURE int key_cmp(const got_count *a, const got_count *b)
{
	int c = strcmp(a->counter, b->counter);
	return c ? c : strcmp(a->item, b->item);
}

CKPT_FIXTURE int by_key(const void *x, const void *y)
{
	return key_cmp(x, y);
}

CKPT_FIXTURE void sort_counts(got_count *c, size_t n)
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
CKPT_FIXTURE void check_shape(const got *g, const bool *want)
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
CKPT_FIXTURE const got_msg *last_of(const got *g, uint32_t p)
{
	for (size_t i = 0; i < g->nmsgs; i++)
		if (g->msgs[i].last && g->msgs[i].p == p)
			return &g->msgs[i];
	cr_assert_fail("no last message for partition %u", p);
	return NULL;
}

/* The store's counts of the partitions in want, in key order. */
CKPT_FIXTURE got_count *store_counts(const bool *want, size_t *n)
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
CKPT_FIXTURE void check_counts_are_the_store(got *g, const bool *want)
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

#endif
