/* fuzz_wire_snapshot.c - libFuzzer target for the snapshot decoder
 * (wire_decode_snapshot). An input the decoder accepts must encode again
 * (the encoder takes everything the decoder lets through) and decode to
 * the same snapshot; anything else aborts, which libFuzzer reports as a
 * finding. Single-threaded, no state between inputs.
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

static int snapshot_eq(const wire_snapshot *a, const wire_snapshot *b)
{
	if (!str_eq(a->source, b->source) || a->partition != b->partition ||
	    a->offset != b->offset || a->produced_ms != b->produced_ms || a->last != b->last ||
	    a->nedges != b->nedges || a->ncounts != b->ncounts)
		return 0;
	for (uint32_t i = 0; i < a->nedges; i++) {
		const wire_edge_seq *x = &a->edges[i], *y = &b->edges[i];

		if (!str_eq(x->edge, y->edge) || x->applied != y->applied || x->held != y->held)
			return 0;
	}
	for (uint32_t i = 0; i < a->ncounts; i++) {
		const wire_count *x = &a->counts[i], *y = &b->counts[i];

		if (!str_eq(x->counter, y->counter) || !str_eq(x->item, y->item) ||
		    x->count != y->count)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_snapshot s, again;
	char *enc, *enc2;
	size_t len, len2;

	if (wire_decode_snapshot(data, size, &s))
		return 0;
	if (wire_encode_snapshot(&s, &enc, &len))
		abort(); /* decoded but cannot be encoded */
	if (wire_decode_snapshot(enc, len, &again))
		abort(); /* our own encoding does not decode */
	if (!snapshot_eq(&s, &again))
		abort();
	/* Encoding is deterministic: the round trip is a fixed point. */
	if (wire_encode_snapshot(&again, &enc2, &len2))
		abort();
	if (len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	free(enc2);
	wire_snapshot_free(&again);
	free(enc);
	wire_snapshot_free(&s);
	return 0;
}
