/* test_wire.c - wire format v1: round trips, the checked-in vectors, and
 * random input that must never crash the decoders (wire_util.h has the
 * shared helpers; test_wire_refuse.c the decoder's refusals).
 *
 * Vectors are read from tests/vectors/ relative to the repository root,
 * where the tests are run. Pure: no files are written.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hlc.h"
#include "log.h"
#include "wire.h"
#include "xmem.h"
#include "tests/support/wire_util.h"

static void setup(void)
{
	log_threshold = LOG_ERROR;
}

static void teardown(void) {}

TestSuite(wire, .init = setup, .fini = teardown, .timeout = 60);

/* ---- round trips ------------------------------------------------------- */

Test(wire, batch_round_trip_preserves_every_field)
{
	wire_batch b;

	wire_util_vector_batch(&b);
	wire_util_batch_round_trip(&b);
}

Test(wire, batch_with_zero_ops_round_trips)
{
	wire_batch b = {S("e1"), S("eu"), 0, 1, 0, 0, NULL, 0, NULL};

	wire_util_batch_round_trip(&b);
}

Test(wire, empty_region_and_source_round_trip)
{
	wire_batch b = {S("e1"), S(""), 7, 1, 5, 0, NULL, 0, NULL};
	wire_snapshot s = {.source = S(""), .partition = 7};

	wire_util_batch_round_trip(&b);
	wire_util_snapshot_round_trip(&s);
}

Test(wire, max_length_strings_round_trip)
{
	char big[WIRE_MAX_STR];
	wire_str w;
	wire_op op;
	wire_batch b;
	wire_edge_seq es;
	wire_count c;
	wire_snapshot s;

	memset(big, 'z', sizeof(big));
	w = wire_cstr(big, sizeof(big));
	op = (wire_op){w, w, w, WIRE_REMOVE, 1000, 1, {NULL, 0}};
	b = (wire_batch){w, w, 1, 1, 1, 1, &op, 0, NULL};
	wire_util_batch_round_trip(&b);
	es = (wire_edge_seq){w, 1, 2};
	c = (wire_count){w, w, 3};
	s = (wire_snapshot){.source = w,
	                    .partition = 1,
	                    .offset = 1,
	                    .produced_ms = 1,
	                    .last = true,
	                    .nedges = 1,
	                    .edges = &es,
	                    .ncounts = 1,
	                    .counts = &c};
	wire_util_snapshot_round_trip(&s);
}

Test(wire, uint64_max_values_round_trip)
{
	wire_op op = {S("views"), S("post:1"), S("u"), WIRE_ADD, 1000, UINT64_MAX, {NULL, 0}};
	wire_batch b = {S("e"), S("r"), UINT32_MAX, UINT64_MAX, UINT64_MAX, 1, &op, 0, NULL};
	wire_edge_seq es = {S("e"), UINT64_MAX, UINT64_MAX};
	wire_count c = {S("likes"), S("post:1"), UINT64_MAX};
	wire_snapshot s = {.source = S("c"),
	                   .partition = UINT32_MAX,
	                   .offset = UINT64_MAX,
	                   .produced_ms = UINT64_MAX,
	                   .nedges = 1,
	                   .edges = &es,
	                   .ncounts = 1,
	                   .counts = &c};

	wire_util_batch_round_trip(&b);
	wire_util_snapshot_round_trip(&s);
}

Test(wire, every_integer_width_round_trips)
{
	static const uint64_t vals[] = {
	    0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, UINT64_C(1) << 32, UINT64_MAX - 1};
	wire_op op = {S("views"), S("post:1"), S("u"), WIRE_ADD, 1, 0, {NULL, 0}};
	wire_batch b = {S("e"), S("r"), 0, 1, 0, 1, &op, 0, NULL};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		op.hlc = vals[i];
		b.created_ms = vals[i];
		b.seq = vals[i] ? vals[i] : 1;
		b.partition = vals[i] > UINT32_MAX ? 0 : (uint32_t)vals[i];
		wire_util_batch_round_trip(&b);
	}
}

Test(wire, batch_with_max_ops_round_trips)
{
	wire_op *ops = xcalloc(WIRE_MAX_OPS, sizeof(*ops));
	wire_batch b = {S("edge-1"), S("eu"), 1, 1, 1, WIRE_MAX_OPS, ops, 0, NULL};

	for (uint32_t i = 0; i < WIRE_MAX_OPS; i++)
		ops[i] = (wire_op){S("likes"),   S("post:1"), S("u"),   WIRE_ADD,
		                   1 + i % 1000, i,           {NULL, 0}};
	wire_util_batch_round_trip(&b);
	free(ops);
}

