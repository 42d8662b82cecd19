/* test_wire_move.c - the move message (docs/wire.md, "Move"): its round
 * trip, the checked-in vector, the refusals, and the type peek that
 * tells central's input which decoder a message needs. Pure.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "xmem.h"
#include "tests/support/wire_util.h"

TestSuite(wire_move, .timeout = 60);

static wire_move vector_move(void)
{
	return (wire_move){.partition = 7,
	                   .user = wire_cstr("u42", 3),
	                   .home = wire_cstr("eu", 2),
	                   .since_ms = 1764201600000u,
	                   .created_ms = 1764201600123u};
}

Test(wire_move, round_trips_every_field)
{
	wire_move m = vector_move(), got;
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_move(&m, &buf, &len), 0);
	cr_assert_eq(wire_message_type(buf, len), 'm');
	cr_assert_eq(wire_decode_move(buf, len, &got), 0);
	cr_assert_eq(got.partition, 7);
	cr_assert(got.user.n == 3 && memcmp(got.user.p, "u42", 3) == 0);
	cr_assert(got.home.n == 2 && memcmp(got.home.p, "eu", 2) == 0);
	cr_assert_eq(got.since_ms, m.since_ms);
	cr_assert_eq(got.created_ms, m.created_ms);
	free(buf);
}

Test(wire_move, the_vector_is_what_the_encoder_writes)
{
	wire_move m = vector_move();
	char *buf;
	size_t n;
	cr_assert_eq(wire_encode_move(&m, &buf, &n), 0);
	wire_util_assert_vector("tests/vectors/move_v1.hex", buf, n);
}

Test(wire_move, the_encoder_refuses_what_the_decoder_would)
{
	wire_move m = vector_move();
	char *buf = NULL;
	size_t len;
	m.since_ms = 0;
	cr_assert_eq(wire_encode_move(&m, &buf, &len), ERR_INVAL);
	m.since_ms = WIRE_MOVE_SINCE_MAX + 1; /* past 2^53: no JSON reader keeps it exact */
	cr_assert_eq(wire_encode_move(&m, &buf, &len), ERR_INVAL);
	m.since_ms = WIRE_MOVE_SINCE_MAX;
	cr_assert_eq(wire_encode_move(&m, &buf, &len), 0);
	free(buf);
	buf = NULL;
	m = vector_move();
	m.user = wire_cstr("", 0);
	cr_assert_eq(wire_encode_move(&m, &buf, &len), ERR_INVAL);
	m = vector_move();
	m.home = wire_cstr("", 0);
	cr_assert_eq(wire_encode_move(&m, &buf, &len), ERR_INVAL);
	cr_assert_null(buf);
}

/* Bytes of a move map with one pair replaced: {"v":1,"t":"m",...}. */
static size_t hand_move(uint8_t *b, uint64_t since, bool with_user)
{
	size_t n = 0;
	b[n++] = (uint8_t)(0x80 | (with_user ? 7 : 6));
	memcpy(b + n, "\xa1v\x01\xa1t\xa1m\xa1p\x07", 10);
	n += 10;
	if (with_user) {
		memcpy(b + n, "\xa1u\xa2u1", 5);
		n += 5;
	}
	memcpy(b + n,
	       "\xa1h\xa2"
	       "eu",
	       5);
	n += 5;
	b[n++] = 0xa1;
	b[n++] = 's';
	b[n++] = 0xcf;
	for (int i = 7; i >= 0; i--)
		b[n++] = (uint8_t)(since >> (8 * i));
	memcpy(b + n, "\xa1w\x00", 3);
	return n + 3;
}

Test(wire_move, the_decoder_refuses_since_0_a_missing_field_and_other_types)
{
	uint8_t b[64];
	wire_move m;
	size_t n = hand_move(b, 5, true);
	cr_assert_eq(wire_decode_move(b, n, &m), 0, "the hand-made map is a move");
	cr_assert_eq(m.since_ms, 5);
	n = hand_move(b, 0, true);
	cr_assert_eq(wire_decode_move(b, n, &m), ERR_CORRUPT, "since 0");
	n = hand_move(b, UINT64_C(1) << 53, true);
	cr_assert_eq(wire_decode_move(b, n, &m), ERR_CORRUPT, "since past 2^53 - 1");
	n = hand_move(b, 5, false);
	cr_assert_eq(wire_decode_move(b, n, &m), ERR_CORRUPT, "no user");
	cr_assert_eq(m.user.n, 0, "zeroed on error");

	/* A batch is not a move, nor a move a batch. */
	wire_batch bt;
	wire_util_vector_batch(&bt);
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_batch(&bt, &buf, &len), 0);
	cr_assert_eq(wire_message_type(buf, len), 'b');
	cr_assert_eq(wire_decode_move(buf, len, &m), ERR_CORRUPT);
	free(buf);
	wire_move mv = vector_move();
	cr_assert_eq(wire_encode_move(&mv, &buf, &len), 0);
	cr_assert_eq(wire_decode_batch(buf, len, &bt), ERR_CORRUPT);
	free(buf);
}

Test(wire_move, the_type_peek_says_0_for_what_is_not_a_message)
{
	cr_assert_eq(wire_message_type(NULL, 0), 0);
	cr_assert_eq(wire_message_type("", 0), 0);
	cr_assert_eq(wire_message_type("\x82\xa1v\x01\xa1t\xa1x", 8), 0, "an unknown type");
	cr_assert_eq(wire_message_type("\x82\xa1t\xa1m\xa1v\x01", 8), 0, "t before v");
	cr_assert_eq(wire_message_type("\x82\xa1v\x01\xa1t\xa1s", 8), 's');
	cr_assert_eq(wire_message_type("\x82\xa1v\x01\xa1t\xa1m", 5), 0, "cut short");
}

Test(wire_move, a_home_checkpoints_marks_round_trip_and_since_0_is_refused)
{
	wire_home_mark marks[2] = {{wire_cstr("u42", 3), wire_cstr("eu", 2), 1764201600000u},
	                           {wire_cstr("u7", 2), wire_cstr("ap-south", 8), 1}};
	wire_snapshot s = {.source = wire_cstr("central-a", 9),
	                   .partition = 3,
	                   .offset = 9,
	                   .last = true,
	                   .nmarks = 2,
	                   .marks = marks};
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), 0);
	wire_snapshot got;
	cr_assert_eq(wire_decode_snapshot(buf, len, &got), 0);
	cr_assert_eq(got.nmarks, 2);
	cr_assert(got.marks[0].user.n == 3 && memcmp(got.marks[0].user.p, "u42", 3) == 0);
	cr_assert(got.marks[1].home.n == 8 && memcmp(got.marks[1].home.p, "ap-south", 8) == 0);
	cr_assert_eq(got.marks[0].since_ms, 1764201600000u);
	cr_assert_eq(got.marks[1].since_ms, 1);
	wire_snapshot_free(&got);
	free(buf);
	/* Without marks the key is not written: a snapshot as before. */
	s.nmarks = 0;
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), 0);
	cr_assert_null(memmem(buf, len, "\xa1u", 2));
	free(buf);
	marks[1].since_ms = 0;
	s.nmarks = 2;
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), ERR_INVAL);
}
