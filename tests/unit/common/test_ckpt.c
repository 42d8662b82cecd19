/* test_ckpt.c - the checkpoint stream's frames (common/ckpt.c): a frame
 * round trip, a stream fed whole, one byte at a time and cut at every
 * point, a stream without its end frame told apart from a whole one,
 * frames over the cap refused from their length alone, and garbage
 * (undecodable frames, another message type, bytes after the end)
 * refused with the error kept for every later feed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "err.h"
#include "wire.h"
#include "tests/support/wire_util.h"
#include "xmem.h"

/* ---- a stream of a few messages ------------------------------------------ */

#define NMSG 3

static wire_edge_seq edges3[2];
static wire_count counts3[3];
static wire_snapshot msgs[NMSG];

/* Three messages of a checkpoint: counts of partition 3, counts of
 * partition 5, then partition 3's last with its edges. */
static void make_msgs(void)
{
	counts3[0] = (wire_count){S("likes"), S("post:1"), 7};
	counts3[1] = (wire_count){S("likes"), S("post:2"), 0};
	counts3[2] = (wire_count){S("views"), S("reel:9"), UINT64_C(1) << 40};
	edges3[0] = (wire_edge_seq){S("m1"), 42, 0};
	edges3[1] = (wire_edge_seq){S("v1"), 7, 9};
	msgs[0] = (wire_snapshot){.source = S("central-a"),
	                          .partition = 3,
	                          .offset = (UINT64_C(2) << 40) | 77,
	                          .produced_ms = 1795000001000,
	                          .ncounts = 3,
	                          .counts = counts3};
	msgs[1] = (wire_snapshot){.source = S("central-a"),
	                          .partition = 5,
	                          .offset = 12,
	                          .produced_ms = 1795000001000,
	                          .ncounts = 1,
	                          .counts = counts3 + 2};
	msgs[2] = (wire_snapshot){.source = S("central-a"),
	                          .partition = 3,
	                          .offset = (UINT64_C(2) << 40) | 77,
	                          .produced_ms = 1795000001000,
	                          .last = true,
	                          .nedges = 2,
	                          .edges = edges3};
}

/* The frames of msgs then the end frame, in one buffer. */
static char *make_stream(size_t *len, bool with_end)
{
	make_msgs();
	size_t n = 0;
	char *s = NULL;
	for (int i = 0; i < NMSG; i++) {
		char *f;
		size_t fn;
		cr_assert_eq(ckpt_frame_put(&msgs[i], &f, &fn), 0);
		s = xrealloc(s, n + fn + CKPT_HEAD_LEN);
		memcpy(s + n, f, fn);
		n += fn;
		free(f);
	}
	if (with_end) {
		memcpy(s + n, ckpt_end_frame, CKPT_HEAD_LEN);
		n += CKPT_HEAD_LEN;
	}
	*len = n;
	return s;
}

typedef struct seen {
	int messages, ends;
	int stop_at; /* on_message returns ERR_IO at this message (-1 never) */
} seen;

static int on_message(void *ctx, const wire_snapshot *s)
{
	seen *v = ctx;
	cr_assert_lt(v->messages, NMSG, "more messages than sent");
	wire_util_assert_snapshot_eq(s, &msgs[v->messages]);
	if (v->messages++ == v->stop_at)
		return ERR_IO;
	return 0;
}

static int on_end(void *ctx)
{
	((seen *)ctx)->ends++;
	return 0;
}

/* ---- round trips ----------------------------------------------------------- */

Test(ckpt, a_frame_is_the_length_then_the_wire_message)
{
	make_msgs();
	char *f, *w;
	size_t fn, wn;
	cr_assert_eq(ckpt_frame_put(&msgs[0], &f, &fn), 0);
	cr_assert_eq(wire_encode_snapshot(&msgs[0], &w, &wn), 0);
	cr_assert_eq(fn, wn + 4);
	cr_assert_eq(((unsigned char)f[0] << 24 | (unsigned char)f[1] << 16 |
	              (unsigned char)f[2] << 8 | (unsigned char)f[3]),
	             (int)wn);
	cr_assert_eq(memcmp(f + 4, w, wn), 0);
	free(f);
	free(w);
	for (int i = 0; i < CKPT_HEAD_LEN; i++)
		cr_assert_eq(ckpt_end_frame[i], 0);
}

