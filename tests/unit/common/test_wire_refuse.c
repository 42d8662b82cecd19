/* test_wire_refuse.c - wire format v1: what the decoders must refuse
 * (truncated, corrupt, hostile, wrong-typed, duplicated and missing
 * fields), with messages built by msgpack-c's packer so that each test
 * says exactly which field is bad. Pure: no files are written.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
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

/* ---- hand-built messages ----------------------------------------------- *
 *
 * msg_batch() and msg_snapshot() pack a valid message, except for the
 * one key named: its value is written by `val` instead, or the pair is
 * left out when val is NULL. A key prefixed with '+' is added as an
 * extra pair after the standard ones (an unknown key, or a duplicate).
 */

typedef void (*val_fn)(msgpack_packer *pk);

typedef struct msg {
	msgpack_sbuffer sb;
	msgpack_packer pk;
} msg;

static void pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void msg_init(msg *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

/* One op tuple of nfields (6 is right; 5 drops the hlc). */
static void op_tuple(msgpack_packer *pk, uint32_t nfields, const char *user, uint64_t kind,
                     uint64_t n)
{
	msgpack_pack_array(pk, nfields);
	pk_str(pk, "likes");
	pk_str(pk, "post:1");
	pk_str(pk, user);
	msgpack_pack_uint64(pk, kind);
	msgpack_pack_uint64(pk, n);
	if (nfields > 5)
		msgpack_pack_uint64(pk, 77);
}

static void std_batch_val(msgpack_packer *pk, char key)
{
	switch (key) {
	case 'v': msgpack_pack_uint8(pk, 1); break;
	case 't': pk_str(pk, "b"); break;
	case 'e': pk_str(pk, "edge-1"); break;
	case 'r': pk_str(pk, "eu"); break;
	case 'p': msgpack_pack_uint32(pk, 3); break;
	case 'q': msgpack_pack_uint64(pk, 9); break;
	case 'w': msgpack_pack_uint64(pk, 1000); break;
	case 'o':
		msgpack_pack_array(pk, 1);
		op_tuple(pk, 6, "u1", WIRE_ADD, 1);
		break;
	case 'h':
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint8(pk, 0);
		pk_str(pk, "us");
		break;
	}
}

static void std_snapshot_val(msgpack_packer *pk, char key)
{
	switch (key) {
	case 'v': msgpack_pack_uint8(pk, 1); break;
	case 't': pk_str(pk, "s"); break;
	case 's': pk_str(pk, "central-a"); break;
	case 'p': msgpack_pack_uint32(pk, 3); break;
	case 'n': msgpack_pack_uint64(pk, 500); break;
	case 'w': msgpack_pack_uint64(pk, 2000); break;
	case 'l': msgpack_pack_true(pk); break;
	case 'a':
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 3);
		pk_str(pk, "edge-1");
		msgpack_pack_uint64(pk, 9);
		msgpack_pack_uint64(pk, 0);
		break;
	case 'c':
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 3);
		pk_str(pk, "likes");
		pk_str(pk, "post:1");
		msgpack_pack_uint64(pk, 12);
		break;
	}
}

static void msg_build(msg *m, const char *keys, void (*std)(msgpack_packer *, char),
                      const char *key, val_fn val)
{
	bool extra = key && key[0] == '+';
	size_t n = strlen(keys);

	msg_init(m);
	if (extra)
		n++;
	else if (key && !val && strchr(keys, key[0]))
		n--;
	msgpack_pack_map(&m->pk, n);
	for (const char *k = keys; *k; k++) {
		bool mine = key && !extra && key[0] == *k && key[1] == '\0';

		if (mine && !val)
			continue;
		msgpack_pack_str_with_body(&m->pk, k, 1);
		if (mine)
			val(&m->pk);
		else
			std(&m->pk, *k);
	}
	if (extra) {
		pk_str(&m->pk, key + 1);
		val(&m->pk);
	}
}

