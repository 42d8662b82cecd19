/* test_seed.c - a store copied whole from a peer (edge/changelog/seed.h):
 * the copy served over HTTP holds every key of the peer's store but its
 * gap mark, and replaces everything the loading store held; a body cut
 * short, with wrong totals, from an unfit store or older than the log's
 * start is refused before the loading store is touched; a load cut short
 * leaves the store marked unfit; the listener refuses another edge, an
 * unfit store, and a peer without the token.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/changelog/changelog.h"
#include "edge/changelog/seed.h"
#include "hclient.h"
#include "log.h"
#include "tests/support/tconn.h"
#include "tests/support/testdir.h"

/* The one-byte store key of a changelog tag (keys.h), as a C string. */
#define LOG_KEY(tag) ((const char[]){(char)(tag), 0})

static struct {
	char dir[64];
	store *peer, *mine;
	const char *unfit; /* what the peer's fit hook says */
	int64_t ahead;     /* the snapshot hook's position past the peer's L */
} T;

static void setup(void)
{
	log_threshold = getenv("TEST_LOG") ? LOG_INFO : LOG_ERROR;
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "test_seed");
	char path[128];
	snprintf(path, sizeof path, "%s/peer", T.dir);
	T.peer = testdir_open_store(path);
	snprintf(path, sizeof path, "%s/mine", T.dir);
	T.mine = testdir_open_store(path);
}

static void teardown(void)
{
	store_close(T.peer);
	store_close(T.mine);
	testdir_remove(T.dir);
}

TestSuite(seed, .init = setup, .fini = teardown, .timeout = 30);

static void nap(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static void put(store *db, const char *k, const char *v)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, strlen(k), v, strlen(v));
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
}

static void put_u64(store *db, const char *k, uint64_t v)
{
	unsigned char b[8];
	store_put_u64(b, v);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, strlen(k), b, 8);
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
}

/* The value of k in db, or NULL (the caller frees it). */
static char *get(store *db, const char *k)
{
	char *v = NULL;
	size_t n = 0;
	int rc = store_get(db, k, strlen(k), &v, &n);
	if (rc == ERR_NOTFOUND)
		return NULL;
	cr_assert_eq(rc, 0);
	char *s = malloc(n + 1);
	memcpy(s, v, n);
	s[n] = 0;
	free(v);
	return s;
}

static size_t count_keys(store *db)
{
	return testdir_count_keys(db, "", 0);
}

/* A peer's store: a position, an epoch, and n more keys, some large
 * enough that the copy takes several frames. */
static void fill_peer(int n, uint64_t at)
{
	put_u64(T.peer, LOG_KEY(EKEY_LOG_POSITION), at);
	put_u64(T.peer, LOG_KEY(EKEY_LOG_EPOCH), 3);
	char *big = malloc(20000);
	memset(big, 'v', 19999);
	big[19999] = 0;
	for (int i = 0; i < n; i++) {
		char k[32];
		snprintf(k, sizeof k, "Mlikes\x01post:%05d", i);
		put(T.peer, k, i % 10 ? "1" : big);
	}
	free(big);
}

/* The body seed_serve would send of db, in f (rewound). */
static void body_of(store *db, FILE *f)
{
	sbuf out;
	sbuf_init(&out);
	seed_enc e;
	seed_enc_begin(&e, &out);
	store_iter *it = store_iter_new(db, "", 0);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (ekey_is_alone(k, kn, EKEY_LOG_GAP))
			continue;
		seed_enc_put(&e, k, kn, v, vn);
		(void)seed_enc_flush(&e, &out, false);
	}
	store_iter_free(it);
	seed_enc_end(&e, &out);
	seed_enc_free(&e);
	cr_assert_eq(fwrite(out.p, 1, out.len, f), out.len);
	sbuf_free(&out);
	rewind(f);
}

static const char *fit(void *ctx)
{
	(void)ctx;
	return T.unfit;
}

/* The peer's view at its own position (a follower's, or an active's with
 * nothing in flight). */
static store_snap *snapshot(void *ctx, int64_t *position)
{
	(void)ctx;
	store_snap *sn = store_snap_new(T.peer);
	uint64_t at = 0;
	int rc = store_snap_read_u64(sn, LOG_KEY(EKEY_LOG_POSITION), 1, &at);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND);
	*position = (int64_t)at + T.ahead;
	return sn;
}

static seed_server *serve(const char *token)
{
	char err[256];
	seed_serve_opts o = {.listen = "127.0.0.1:0",
	                     .token = token,
	                     .edge_id = "edge-a",
	                     .partitions = 8,
	                     .db = T.peer,
	                     .fit = fit,
	                     .snapshot = snapshot};
	seed_server *s = seed_serve_start(&o, err, sizeof err);
	cr_assert_not_null(s, "%s", err);
	return s;
}

