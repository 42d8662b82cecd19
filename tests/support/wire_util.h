/* wire_util.h - helpers shared by the wire format tests (test_wire.c,
 * test_wire_refuse.c, test_ckpt.c): string views, the checked-in
 * vectors, field-by-field comparisons, round trips and the checks that
 * a decoder either refuses input or returns something sane. Compiled
 * once into the test support library (tests/support/wire_util.c); the
 * comparisons are Criterion assertions, so a test's thread. The vector_*
 * functions fill their structs from static storage: one thread, and the
 * next call overwrites what the last one gave.
 */
#ifndef TESTS_SUPPORT_WIRE_UTIL_H
#define TESTS_SUPPORT_WIRE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

/* A view of the C string s (not copied). */
static inline wire_str S(const char *s)
{
	return wire_cstr(s, strlen(s));
}

/* One encoded message; buf is the encoder's (malloc'ed), the caller's
 * to free. */
typedef struct wire_util_msg {
	char *buf;
	size_t len;
} wire_util_msg;

/* An op of counter on item by user (C strings, viewed, not copied). */
wire_op wire_util_op(const char *counter, const char *item, const char *user, uint8_t kind,
                     uint32_t n, uint64_t hlc);

/* A batch of edge in region for partition p, number seq, created at
 * 1000 ms, with ops[0..nops) and sums[0..nsums) (NULL when none),
 * encoded; the encoding is asserted. */
wire_util_msg wire_util_batch(const char *edge, const char *region, uint32_t p, uint64_t seq,
                              const wire_op *ops, size_t nops, const wire_sum *sums, size_t nsums);

/* The move of user to home at since_ms, produced to partition p (as
 * `central home-move` makes it), encoded; the encoding is asserted. */
wire_util_msg wire_util_move(uint32_t p, const char *user, const char *home, uint64_t since_ms);

/* The hand-over of edge's changelog at epoch, made at created_ms and
 * produced to partition p (as a new active instance makes it), encoded;
 * the encoding is asserted. */
wire_util_msg wire_util_handover(uint32_t p, const char *edge, uint64_t epoch, uint64_t created_ms);

/* Does w hold exactly the bytes of s? */
bool wire_util_str_is(wire_str w, const char *s);

/* Reads a file of hex digit pairs separated by any whitespace, relative
 * to the repository root; the bytes are malloc'ed (the caller frees
 * them), their count in *len. */
uint8_t *wire_util_load_hex(const char *path, size_t *len);

/* Asserts that an encoder's output buf (len bytes) is exactly the
 * checked-in vector at path; frees buf. */
void wire_util_assert_vector(const char *path, char *buf, size_t len);

/* The documented contents of tests/vectors/batch_v1.hex,
 * tests/vectors/batch_v2.hex (a like and two sums) and
 * tests/vectors/snapshot_v1.hex (docs/wire.md). */
void wire_util_vector_batch(wire_batch *b);
void wire_util_vector_batch_v2(wire_batch *b);
void wire_util_vector_snapshot(wire_snapshot *s);

/* A snapshot message from "central-a" of partition p at offset, made at
 * wall, the last of its snapshot, with edges e[0..ne) and counts
 * c[0..nc) (none: NULL, 0): the message most tests feed a ledger. */
static inline wire_snapshot wire_util_snap(uint32_t p, uint64_t offset, uint64_t wall,
                                           wire_edge_seq *e, uint32_t ne, wire_count *c,
                                           uint32_t nc)
{
	return (wire_snapshot){.source = {"central-a", 9},
	                       .partition = p,
	                       .offset = offset,
	                       .produced_ms = wall,
	                       .last = true,
	                       .nedges = ne,
	                       .edges = e,
	                       .ncounts = nc,
	                       .counts = c};
}

/* Assert that a and b hold the same fields, op by op and count by count. */
void wire_util_assert_batch_eq(const wire_batch *a, const wire_batch *b);
void wire_util_assert_snapshot_eq(const wire_snapshot *a, const wire_snapshot *b);

/* Encode in, decode it back and assert the result equals in. */
void wire_util_batch_round_trip(const wire_batch *in);
void wire_util_snapshot_round_trip(const wire_snapshot *in);

/* What every successful decode of buf (len bytes) must give, whatever
 * the input: strings inside buf, counts within the format's limits. */
void wire_util_assert_batch_sane(const wire_batch *b, const void *buf, size_t len);
void wire_util_assert_snapshot_sane(const wire_snapshot *s, const void *buf, size_t len);

/* Feeds buf to both decoders: each must fail with a decode error or
 * give a sane result. */
void wire_util_decode_anything(const void *buf, size_t len);

#endif