static void msg_batch(msg *m, const char *key, val_fn val)
{
	msg_build(m, "vteprqwo", std_batch_val, key, val);
}

static void msg_snapshot(msg *m, const char *key, val_fn val)
{
	msg_build(m, "vtspnwlac", std_snapshot_val, key, val);
}

static int decode_batch_msg(msg *m, wire_batch *b)
{
	int rc = wire_decode_batch(m->sb.data, m->sb.size, b);

	if (rc == 0)
		wire_util_assert_batch_sane(b, m->sb.data, m->sb.size);
	return rc;
}

static int batch_with(const char *key, val_fn val)
{
	msg m;
	wire_batch b;
	int rc;

	msg_batch(&m, key, val);
	rc = decode_batch_msg(&m, &b);
	wire_batch_free(&b);
	msgpack_sbuffer_destroy(&m.sb);
	return rc;
}

static int snapshot_with(const char *key, val_fn val)
{
	msg m;
	wire_snapshot s;
	int rc;

	msg_snapshot(&m, key, val);
	rc = wire_decode_snapshot(m.sb.data, m.sb.size, &s);
	if (rc == 0)
		wire_util_assert_snapshot_sane(&s, m.sb.data, m.sb.size);
	wire_snapshot_free(&s);
	msgpack_sbuffer_destroy(&m.sb);
	return rc;
}

/* Values for the tests below: VAL(name, statement) defines a val_fn. */
#define VAL(name, stmt)                                                                            \
	static void name(msgpack_packer *pk)                                                       \
	{                                                                                          \
		stmt;                                                                              \
	}

VAL(v_two, msgpack_pack_uint8(pk, 2))
VAL(v_three, msgpack_pack_uint8(pk, 3))
VAL(v_neg1, msgpack_pack_int8(pk, -1))
VAL(v_str1, pk_str(pk, "1"))
VAL(v_str_s, pk_str(pk, "s"))
VAL(v_str_x, pk_str(pk, "x"))
VAL(v_empty, msgpack_pack_str(pk, 0))
VAL(v_bin, msgpack_pack_bin_with_body(pk, "edge-1", 6))
VAL(v_nil, msgpack_pack_nil(pk))
VAL(v_one, msgpack_pack_uint8(pk, 1))
VAL(v_zero, msgpack_pack_uint8(pk, 0))
VAL(v_u32_over, msgpack_pack_uint64(pk, UINT64_C(1) << 32))
VAL(v_float, msgpack_pack_double(pk, 3.0))
VAL(v_fix_u8, msgpack_pack_fix_uint8(pk, 3))
VAL(v_fix_u16, msgpack_pack_fix_uint16(pk, 3))
VAL(v_fix_u32, msgpack_pack_fix_uint32(pk, 3))
VAL(v_fix_u64, msgpack_pack_fix_uint64(pk, 3))
VAL(v_fix_i8, msgpack_pack_fix_int8(pk, 3))
VAL(v_fix_i16, msgpack_pack_fix_int16(pk, 3))
VAL(v_fix_i32, msgpack_pack_fix_int32(pk, 3))
VAL(v_fix_i64, msgpack_pack_fix_int64(pk, 3))
VAL(v_i64_neg, msgpack_pack_fix_int64(pk, -3))
VAL(v_i64_min, msgpack_pack_fix_int64(pk, INT64_MIN))
VAL(v_u64_max, msgpack_pack_fix_uint64(pk, UINT64_MAX))

static void v_str_len(msgpack_packer *pk, size_t n)
{
	char s[WIRE_MAX_STR + 2];

	memset(s, 'x', n);
	msgpack_pack_str_with_body(pk, s, n);
}
VAL(v_str256, v_str_len(pk, WIRE_MAX_STR))
VAL(v_str257, v_str_len(pk, WIRE_MAX_STR + 1))