static seed_load_opts load_opts(const seed_server *s, char *from, size_t cap, const char *token)
{
	snprintf(from, cap, "127.0.0.1:%d", seed_serve_port(s));
	return (seed_load_opts){.from = from,
	                        .token = token,
	                        .edge_id = "edge-a",
	                        .partitions = 8,
	                        .data_dir = T.dir,
	                        .timeout_ms = 5000};
}

/* T.peer's store copied into T.mine (a log starting at 40), with no
 * token: what the load says. */
static seed_loaded copied_from_peer(void)
{
	seed_server *s = serve("");
	char from[64], err[256];
	seed_load_opts o = load_opts(s, from, sizeof from, "");
	seed_loaded r;
	cr_assert_eq(seed_load(&o, T.mine, 40, &r, err, sizeof err), 0, "%s", err);
	seed_serve_stop(s);
	return r;
}

Test(seed, a_copy_holds_every_key_of_the_peer_and_nothing_the_store_held_before)
{
	fill_peer(300, 42);
	put(T.mine, "Mlikes\x01stale", "1");
	put(T.mine, "Ileftover", "x");
	put_u64(T.mine, LOG_KEY(EKEY_LOG_GAP), 17);
	seed_loaded r = copied_from_peer();
	cr_assert_eq(r.at, 42);
	cr_assert_eq(r.keys, 302, "every key: %llu", (unsigned long long)r.keys);
	cr_assert_gt(r.bytes, 3 * SEED_FRAME_BYTES / 2, "more than one frame");
	cr_assert_eq(count_keys(T.mine), 302);
	cr_assert_null(get(T.mine, LOG_KEY(EKEY_LOG_GAP)), "fit once loaded");
	cr_assert_null(get(T.mine, "Ileftover"));
	cr_assert_null(get(T.mine, "Mlikes\x01stale"));
	char *v = get(T.mine, "Mlikes\x01post:00010");
	cr_assert_not_null(v);
	cr_assert_eq(strlen(v), 19999);
	free(v);
	uint64_t e = 0;
	cr_assert_eq(store_read_u64(T.mine, LOG_KEY(EKEY_LOG_EPOCH), 1, &e), 0);
	cr_assert_eq(e, 3);
	char part[128];
	snprintf(part, sizeof part, "%s/seed.part", T.dir);
	cr_assert_null(fopen(part, "r"), "the copy's file is removed");
}

/* Every cut of a body, and a body with a wrong total, is refused and
 * leaves the loading store as it was. */
Test(seed, a_copy_keeps_the_later_of_the_two_writer_times)
{
	/* The peer read less of the log than this store did (it was seeded
	 * from nothing after the log started again): this store's later
	 * writer time stays. Then the other way: the peer's later one. */
	uint64_t peer_v[2] = {500, 900}, want[2] = {700, 900};
	for (int i = 0; i < 2; i++) {
		fill_peer(3, 42);
		put_u64(T.peer, LOG_KEY(EKEY_LOG_WRITER), peer_v[i]);
		put_u64(T.mine, LOG_KEY(EKEY_LOG_WRITER), 700);
		(void)copied_from_peer();
		uint64_t v = 0;
		cr_assert_eq(store_read_u64(T.mine, LOG_KEY(EKEY_LOG_WRITER), 1, &v), 0);
		cr_assert_eq(v, want[i], "round %d: %llu", i, (unsigned long long)v);
		cr_assert_null(get(T.mine, LOG_KEY(EKEY_LOG_GAP)), "fit once loaded");
	}
}