Test(wire, snapshot_round_trip_preserves_every_field)
{
	wire_snapshot s;

	wire_util_vector_snapshot(&s);
	wire_util_snapshot_round_trip(&s);
	s.last = false;
	s.nedges = 0;
	s.ncounts = 0;
	wire_util_snapshot_round_trip(&s);
}

Test(wire, snapshot_with_members_round_trips_and_without_them_is_unchanged)
{
	wire_snapshot s;
	char *plain, *with;
	size_t plain_n, with_n;

	wire_util_vector_snapshot(&s);
	cr_assert_eq(wire_encode_snapshot(&s, &plain, &plain_n), 0);
	wire_member m[2] = {{S("likes"), S("post:1"), S("alice"), true, UINT64_MAX},
	                    {S("saves"), S("reel:9"), S("bob"), false, 0}};
	s.members = m;
	s.nmembers = 2;
	wire_util_snapshot_round_trip(&s);
	cr_assert_eq(wire_encode_snapshot(&s, &with, &with_n), 0);
	/* The same message gains one pair ("m") and nothing else moves. */
	cr_assert_gt(with_n, plain_n);
	cr_assert_eq(memcmp(with + 1, plain + 1, plain_n - 1), 0);
	m[1].user = S("");
	cr_assert_eq(wire_encode_snapshot(&s, &with, &with_n), ERR_INVAL);
	free(plain);
	free(with);
}

Test(wire, a_home_checkpoints_index_start_round_trips_and_zero_is_not_encoded)
{
	wire_snapshot s;
	char *plain, *with, *zero;
	size_t plain_n, with_n, zero_n;

	wire_util_vector_snapshot(&s);
	cr_assert_eq(wire_encode_snapshot(&s, &plain, &plain_n), 0);
	s.index_from = UINT64_MAX;
	wire_util_snapshot_round_trip(&s);
	s.index_from = 1;
	wire_util_snapshot_round_trip(&s);
	cr_assert_eq(wire_encode_snapshot(&s, &with, &with_n), 0);
	/* One pair more ("i": 1, three bytes), nothing else moved. */
	cr_assert_eq(with_n, plain_n + 3);
	cr_assert_eq(memcmp(with + 1, plain + 1, plain_n - 1), 0);
	s.index_from = 0;
	cr_assert_eq(wire_encode_snapshot(&s, &zero, &zero_n), 0);
	cr_assert_eq(zero_n, plain_n);
	cr_assert_eq(memcmp(zero, plain, plain_n), 0);
	free(plain);
	free(with);
	free(zero);
}

Test(wire, encoder_rejects_fields_out_of_bounds)
{
	char big[WIRE_MAX_STR + 1], *buf = NULL;
	size_t len;
	wire_op op = {S("likes"), S("post:1"), S("u"), WIRE_ADD, 1, 1, {NULL, 0}};
	wire_batch b = {S("e"), S("r"), 0, 1, 0, 1, &op, 0, NULL};
	wire_edge_seq es = {S(""), 1, 0};
	wire_snapshot s = {.source = S("c"), .nedges = 1, .edges = &es};

	memset(big, 'x', sizeof(big));
	op.kind = 3;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	op.kind = WIRE_ADD;
	op.n = 0;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	op.n = 1001;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	op.n = 1;
	op.user = S("");
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	op.user = wire_cstr(big, sizeof(big));
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	op.user = S("u");
	b.region = wire_cstr(big, sizeof(big));
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	b.region = S("r");
	b.edge = S("");
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	b.edge = S("e");
	b.seq = 0;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	b.seq = 1;
	b.nops = WIRE_MAX_OPS + 1;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), ERR_INVAL);
	s.nedges = WIRE_MAX_EDGES + 1;
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), ERR_INVAL);
	cr_assert_null(buf, "an error must not hand out a buffer");
}

/* ---- vectors ----------------------------------------------------------- */

Test(wire, batch_vector_decodes_to_documented_values)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex("tests/vectors/batch_v1.hex", &len);
	wire_batch want, got;

	wire_util_vector_batch(&want);
	cr_assert_eq(wire_decode_batch(buf, len, &got), 0);
	wire_util_assert_batch_eq(&want, &got);
	cr_assert(wire_util_str_is(got.ops[1].user, "u42"));
	wire_batch_free(&got);
	free(buf);
}

Test(wire, encoder_produces_exact_batch_vector_bytes)
{
	size_t len;
	char *buf;
	wire_batch b;

	wire_util_vector_batch(&b);
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
	wire_util_assert_vector("tests/vectors/batch_v1.hex", buf, len);
}