/* An ops array holding one op tuple built by op_tuple. */
#define OPS1(name, ...) VAL(name, (msgpack_pack_array(pk, 1), op_tuple(pk, __VA_ARGS__)))
OPS1(ops_kind0, 6, "u1", 0, 1)
OPS1(ops_kind3, 6, "u1", 3, 1)
OPS1(ops_n0, 6, "u1", 1, 0)
OPS1(ops_n1000, 6, "u1", 1, 1000)
OPS1(ops_n1001, 6, "u1", 1, 1001)
OPS1(ops_short_tuple, 5, "u1", 1, 1)
OPS1(ops_empty_user, 6, "", 1, 1)
VAL(ops_empty, msgpack_pack_array(pk, 0))
VAL(ops_not_array, msgpack_pack_map(pk, 0))

/* A header declaring count entries followed by no entries at all. */
VAL(ops_count_ffffffff, msgpack_sbuffer_write(pk->data, "\xdd\xff\xff\xff\xff", 5))
VAL(ops_count_over_limit, msgpack_pack_array(pk, WIRE_MAX_OPS + 1))
VAL(ops_count_over_bytes, msgpack_pack_array(pk, 65535))

/* Every kind of value a newer writer might put under an unknown key. */
static void v_every_kind(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	pk_str(pk, "list");
	msgpack_pack_array(pk, 9);
	msgpack_pack_nil(pk);
	msgpack_pack_true(pk);
	msgpack_pack_float(pk, 1.5f);
	msgpack_pack_double(pk, -2.5);
	msgpack_pack_int64(pk, INT64_MIN);
	msgpack_pack_bin_with_body(pk, "\x00\x01", 2);
	msgpack_pack_ext_with_body(pk, "abcd", 4, 7);   /* fixext 4 */
	msgpack_pack_ext_with_body(pk, "abcde", 5, -1); /* ext8 */
	{
		char blob[300]; /* unknown values are not held to WIRE_MAX_STR */

		memset(blob, 'b', sizeof(blob));
		msgpack_pack_str_with_body(pk, blob, sizeof(blob));
	}
	pk_str(pk, "map");
	msgpack_pack_map(pk, 1);
	msgpack_pack_uint16(pk, 500);
	msgpack_pack_array(pk, 0);
	msgpack_pack_uint8(pk, 9); /* non-string key inside an unknown value */
	msgpack_pack_str(pk, 0);
}

static void nest(msgpack_packer *pk, int depth)
{
	for (int i = 0; i < depth - 1; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_uint8(pk, 1);
}
VAL(v_depth8, nest(pk, 8))
VAL(v_depth9, nest(pk, 9))
VAL(v_c1, msgpack_sbuffer_write(pk->data, "\xc1", 1))

static void edges_empty_name(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 3);
	msgpack_pack_str(pk, 0);
	msgpack_pack_uint8(pk, 1);
	msgpack_pack_uint8(pk, 0);
}
VAL(edges_count_ffffffff, ops_count_ffffffff(pk))
VAL(edges_over_limit, msgpack_pack_array(pk, WIRE_MAX_EDGES + 1))
VAL(counts_over_limit, msgpack_pack_array(pk, WIRE_MAX_COUNTS + 1))

static void counts_negative(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 3);
	pk_str(pk, "likes");
	pk_str(pk, "post:1");
	msgpack_pack_int8(pk, -5);
}

/* ---- refusals ---------------------------------------------------------- */

Test(wire, every_truncation_of_a_valid_message_is_an_error)
{
	size_t blen, slen;
	uint8_t *bv = wire_util_load_hex("tests/vectors/batch_v1.hex", &blen);
	uint8_t *sv = wire_util_load_hex("tests/vectors/snapshot_v1.hex", &slen);
	wire_batch b;
	wire_snapshot s;

	for (size_t n = 0; n < blen; n++) {
		uint8_t *cut = xmemdup(bv, n); /* exact size, so ASan sees overreads */

		cr_assert_eq(wire_decode_batch(cut, n, &b), ERR_CORRUPT, "batch cut at %zu", n);
		free(cut);
	}
	for (size_t n = 0; n < slen; n++) {
		uint8_t *cut = xmemdup(sv, n);

		cr_assert_eq(wire_decode_snapshot(cut, n, &s), ERR_CORRUPT, "snapshot cut at %zu",
		             n);
		free(cut);
	}
	free(bv);
	free(sv);
}