Test(seed, a_body_cut_short_or_with_wrong_totals_touches_nothing)
{
	fill_peer(40, 5);
	put(T.mine, "Kmine", "kept");
	FILE *f = tmpfile();
	body_of(T.peer, f);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long len = ftell(f);
	char *all = malloc((size_t)len);
	rewind(f);
	cr_assert_eq(fread(all, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	char err[256];
	seed_loaded r;
	for (long cut = 0; cut < len; cut += 1 + cut / 3) {
		FILE *g = tmpfile();
		cr_assert_eq(fwrite(all, 1, (size_t)cut, g), (size_t)cut);
		rewind(g);
		int rc = seed_load_file(g, T.mine, 0, &r, err, sizeof err);
		fclose(g);
		cr_assert_neq(rc, 0, "a body of %ld of %ld bytes is refused", cut, len);
	}
	/* The end's key count off by one. */
	all[len - 9] ^= 1;
	FILE *g = tmpfile();
	cr_assert_eq(fwrite(all, 1, (size_t)len, g), (size_t)len);
	rewind(g);
	cr_assert_eq(seed_load_file(g, T.mine, 0, &r, err, sizeof err), ERR_CORRUPT);
	fclose(g);
	/* Bytes after the end. */
	all[len - 9] ^= 1;
	g = tmpfile();
	cr_assert_eq(fwrite(all, 1, (size_t)len, g), (size_t)len);
	cr_assert_eq(fwrite("x", 1, 1, g), 1);
	rewind(g);
	cr_assert_eq(seed_load_file(g, T.mine, 0, &r, err, sizeof err), ERR_CORRUPT);
	fclose(g);
	free(all);
	cr_assert_eq(count_keys(T.mine), 1);
	char *v = get(T.mine, "Kmine");
	cr_assert_str_eq(v, "kept");
	free(v);
}

Test(seed, a_copy_older_than_the_logs_start_or_from_an_unfit_store_is_refused)
{
	fill_peer(3, 10);
	put(T.mine, "Kmine", "kept");
	char err[256];
	seed_loaded r;
	FILE *f = tmpfile();
	body_of(T.peer, f);
	cr_assert_eq(seed_load_file(f, T.mine, 11, &r, err, sizeof err), ERR_CONFLICT);
	cr_assert(strstr(err, "before the log's start"), "%s", err);
	fclose(f);
	/* A copy carrying a gap, or a held record, is no fit store's. */
	const char *bad[] = {LOG_KEY(EKEY_LOG_GAP), "Q\x01"};
	for (size_t i = 0; i < 2; i++) {
		sbuf out;
		sbuf_init(&out);
		seed_enc e;
		seed_enc_begin(&e, &out);
		seed_enc_put(&e, bad[i], strlen(bad[i]), "\0\0\0\0\0\0\0\1", 8);
		seed_enc_end(&e, &out);
		seed_enc_free(&e);
		f = tmpfile();
		cr_assert_eq(fwrite(out.p, 1, out.len, f), out.len);
		rewind(f);
		sbuf_free(&out);
		cr_assert_eq(seed_load_file(f, T.mine, 0, &r, err, sizeof err), ERR_CORRUPT);
		fclose(f);
	}
	cr_assert_eq(count_keys(T.mine), 1);
}

/* store_write_hook: every write after the first `after` fails. */
static struct {
	store *db;
	int writes, after;
} cut;

static void cut_after(void *ctx)
{
	(void)ctx;
	if (++cut.writes == cut.after)
		store_fail_writes(cut.db, 1000000);
}

Test(seed, a_load_cut_short_leaves_the_store_unfit)
{
	fill_peer(300, 9);
	put(T.mine, "Kmine", "kept");
	FILE *f = tmpfile();
	body_of(T.peer, f);
	char err[256];
	seed_loaded r;
	/* The mark, the emptying and one frame go through; the next frame's
	 * write fails, as on a full disk or a crash there. */
	cut.db = T.mine;
	cut.after = 3;
	store_write_hook(T.mine, cut_after, NULL);
	cr_assert_eq(seed_load_file(f, T.mine, 0, &r, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "stays unfit"), "%s", err);
	store_write_hook(T.mine, NULL, NULL);
	store_fail_writes(T.mine, 0);
	uint64_t gap = 0;
	cr_assert_eq(store_read_u64(T.mine, LOG_KEY(EKEY_LOG_GAP), 1, &gap), 0, "the mark stays");
	cr_assert_gt(gap, 0);
	cr_assert_null(get(T.mine, "Kmine"), "the store was emptied");
	size_t part = count_keys(T.mine);
	cr_assert(part > 1 && part < 303, "part of the copy: %zu keys", part);
	/* The next load empties it again and completes. */
	rewind(f);
	cr_assert_eq(seed_load_file(f, T.mine, 0, &r, err, sizeof err), 0, "%s", err);
	fclose(f);
	cr_assert_eq(count_keys(T.mine), 302);
	cr_assert_null(get(T.mine, LOG_KEY(EKEY_LOG_GAP)));
}

Test(seed, the_listener_refuses_another_edge_an_unfit_store_and_a_peer_without_the_token)
{
	fill_peer(3, 1);
	seed_server *s = serve("sekrit-token");
	char from[64], err[256];
	seed_loaded r;
	seed_load_opts o = load_opts(s, from, sizeof from, "");
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "401"), "%s", err);
	o.token = "sekrit-token";
	o.edge_id = "edge-b";
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "409"), "%s", err);
	o.edge_id = "edge-a";
	o.partitions = 4;
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "409"), "%s", err);
	o.partitions = 8;
	T.unfit = "this store lacks records the changelog lost (unfit)";
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_AGAIN);
	cr_assert(strstr(err, "503") && strstr(err, "unfit"), "%s", err);
	/* Not every peer busy (one unreachable): not worth asking again. */
	char two[160];
	snprintf(two, sizeof two, "127.0.0.1:1,%s", from);
	o.from = two;
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_IO);
	o.from = from;
	T.unfit = NULL;
	/* The fit hook knows nothing yet (an edge that just started), but
	 * the view says the store lacks records, or holds some for the log:
	 * refused all the same. */
	put_u64(T.peer, LOG_KEY(EKEY_LOG_GAP), 57);
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_AGAIN);
	cr_assert(strstr(err, "unfit"), "%s", err);
	store_batch *wb = store_batch_new();
	store_batch_del(wb, LOG_KEY(EKEY_LOG_GAP), 1);
	store_batch_put(wb, "Q\0\0\0\0\0\0\0\1", 9, "rec", 3);
	cr_assert_eq(store_write(T.peer, wb), 0);
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_AGAIN);
	cr_assert(strstr(err, "holds writes"), "%s", err);
	store_batch_clear(wb);
	store_batch_del(wb, "Q\0\0\0\0\0\0\0\1", 9);
	cr_assert_eq(store_write(T.peer, wb), 0);
	store_batch_free(wb);
	cr_assert_eq(count_keys(T.mine), 0, "nothing loaded");
	/* The copy says the view's position, not the store's own L. */
	T.ahead = 5;
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.at, 1 + 5);
	uint64_t at = 0;
	cr_assert_eq(store_read_u64(T.mine, LOG_KEY(EKEY_LOG_POSITION), 1, &at), 0);
	cr_assert_eq(at, 6);
	cr_assert_eq(count_keys(T.mine), 3 + 2);
	seed_serve_stop(s);
	cr_assert_eq(seed_serve_check("0.0.0.0:9", "", err, sizeof err), ERR_CONFIG);
	cr_assert_eq(seed_serve_check("0.0.0.0:9", "t", err, sizeof err), 0);
	cr_assert_eq(seed_serve_check("127.0.0.1:9", "", err, sizeof err), 0);
	cr_assert_eq(seed_from_check("a:1, b:2,", err, sizeof err), 0);
	cr_assert_eq(seed_from_check("", err, sizeof err), 0);
	cr_assert_eq(seed_from_check("a:1,b", err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "'b'"), "%s", err);
}