Test(wire, batch_v2_vector_decodes_to_documented_values)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex("tests/vectors/batch_v2.hex", &len);
	wire_batch want, got;

	wire_util_vector_batch_v2(&want);
	cr_assert_eq(len, 141);
	cr_assert_eq(buf[3], WIRE_VERSION_SUMS, "a batch with sums says version 2");
	cr_assert_eq(wire_decode_batch(buf, len, &got), 0);
	wire_util_assert_batch_eq(&want, &got);
	wire_batch_free(&got);
	free(buf);
}

Test(wire, encoder_produces_exact_batch_v2_vector_bytes)
{
	size_t len;
	char *buf;
	wire_batch b;

	wire_util_vector_batch_v2(&b);
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
	wire_util_assert_vector("tests/vectors/batch_v2.hex", buf, len);
}

Test(wire, ops_of_users_at_home_elsewhere_carry_their_home)
{
	wire_op ops[4] = {
	    {S("likes"), S("post:1"), S("u1"), WIRE_ADD, 1, 1, S("us")},
	    {S("likes"), S("post:1"), S("u2"), WIRE_ADD, 1, 2, {NULL, 0}},
	    {S("saves"), S("post:2"), S("u3"), WIRE_REMOVE, 1, 3, S("ap-south")},
	    {S("likes"), S("post:3"), S("u4"), WIRE_ADD, 1, 4, {NULL, 0}},
	};
	wire_batch b = {S("e"), S("eu"), 1, 1, 1, 4, ops, 0, NULL};
	wire_util_batch_round_trip(&b);
	/* The key is there only when some op has a home: a batch without
	 * any is byte for byte what it was before homes. */
	char *with, *without;
	size_t wn, won;
	cr_assert_eq(wire_encode_batch(&b, &with, &wn), 0);
	ops[0].home = ops[2].home = (wire_str){NULL, 0};
	cr_assert_eq(wire_encode_batch(&b, &without, &won), 0);
	cr_assert_eq(wn, won + 2 + 1 + (1 + 1 + 1 + 2) + (1 + 1 + 1 + 8));
	cr_assert_null(memmem(without, won, "\xa1h", 2), "no \"h\" key");
	free(with);
	free(without);
}

Test(wire, sums_round_trip_at_their_bounds)
{
	wire_op op = {S("likes"), S("post:1"), S("u"), WIRE_ADD, 1, 1, {NULL, 0}};
	wire_sum sums[3] = {{S("views"), S("reel:1"), 1, 0},
	                    {S("views"), S("reel:2"), WIRE_MAX_SUM, UINT64_MAX},
	                    {S("shares"), S("reel:1"), 65536, 7}};
	wire_batch b = {S("e"), S("r"), 1, 1, 1, 1, &op, 3, sums};

	wire_util_batch_round_trip(&b);
	b.nops = 0; /* sums alone */
	b.ops = NULL;
	wire_util_batch_round_trip(&b);
}

Test(wire, adding_up_keeps_set_ops_and_sums_per_item_and_day)
{
	const uint64_t day = UINT64_C(86400000);
	const uint64_t t0 = UINT64_C(20000) * day; /* a day's first ms */
	wire_op in[6] = {
	    {S("views"), S("reel:1"), S("u1"), WIRE_ADD, 3, hlc_make(t0 + 5, 0), {NULL, 0}},
	    {S("likes"), S("reel:1"), S("u1"), WIRE_ADD, 1, hlc_make(t0 + 6, 0), {NULL, 0}},
	    {S("views"), S("reel:2"), S("u2"), WIRE_ADD, 1, hlc_make(t0 + 7, 0), {NULL, 0}},
	    {S("views"), S("reel:1"), S("u3"), WIRE_ADD, 1000, hlc_make(t0 + 9, 2), {NULL, 0}},
	    {S("views"), S("reel:1"), S("u4"), WIRE_ADD, 2, hlc_make(t0 + day, 0), {NULL, 0}},
	    {S("likes"), S("reel:2"), S("u2"), WIRE_REMOVE, 1, hlc_make(t0 + 8, 0), {NULL, 0}},
	};
	bool is_sum[6] = {true, false, true, true, true, false};
	wire_batch b = {S("e"), S("r"), 0, 1, 0, 0, NULL, 0, NULL};
	uint32_t *from, *merged;

	wire_batch_add_up(in, is_sum, 6, &b, &from, &merged);
	cr_assert_eq(b.nops, 2);
	cr_assert_eq(from[0], 1);
	cr_assert_eq(from[1], 5);
	cr_assert_eq(b.ops[1].kind, WIRE_REMOVE);
	cr_assert_eq(b.nsums, 3, "reel:1 on two days, reel:2 on one");
	cr_assert(wire_util_str_is(b.sums[0].item, "reel:1"));
	cr_assert_eq(b.sums[0].n, 1003);
	cr_assert_eq(b.sums[0].hlc, hlc_make(t0 + 9, 2), "the latest clock");
	cr_assert_eq(merged[0], 2);
	cr_assert(wire_util_str_is(b.sums[1].item, "reel:2"));
	cr_assert_eq(b.sums[1].n, 1);
	cr_assert_eq(b.sums[2].n, 2);
	cr_assert_eq(merged[2], 1);
	wire_util_batch_round_trip(&b);
	free(from);
	free(merged);
	wire_batch_free(&b);
}