Test(ckpt, a_stream_fed_whole_comes_back_message_by_message)
{
	size_t n;
	char *s = make_stream(&n, true);
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	cr_assert_eq(ckpt_reader_feed(&r, s, n, on_message, on_end, &v), 0);
	cr_assert_eq(v.messages, NMSG);
	cr_assert_eq(v.ends, 1);
	cr_assert(ckpt_reader_ended(&r));
	cr_assert_eq(r.messages, NMSG);
	ckpt_reader_free(&r);
	free(s);
}

Test(ckpt, a_stream_fed_one_byte_at_a_time_comes_back_the_same)
{
	size_t n;
	char *s = make_stream(&n, true);
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ckpt_reader_feed(&r, s + i, 1, on_message, on_end, &v), 0, "byte %zu",
		             i);
		cr_assert_eq(ckpt_reader_ended(&r), i == n - 1, "byte %zu", i);
	}
	cr_assert_eq(v.messages, NMSG);
	cr_assert_eq(v.ends, 1);
	ckpt_reader_free(&r);
	free(s);
}

Test(ckpt, a_stream_cut_in_two_anywhere_comes_back_the_same)
{
	size_t n;
	char *s = make_stream(&n, true);
	for (size_t cut = 0; cut <= n; cut++) {
		ckpt_reader r;
		ckpt_reader_init(&r);
		seen v = {0, 0, -1};
		cr_assert_eq(ckpt_reader_feed(&r, s, cut, on_message, on_end, &v), 0, "cut %zu",
		             cut);
		cr_assert_eq(ckpt_reader_feed(&r, s + cut, n - cut, on_message, NULL, &v), 0,
		             "cut %zu", cut);
		cr_assert_eq(v.messages, NMSG, "cut %zu", cut);
		cr_assert(ckpt_reader_ended(&r), "cut %zu", cut);
		ckpt_reader_free(&r);
	}
	free(s);
}

Test(ckpt, an_empty_feed_changes_nothing)
{
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	cr_assert_eq(ckpt_reader_feed(&r, "", 0, on_message, on_end, &v), 0);
	cr_assert_eq(v.messages + v.ends, 0);
	cr_assert_not(ckpt_reader_ended(&r));
	ckpt_reader_free(&r);
}

/* ---- cut short ------------------------------------------------------------ */

Test(ckpt, a_stream_without_its_end_frame_is_not_ended)
{
	size_t n;
	char *s = make_stream(&n, false);
	/* Between two frames: every message came, the end did not. */
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	cr_assert_eq(ckpt_reader_feed(&r, s, n, on_message, on_end, &v), 0);
	cr_assert_eq(v.messages, NMSG);
	cr_assert_eq(v.ends, 0);
	cr_assert_not(ckpt_reader_ended(&r));
	ckpt_reader_free(&r);
	/* Inside a frame: the partial one is never handed on. */
	for (size_t cut = 1; cut < n; cut++) {
		ckpt_reader_init(&r);
		v = (seen){0, 0, -1};
		cr_assert_eq(ckpt_reader_feed(&r, s, cut, on_message, on_end, &v), 0);
		cr_assert_not(ckpt_reader_ended(&r), "cut %zu", cut);
		cr_assert_lt(v.messages, NMSG, "cut %zu", cut);
		ckpt_reader_free(&r);
	}
	/* Half an end frame is no end either. */
	ckpt_reader_init(&r);
	v = (seen){0, 0, -1};
	cr_assert_eq(ckpt_reader_feed(&r, s, n, on_message, on_end, &v), 0);
	cr_assert_eq(ckpt_reader_feed(&r, "\0\0", 2, on_message, on_end, &v), 0);
	cr_assert_not(ckpt_reader_ended(&r));
	ckpt_reader_free(&r);
	free(s);
}

/* ---- refusals ------------------------------------------------------------ */

Test(ckpt, a_frame_over_the_cap_is_refused_from_its_length)
{
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	uint32_t big = CKPT_FRAME_MAX + 1;
	unsigned char head[4] = {(unsigned char)(big >> 24), (unsigned char)(big >> 16),
	                         (unsigned char)(big >> 8), (unsigned char)big};
	cr_assert_eq(ckpt_reader_feed(&r, head, 4, on_message, on_end, &v), ERR_TOOBIG);
	cr_assert_null(r.buf, "nothing was allocated for it");
	cr_assert_eq(ckpt_reader_feed(&r, head, 1, on_message, on_end, &v), ERR_TOOBIG,
	             "the error stays");
	ckpt_reader_free(&r);

	/* A lower cap: a real frame one byte over it. */
	make_msgs();
	char *f;
	size_t fn;
	cr_assert_eq(ckpt_frame_put(&msgs[0], &f, &fn), 0);
	ckpt_reader_init(&r);
	ckpt_reader_set_max(&r, fn - CKPT_HEAD_LEN - 1);
	cr_assert_eq(ckpt_reader_feed(&r, f, fn, on_message, on_end, &v), ERR_TOOBIG);
	cr_assert_eq(v.messages, 0);
	ckpt_reader_free(&r);
	ckpt_reader_init(&r);
	ckpt_reader_set_max(&r, fn - CKPT_HEAD_LEN);
	cr_assert_eq(ckpt_reader_feed(&r, f, fn, on_message, on_end, &v), 0, "at the cap is fine");
	cr_assert_eq(v.messages, 1);
	ckpt_reader_free(&r);
	free(f);
}