Test(seed, the_next_peer_is_asked_when_the_first_cannot_answer)
{
	fill_peer(3, 1);
	seed_server *s = serve("");
	char from[128], err[256];
	seed_loaded r;
	seed_load_opts o = load_opts(s, from, sizeof from, "");
	char both[160];
	snprintf(both, sizeof both, "127.0.0.1:1, %s", from);
	o.from = both;
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(r.peer, from);
	seed_serve_stop(s);
	o.from = "";
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_NOTFOUND);
}

/* A raw peer that asks for the copy and reads only its first bytes,
 * with a small receive buffer so the server soon waits on it. */
static void raw_ask(tconn *c, int port)
{
	tconn_rcvbuf = 4096;
	cr_assert(tconn_open(c, port, NULL));
	tconn_rcvbuf = 0;
	const char req[] = "GET " SEED_PATH "?edge=edge-a&partitions=8 HTTP/1.1\r\n"
	                   "Host: peer\r\n\r\n";
	cr_assert(tconn_write(c, req, sizeof req - 1));
	char head[64];
	cr_assert_gt(tconn_read(c, head, sizeof head, 5000), 0, "the copy starts");
	cr_assert(strncmp(head, "HTTP/1.1 200", 12) == 0, "%.20s", head);
}

/* One copy at a time: a second asker hears 503 while the first reads;
 * a peer that goes away mid-copy frees the slot; the listener stops with
 * a copy going. (The sanitizer build checks that each frees what it
 * holds.) */
Test(seed, one_copy_at_a_time_a_peer_that_leaves_frees_it_and_stop_ends_one_going)
{
	fill_peer(3000, 7); /* 6 MB: more than the sockets' buffers hold */
	seed_server *s = serve("");
	char from[64], err[256];
	seed_loaded r;
	seed_load_opts o = load_opts(s, from, sizeof from, "");
	tconn c;
	raw_ask(&c, seed_serve_port(s));
	cr_assert_eq(seed_load(&o, T.mine, 0, &r, err, sizeof err), ERR_AGAIN);
	cr_assert(strstr(err, "503") && strstr(err, "in progress"), "%s", err);
	tconn_close(&c);
	/* The server sees the close at its next write: the slot is free
	 * within a moment. */
	int rc = ERR_AGAIN;
	for (int i = 0; i < 50 && rc == ERR_AGAIN; i++) {
		rc = seed_load(&o, T.mine, 0, &r, err, sizeof err);
		if (rc == ERR_AGAIN)
			nap(100);
	}
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(r.keys, 3002);
	raw_ask(&c, seed_serve_port(s));
	seed_serve_stop(s); /* with that copy going */
	tconn_close(&c);
}
