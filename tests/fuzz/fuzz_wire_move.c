/* fuzz_wire_move.c - libFuzzer target for the decoders of central's
 * input besides batches: moves (wire_decode_move) and hand-overs
 * (wire_decode_handover), and the type peek that input starts with
 * (wire_message_type). An input a decoder accepts must say its type to
 * the peek, encode again and decode to the same message, and its
 * encoding must be a fixed point; anything else aborts, which libFuzzer
 * reports as a finding. Single-threaded, no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_eq(wire_str a, wire_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void handover(const uint8_t *data, size_t size, char t)
{
	wire_handover h, again;
	char *enc, *enc2;
	size_t len, len2;

	if (wire_decode_handover(data, size, &h))
		return;
	if (t != 'h')
		abort(); /* a hand-over the peek did not see */
	if (wire_encode_handover(&h, &enc, &len) || wire_decode_handover(enc, len, &again))
		abort();
	if (again.partition != h.partition || !str_eq(again.edge, h.edge) ||
	    again.epoch != h.epoch || again.created_ms != h.created_ms)
		abort();
	if (wire_encode_handover(&again, &enc2, &len2) || len2 != len ||
	    memcmp(enc, enc2, len) != 0)
		abort();
	free(enc2);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_move m, again;
	char *enc, *enc2;
	size_t len, len2;

	char t = wire_message_type(data, size);
	if (t && t != 'b' && t != 's' && t != 'm' && t != 'h')
		abort();
	handover(data, size, t);
	if (wire_decode_move(data, size, &m))
		return 0;
	if (t != 'm')
		abort(); /* a move the peek did not see */
	if (wire_encode_move(&m, &enc, &len))
		abort();
	if (wire_decode_move(enc, len, &again))
		abort();
	if (again.partition != m.partition || !str_eq(again.user, m.user) ||
	    !str_eq(again.home, m.home) || again.since_ms != m.since_ms ||
	    again.created_ms != m.created_ms)
		abort();
	if (wire_encode_move(&again, &enc2, &len2) || len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	free(enc2);
	free(enc);
	return 0;
}