/* Feeds frame bytes b (a length is put in front) to a fresh reader:
 * what the feed returns. */
static int feed_framed(const void *b, size_t n)
{
	unsigned char *f = xmalloc(n + 4);
	f[0] = (unsigned char)(n >> 24);
	f[1] = (unsigned char)(n >> 16);
	f[2] = (unsigned char)(n >> 8);
	f[3] = (unsigned char)n;
	memcpy(f + 4, b, n);
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	int rc = ckpt_reader_feed(&r, f, n + 4, on_message, on_end, &v);
	cr_assert_eq(v.messages, 0);
	cr_assert_eq(ckpt_reader_feed(&r, ckpt_end_frame, 4, on_message, on_end, &v), rc,
	             "the error stays");
	cr_assert_eq(v.ends, 0);
	ckpt_reader_free(&r);
	free(f);
	return rc;
}

Test(ckpt, garbage_frames_are_refused_with_the_wire_error)
{
	cr_assert_eq(feed_framed("hello, world", 12), ERR_CORRUPT);
	cr_assert_eq(feed_framed("\x80", 1), ERR_CORRUPT, "an empty map");
	/* A batch is a wire message, but not a snapshot. */
	wire_batch b;
	wire_util_vector_batch(&b);
	char *w;
	size_t wn;
	cr_assert_eq(wire_encode_batch(&b, &w, &wn), 0);
	cr_assert_eq(feed_framed(w, wn), ERR_CORRUPT);
	free(w);
	/* A snapshot with one byte more after it. */
	make_msgs();
	cr_assert_eq(wire_encode_snapshot(&msgs[1], &w, &wn), 0);
	w = xrealloc(w, wn + 1);
	w[wn] = 0;
	cr_assert_eq(feed_framed(w, wn + 1), ERR_CORRUPT);
	free(w);
	/* And one of another version: {"v": 2, "t": "s"}. */
	unsigned char v2[] = {0x82, 0xa1, 'v', 0x02, 0xa1, 't', 0xa1, 's'};
	cr_assert_eq(feed_framed(v2, sizeof v2), ERR_VERSION);
}

Test(ckpt, bytes_after_the_end_frame_are_refused)
{
	size_t n;
	char *s = make_stream(&n, true);
	s = xrealloc(s, n + 1);
	s[n] = 0;
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, -1};
	cr_assert_eq(ckpt_reader_feed(&r, s, n + 1, on_message, on_end, &v), ERR_CORRUPT);
	cr_assert_eq(v.messages, NMSG);
	cr_assert_eq(v.ends, 1);
	ckpt_reader_free(&r);
	free(s);
}

Test(ckpt, a_callback_error_stops_the_reader)
{
	size_t n;
	char *s = make_stream(&n, true);
	ckpt_reader r;
	ckpt_reader_init(&r);
	seen v = {0, 0, 1};
	cr_assert_eq(ckpt_reader_feed(&r, s, n, on_message, on_end, &v), ERR_IO);
	cr_assert_eq(v.messages, 2, "nothing after the message that failed");
	cr_assert_eq(v.ends, 0);
	cr_assert_eq(ckpt_reader_feed(&r, s, 1, on_message, on_end, &v), ERR_IO);
	ckpt_reader_free(&r);
	free(s);
}

Test(ckpt, a_message_the_encoder_refuses_makes_no_frame)
{
	make_msgs();
	wire_snapshot bad = msgs[0];
	wire_count c = {S(""), S("post:1"), 1};
	bad.counts = &c;
	bad.ncounts = 1;
	char *f = NULL;
	size_t fn = 0;
	cr_assert_eq(ckpt_frame_put(&bad, &f, &fn), ERR_INVAL);
	cr_assert_null(f);
}