Test(wire, every_single_byte_corruption_errors_or_decodes_sanely)
{
	static const char *const paths[] = {"tests/vectors/batch_v1.hex",
	                                    "tests/vectors/snapshot_v1.hex"};

	for (size_t f = 0; f < 2; f++) {
		size_t len;
		uint8_t *vec = wire_util_load_hex(paths[f], &len);
		uint8_t *buf = xmemdup(vec, len);

		for (size_t i = 0; i < len; i++) {
			for (int c = 0; c < 256; c++) {
				buf[i] = (uint8_t)c;
				wire_util_decode_anything(buf, len);
			}
			buf[i] = vec[i];
		}
		free(buf);
		free(vec);
	}
}

Test(wire, declared_count_ffffffff_is_refused_without_allocating)
{
	/* Were the count trusted, calloc of 0xffffffff entries would fail
	 * and xcalloc would abort the test. */
	cr_assert_eq(batch_with("o", ops_count_ffffffff), ERR_TOOBIG);
	cr_assert_eq(snapshot_with("a", edges_count_ffffffff), ERR_TOOBIG);
	cr_assert_eq(snapshot_with("c", edges_count_ffffffff), ERR_TOOBIG);
}

Test(wire, counts_over_the_wire_limits_are_too_big)
{
	cr_assert_eq(batch_with("o", ops_count_over_limit), ERR_TOOBIG);
	cr_assert_eq(snapshot_with("a", edges_over_limit), ERR_TOOBIG);
	cr_assert_eq(snapshot_with("c", counts_over_limit), ERR_TOOBIG);
}

Test(wire, count_larger_than_the_bytes_left_is_corrupt)
{
	cr_assert_eq(batch_with("o", ops_count_over_bytes), ERR_CORRUPT);
}

/* Version 2 is a batch with sums: without them it is malformed; a
 * snapshot has no version 2; version 3 is nobody's. */
Test(wire, version_2_needs_sums_and_version_3_is_err_version)
{
	cr_assert_eq(batch_with("v", v_two), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("v", v_two), ERR_VERSION);
	cr_assert_eq(batch_with("v", v_three), ERR_VERSION);
	cr_assert_eq(snapshot_with("v", v_three), ERR_VERSION);
}

static void std_batch2_val(msgpack_packer *pk, char key)
{
	switch (key) {
	case 'v': msgpack_pack_uint8(pk, 2); break;
	case 'g':
		msgpack_pack_array(pk, 1);
		msgpack_pack_array(pk, 4);
		pk_str(pk, "views");
		pk_str(pk, "reel:1");
		msgpack_pack_uint64(pk, 5000);
		msgpack_pack_uint64(pk, 77);
		break;
	default: std_batch_val(pk, key);
	}
}

/* A version-2 batch with key replaced by val (see msg_build). */
static int batch2_with(const char *key, val_fn val, uint32_t *nsums)
{
	msg m;
	wire_batch b;

	msg_build(&m, "vteprqwog", std_batch2_val, key, val);
	int rc = decode_batch_msg(&m, &b);
	if (nsums)
		*nsums = b.nsums;
	wire_batch_free(&b);
	msgpack_sbuffer_destroy(&m.sb);
	return rc;
}

VAL(g_n_zero, msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 4); pk_str(pk, "views");
    pk_str(pk, "reel:1"); msgpack_pack_uint64(pk, 0); msgpack_pack_uint64(pk, 1))
VAL(g_n_over, msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 4); pk_str(pk, "views");
    pk_str(pk, "reel:1"); msgpack_pack_uint64(pk, WIRE_MAX_SUM + 1); msgpack_pack_uint64(pk, 1))