Test(wire, encoder_refuses_sums_out_of_bounds)
{
	char *buf = NULL;
	size_t len;
	wire_sum sm = {S("views"), S("reel:1"), 0, 1};
	wire_batch b = {S("e"), S("r"), 1, 1, 1, 0, NULL, 1, &sm};

	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	sm.n = WIRE_MAX_SUM + 1;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	sm.n = 1;
	sm.item = S("");
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), ERR_INVAL);
	cr_assert_null(buf);
}

Test(wire, snapshot_vector_decodes_to_documented_values)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex("tests/vectors/snapshot_v1.hex", &len);
	wire_snapshot want, got;

	wire_util_vector_snapshot(&want);
	cr_assert_eq(wire_decode_snapshot(buf, len, &got), 0);
	wire_util_assert_snapshot_eq(&want, &got);
	cr_assert(got.last);
	wire_snapshot_free(&got);
	free(buf);
}

Test(wire, encoder_produces_exact_snapshot_vector_bytes)
{
	size_t len;
	char *buf;
	wire_snapshot s;

	wire_util_vector_snapshot(&s);
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), 0);
	wire_util_assert_vector("tests/vectors/snapshot_v1.hex", buf, len);
}

/* Criterion runs each parameter in a fresh process image, so the path
 * is stored inline: a pointer into this one would not survive. */
typedef struct bad_vector {
	char path[64];
	int want;
} bad_vector;

ParameterizedTestParameters(wire, bad_vectors_are_refused_with_documented_error)
{
	static bad_vector v[] = {
	    {"tests/vectors/bad_version2.hex", ERR_CORRUPT}, /* a v2 batch must carry "g" */
	    {"tests/vectors/bad_version3.hex", ERR_VERSION},
	    {"tests/vectors/bad_trailing.hex", ERR_CORRUPT},
	    {"tests/vectors/bad_ops_count.hex", ERR_TOOBIG},
	    {"tests/vectors/bad_kind.hex", ERR_CORRUPT},
	    {"tests/vectors/bad_n_zero.hex", ERR_CORRUPT},
	    {"tests/vectors/bad_dup_key.hex", ERR_CORRUPT},
	};
	return cr_make_param_array(bad_vector, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(bad_vector *v, wire, bad_vectors_are_refused_with_documented_error)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex(v->path, &len);
	wire_batch b;

	cr_assert_eq(wire_decode_batch(buf, len, &b), v->want, "%s", v->path);
	cr_assert_null(b.ops);
	free(buf);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

Test(wire, random_garbage_never_crashes)
{
	/* Valid heads steer some of the garbage past the first checks. */
	static const uint8_t heads[][8] = {
	    {0x88, 0xa1, 'v', 0x01, 0xa1, 't', 0xa1, 'b'},
	    {0x89, 0xa1, 'v', 0x01, 0xa1, 't', 0xa1, 's'},
	};

	for (int i = 0; i < 100000; i++) {
		size_t len = rnd() % 300;
		uint8_t *buf = xmalloc(len);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd();
		if (i % 3 && len >= 8)
			memcpy(buf, heads[i % 3 - 1], 8);
		wire_util_decode_anything(buf, len);
		free(buf);
	}
}

Test(wire, random_mutations_of_vectors_never_crash)
{
	size_t blen, slen;
	uint8_t *bv = wire_util_load_hex("tests/vectors/batch_v1.hex", &blen);
	uint8_t *sv = wire_util_load_hex("tests/vectors/snapshot_v1.hex", &slen);

	for (int i = 0; i < 50000; i++) {
		const uint8_t *src = i % 2 ? bv : sv;
		size_t len = i % 2 ? blen : slen;
		uint8_t *buf = xmemdup(src, len);

		for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
			buf[rnd() % len] = (uint8_t)rnd();
		wire_util_decode_anything(buf, len - rnd() % 3);
		free(buf);
	}
	free(bv);
	free(sv);
}
