/* fuzz_wire_batch.c - libFuzzer target for the batch decoder
 * (wire_decode_batch). An input the decoder accepts must encode again
 * (the encoder takes everything the decoder lets through) and decode to
 * the same batch; anything else aborts, which libFuzzer reports as a
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

static int batch_eq(const wire_batch *a, const wire_batch *b)
{
	if (!str_eq(a->edge, b->edge) || !str_eq(a->region, b->region) ||
	    a->partition != b->partition || a->seq != b->seq || a->created_ms != b->created_ms ||
	    a->nops != b->nops)
		return 0;
	for (uint32_t i = 0; i < a->nops; i++) {
		const wire_op *x = &a->ops[i], *y = &b->ops[i];

		if (!str_eq(x->counter, y->counter) || !str_eq(x->item, y->item) ||
		    !str_eq(x->user, y->user) || x->kind != y->kind || x->n != y->n ||
		    x->hlc != y->hlc)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_batch b, again;
	char *enc, *enc2;
	size_t len, len2;

	if (wire_decode_batch(data, size, &b))
		return 0;
	if (wire_encode_batch(&b, &enc, &len))
		abort(); /* decoded but cannot be encoded */
	if (wire_decode_batch(enc, len, &again))
		abort(); /* our own encoding does not decode */
	if (!batch_eq(&b, &again))
		abort();
	/* Encoding is deterministic: the round trip is a fixed point. */
	if (wire_encode_batch(&again, &enc2, &len2))
		abort();
	if (len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	free(enc2);
	wire_batch_free(&again);
	free(enc);
	wire_batch_free(&b);
	return 0;
}