VAL(g_three, msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 3); pk_str(pk, "views");
    pk_str(pk, "reel:1"); msgpack_pack_uint64(pk, 1))
VAL(g_no_counter, msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 4); msgpack_pack_str(pk, 0);
    pk_str(pk, "reel:1"); msgpack_pack_uint64(pk, 1); msgpack_pack_uint64(pk, 1))
VAL(g_not_array, msgpack_pack_uint8(pk, 1))
VAL(g_over_limit, msgpack_pack_array(pk, WIRE_MAX_OPS + 1))

Test(wire, version_2_sums_decode_and_bad_ones_are_refused)
{
	uint32_t nsums = 0;
	cr_assert_eq(batch2_with(NULL, NULL, &nsums), 0);
	cr_assert_eq(nsums, 1);
	cr_assert_eq(batch2_with("g", NULL, NULL), ERR_CORRUPT, "v2 without sums");
	cr_assert_eq(batch2_with("g", g_n_zero, NULL), ERR_CORRUPT);
	cr_assert_eq(batch2_with("g", g_n_over, NULL), ERR_CORRUPT);
	cr_assert_eq(batch2_with("g", g_three, NULL), ERR_CORRUPT);
	cr_assert_eq(batch2_with("g", g_no_counter, NULL), ERR_CORRUPT);
	cr_assert_eq(batch2_with("g", g_not_array, NULL), ERR_CORRUPT);
	cr_assert_eq(batch2_with("g", g_over_limit, NULL), ERR_TOOBIG);
}

static void homes_of(msgpack_packer *pk, const uint64_t *at, const char *const *home, int n)
{
	msgpack_pack_array(pk, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint64(pk, at[i]);
		pk_str(pk, home[i]);
	}
}

static void h_past_the_ops(msgpack_packer *pk)
{
	homes_of(pk, (const uint64_t[]){1}, (const char *const[]){"us"}, 1);
}

static void h_twice(msgpack_packer *pk)
{
	homes_of(pk, (const uint64_t[]){0, 0}, (const char *const[]){"us", "ap"}, 2);
}

static void h_empty_home(msgpack_packer *pk)
{
	homes_of(pk, (const uint64_t[]){0}, (const char *const[]){""}, 1);
}

static void h_not_a_pair(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint8(pk, 0);
	pk_str(pk, "us");
	pk_str(pk, "x");
}

Test(wire, a_home_names_an_op_by_index_before_or_after_the_ops)
{
	const char *orders[] = {"vteprqwoh", "vtehprqwo"};
	for (int i = 0; i < 2; i++) {
		msg m;
		wire_batch b;
		msg_build(&m, orders[i], std_batch_val, NULL, NULL);
		cr_assert_eq(decode_batch_msg(&m, &b), 0, "%s", orders[i]);
		cr_assert_eq(b.ops[0].home.n, 2);
		cr_assert_eq(memcmp(b.ops[0].home.p, "us", 2), 0);
		wire_batch_free(&b);
		msgpack_sbuffer_destroy(&m.sb);
	}
	cr_assert_eq(batch_with("+h", h_past_the_ops), ERR_CORRUPT);
	cr_assert_eq(batch_with("+h", h_twice), ERR_CORRUPT);
	cr_assert_eq(batch_with("+h", h_empty_home), ERR_CORRUPT);
	cr_assert_eq(batch_with("+h", h_not_a_pair), ERR_CORRUPT);
}

Test(wire, a_version_1_batch_skips_a_g_key_as_unknown)
{
	msg m;
	wire_batch b;

	msg_build(&m, "vteprqwo", std_batch_val, "+g", g_n_zero);
	cr_assert_eq(decode_batch_msg(&m, &b), 0, "in v1, g is a key from the future");
	cr_assert_eq(b.nsums, 0);
	wire_batch_free(&b);
	msgpack_sbuffer_destroy(&m.sb);
}

