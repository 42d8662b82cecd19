/* test_wire_handover.c - the hand-over message (docs/wire.md,
 * "Hand-over"): its round trip, the checked-in vector, the refusals, and
 * the type peek central's input uses to pick its decoder. Pure.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "tests/support/wire_util.h"

TestSuite(wire_handover, .timeout = 60);

static wire_handover vector_handover(void)
{
	return (wire_handover){.partition = 7,
	                       .edge = wire_cstr("edge1", 5),
	                       .epoch = 3,
	                       .created_ms = 1764201600123u};
}

Test(wire_handover, round_trips_every_field)
{
	wire_handover h = vector_handover(), got;
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_handover(&h, &buf, &len), 0);
	cr_assert_eq(wire_message_type(buf, len), 'h');
	cr_assert_eq(wire_decode_handover(buf, len, &got), 0);
	cr_assert_eq(got.partition, 7);
	cr_assert(got.edge.n == 5 && memcmp(got.edge.p, "edge1", 5) == 0);
	cr_assert_eq(got.epoch, 3);
	cr_assert_eq(got.created_ms, h.created_ms);
	free(buf);
}

Test(wire_handover, the_vector_is_what_the_encoder_writes)
{
	wire_handover h = vector_handover();
	char *buf;
	size_t n;
	cr_assert_eq(wire_encode_handover(&h, &buf, &n), 0);
	wire_util_assert_vector("tests/vectors/handover_v1.hex", buf, n);
}

Test(wire_handover, the_encoder_refuses_epoch_0_created_0_and_an_empty_edge)
{
	wire_handover h = vector_handover();
	char *buf = NULL;
	size_t len;
	h.epoch = 0;
	cr_assert_eq(wire_encode_handover(&h, &buf, &len), ERR_INVAL);
	h = vector_handover();
	h.created_ms = 0;
	cr_assert_eq(wire_encode_handover(&h, &buf, &len), ERR_INVAL);
	h = vector_handover();
	h.edge = wire_cstr("", 0);
	cr_assert_eq(wire_encode_handover(&h, &buf, &len), ERR_INVAL);
	cr_assert_null(buf);
}

Test(wire_handover, the_decoder_refuses_epoch_0_a_missing_field_and_other_types)
{
	size_t len;
	uint8_t *b = wire_util_load_hex("tests/vectors/handover_v1.hex", &len);
	wire_handover h;
	b[21] = 0x00; /* "n": 0 */
	cr_assert_eq(wire_decode_handover(b, len, &h), ERR_CORRUPT, "epoch 0");
	cr_assert_eq(h.edge.n, 0, "zeroed on error");
	b[21] = 0x03;
	b[0] = 0x85; /* five pairs declared: the last one is left over */
	cr_assert_eq(wire_decode_handover(b, len, &h), ERR_CORRUPT, "trailing bytes");
	cr_assert_eq(wire_decode_handover(b, len - 11, &h), ERR_CORRUPT, "no created_ms");
	b[0] = 0x86;
	b[7] = 'm';
	cr_assert_eq(wire_decode_handover(b, len, &h), ERR_CORRUPT, "another type");
	free(b);

	/* A batch and a move are not hand-overs, nor a hand-over either. */
	wire_batch bt;
	wire_util_vector_batch(&bt);
	char *buf;
	cr_assert_eq(wire_encode_batch(&bt, &buf, &len), 0);
	cr_assert_eq(wire_decode_handover(buf, len, &h), ERR_CORRUPT);
	free(buf);
	wire_handover ho = vector_handover();
	cr_assert_eq(wire_encode_handover(&ho, &buf, &len), 0);
	cr_assert_eq(wire_decode_batch(buf, len, &bt), ERR_CORRUPT);
	wire_move mv;
	cr_assert_eq(wire_decode_move(buf, len, &mv), ERR_CORRUPT);
	free(buf);
}
