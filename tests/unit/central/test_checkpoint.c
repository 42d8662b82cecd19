/* test_checkpoint.c - central's checkpoint stream (GET /v1/checkpoint,
 * central/ops/opsckpt.c) over a real store filled through the applier, read
 * the way an edge reads it (tests/support/ckpt_fixture.h). Every count of
 * the partitions asked comes back once and only those; the messages' shape
 * (counts in key order, at most 4096 a message, one last message per
 * partition with the edges' sequences, the end frame); versions as
 * epoch and offset; resuming after a key; 421 and 400 answers; and the
 * view: counts and versions as they were when the request came, while
 * the applier keeps writing during the stream (read by a slow client
 * with a small receive buffer, so most of the stream is made after).
 * The home checkpoint is test_checkpoint_home.c's.
 */
#include "tests/support/ckpt_fixture.h"

TestSuite(checkpoint, .init = setup, .fini = teardown, .timeout = 120);

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
	    /* A retention cut: with home, digits only. */
	    "/v1/checkpoint?partitions=0&since_ms=1700000000000",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=+17",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=-1",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=%2017",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=17x",
	    "/v1/checkpoint?partitions=0&home=ap&since_ms=1234567890123456",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		expect_refused(paths[i], 400, "bad_request");
	got g;
	fetch_as("/v1/checkpoint?partitions=0", false, &g);
	cr_assert_eq(g.status, 401);
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
		cr_assert_eq(applier_apply(a, p, 0, m.buf, m.len, 0), 0);
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