Test(wire, version_of_the_wrong_type_is_corrupt)
{
	cr_assert_eq(batch_with("v", v_str1), ERR_CORRUPT);
	cr_assert_eq(batch_with("v", v_neg1), ERR_CORRUPT);
	cr_assert_eq(batch_with("v", NULL), ERR_CORRUPT);
}

Test(wire, snapshot_fed_to_batch_decoder_is_an_error)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex("tests/vectors/snapshot_v1.hex", &len);
	wire_batch b;

	cr_assert_eq(wire_decode_batch(buf, len, &b), ERR_CORRUPT);
	free(buf);
	cr_assert_eq(batch_with("t", v_str_s), ERR_CORRUPT);
}

Test(wire, batch_fed_to_snapshot_decoder_is_an_error)
{
	size_t len;
	uint8_t *buf = wire_util_load_hex("tests/vectors/batch_v1.hex", &len);
	wire_snapshot s;

	cr_assert_eq(wire_decode_snapshot(buf, len, &s), ERR_CORRUPT);
	free(buf);
	cr_assert_eq(snapshot_with("t", v_str_x), ERR_CORRUPT);
}

Test(wire, trailing_bytes_are_an_error)
{
	size_t len;
	uint8_t *vec = wire_util_load_hex("tests/vectors/snapshot_v1.hex", &len);
	uint8_t *buf = xmalloc(len + 1);
	wire_snapshot s;

	memcpy(buf, vec, len);
	buf[len] = 0x00;
	cr_assert_eq(wire_decode_snapshot(buf, len, &s), 0);
	wire_snapshot_free(&s);
	cr_assert_eq(wire_decode_snapshot(buf, len + 1, &s), ERR_CORRUPT);
	free(buf);
	free(vec);
}

Test(wire, every_missing_field_is_corrupt)
{
	for (const char *k = "teprqwo"; *k; k++) {
		char key[2] = {*k, 0};

		cr_assert_eq(batch_with(key, NULL), ERR_CORRUPT, "batch without %s", key);
	}
	for (const char *k = "tspnwlac"; *k; k++) {
		char key[2] = {*k, 0};

		cr_assert_eq(snapshot_with(key, NULL), ERR_CORRUPT, "snapshot without %s", key);
	}
	cr_assert_eq(batch_with(NULL, NULL), 0, "the unmodified message must decode");
	cr_assert_eq(snapshot_with(NULL, NULL), 0, "the unmodified message must decode");
}

Test(wire, duplicate_fields_are_corrupt)
{
	cr_assert_eq(batch_with("+e", v_str_x), ERR_CORRUPT);
	cr_assert_eq(batch_with("+v", v_one), ERR_CORRUPT);
	cr_assert_eq(batch_with("+o", ops_empty), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("+l", v_one), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("+t", v_str_s), ERR_CORRUPT);
}

Test(wire, fields_of_the_wrong_type_are_corrupt)
{
	cr_assert_eq(batch_with("e", v_bin), ERR_CORRUPT);
	cr_assert_eq(batch_with("e", v_one), ERR_CORRUPT);
	cr_assert_eq(batch_with("r", v_nil), ERR_CORRUPT);
	cr_assert_eq(batch_with("p", v_str1), ERR_CORRUPT);
	cr_assert_eq(batch_with("q", v_float), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_not_array), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_short_tuple), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("l", v_one), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("s", v_bin), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("a", v_nil), ERR_CORRUPT);
}

Test(wire, negative_integers_are_corrupt)
{
	cr_assert_eq(batch_with("q", v_neg1), ERR_CORRUPT);
	cr_assert_eq(batch_with("w", v_i64_neg), ERR_CORRUPT);
	cr_assert_eq(batch_with("p", v_i64_min), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("c", counts_negative), ERR_CORRUPT);
}

Test(wire, every_integer_form_decodes)
{
	static const val_fn forms[] = {v_fix_u8, v_fix_u16, v_fix_u32, v_fix_u64,
	                               v_fix_i8, v_fix_i16, v_fix_i32, v_fix_i64};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		msg m;
		wire_batch b;

		msg_batch(&m, "p", forms[i]);
		cr_assert_eq(decode_batch_msg(&m, &b), 0, "form %zu", i);
		cr_assert_eq(b.partition, 3, "form %zu", i);
		wire_batch_free(&b);
		msgpack_sbuffer_destroy(&m.sb);
		cr_assert_eq(snapshot_with("n", forms[i]), 0, "form %zu", i);
	}
	cr_assert_eq(batch_with("w", v_u64_max), 0);
}

Test(wire, partition_over_uint32_is_corrupt)
{
	cr_assert_eq(batch_with("p", v_u32_over), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("p", v_u32_over), ERR_CORRUPT);
}

Test(wire, invalid_op_kind_and_amount_are_corrupt)
{
	cr_assert_eq(batch_with("o", ops_kind0), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_kind3), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_n0), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_n1001), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_n1000), 0);
}

Test(wire, zero_sequence_is_corrupt)
{
	cr_assert_eq(batch_with("q", v_zero), ERR_CORRUPT);
}

Test(wire, empty_required_strings_are_corrupt)
{
	cr_assert_eq(batch_with("e", v_empty), ERR_CORRUPT);
	cr_assert_eq(batch_with("o", ops_empty_user), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("a", edges_empty_name), ERR_CORRUPT);
	cr_assert_eq(batch_with("r", v_empty), 0);
	cr_assert_eq(snapshot_with("s", v_empty), 0);
}

Test(wire, strings_over_the_limit_are_too_big)
{
	cr_assert_eq(batch_with("e", v_str256), 0);
	cr_assert_eq(batch_with("e", v_str257), ERR_TOOBIG);
	cr_assert_eq(batch_with("r", v_str257), ERR_TOOBIG);
	cr_assert_eq(snapshot_with("s", v_str257), ERR_TOOBIG);
}

Test(wire, unknown_keys_are_skipped)
{
	msg m;
	wire_batch b;

	msg_batch(&m, "+future", v_every_kind);
	cr_assert_eq(decode_batch_msg(&m, &b), 0);
	cr_assert(wire_util_str_is(b.edge, "edge-1"));
	cr_assert_eq(b.nops, 1);
	wire_batch_free(&b);
	msgpack_sbuffer_destroy(&m.sb);
	cr_assert_eq(snapshot_with("+x", v_every_kind), 0);
	cr_assert_eq(batch_with("+vv", v_depth8), 0);
}

Test(wire, unknown_value_nested_too_deep_is_corrupt)
{
	cr_assert_eq(batch_with("+x", v_depth9), ERR_CORRUPT);
	cr_assert_eq(snapshot_with("+x", v_depth9), ERR_CORRUPT);
}

Test(wire, never_used_byte_c1_is_corrupt)
{
	cr_assert_eq(batch_with("+x", v_c1), ERR_CORRUPT);
	cr_assert_eq(batch_with("e", v_c1), ERR_CORRUPT);
}

Test(wire, empty_or_non_map_input_is_corrupt)
{
	wire_batch b;
	wire_snapshot s;

	cr_assert_eq(wire_decode_batch(NULL, 0, &b), ERR_CORRUPT);
	cr_assert_eq(wire_decode_batch("", 0, &b), ERR_CORRUPT);
	cr_assert_eq(wire_decode_batch("\x80", 1, &b), ERR_CORRUPT);
	cr_assert_eq(wire_decode_snapshot("\x92\x01\x02", 3, &s), ERR_CORRUPT);
	/* the version must be the first key */
	cr_assert_eq(wire_decode_batch("\x82\xa1t\xa1"
	                               "b\xa1v\x01",
	                               8, &b),
	             ERR_CORRUPT);
}
