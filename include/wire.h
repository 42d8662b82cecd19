/* wire.h - msgpack wire format v1: batches (edge -> central),
 * snapshots (central -> edges) and moves (a user's new home region, to
 * central). docs/wire.md is the specification.
 *
 * Encoding uses msgpack-c's packer. Decoding is a strict, bounded reader
 * of our own: it never allocates more than the message could hold, never
 * reads past the buffer, and turns anything malformed into ERR_CORRUPT
 * (or ERR_VERSION / ERR_TOOBIG) rather than a crash.
 *
 * Decoded strings (wire_str) point into the caller's buffer: they are not
 * NUL-terminated and live only as long as that buffer. Decoded arrays
 * (ops, edges, counts) are malloc'ed by the decoder and released by
 * wire_batch_free / wire_snapshot_free. All functions are pure and
 * thread-safe.
 */
#ifndef LIKES_WIRE_H
#define LIKES_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define WIRE_VERSION 1                   /* snapshots, and batches without sums */
#define WIRE_VERSION_SUMS 2              /* batches that carry sums ("g") */
#define WIRE_MAX_OPS 100000              /* ops in one batch, and sums in one batch */
#define WIRE_MAX_SUM UINT64_C(100000000) /* n of one sum: 100,000 ops of 1,000 */
#define WIRE_MAX_EDGES 4096              /* edge entries in one snapshot */
#define WIRE_MAX_COUNTS 100000           /* count entries in one snapshot */
#define WIRE_MAX_MEMBERS 100000          /* membership entries in one snapshot */
#define WIRE_MAX_STR 256                 /* bytes in any string field */

typedef struct wire_str {
	const char *p;
	uint32_t n;
} wire_str;

enum wire_op_kind { WIRE_ADD = 1, WIRE_REMOVE = 2 };

typedef struct wire_op {
	wire_str counter; /* "likes" */
	wire_str item;    /* "post:123" */
	wire_str user;    /* user id */
	uint8_t kind;     /* WIRE_ADD or WIRE_REMOVE */
	uint32_t n;       /* amount: 1 for set counters, 1..1000 for sums */
	uint64_t hlc;     /* hybrid logical clock of the op at its edge */
	wire_str home;    /* the user's home region when it is not the batch's
	                     ("h"); empty: at home there, or not known */
} wire_op;

/* What the batch adds to one sum counter of one item: the ops of that
 * (counter, item) the edge recorded on one UTC day (of their hlc), summed.
 * A sum has no user: exactly-once comes from the batch sequence. */
typedef struct wire_sum {
	wire_str counter; /* "views" */
	wire_str item;
	uint64_t n;   /* 1..WIRE_MAX_SUM */
	uint64_t hlc; /* the latest summed op's clock: names the day */
} wire_sum;

typedef struct wire_batch {
	wire_str edge;       /* edge id: the LWW tie-break after hlc */
	wire_str region;     /* region the edge serves */
	uint32_t partition;  /* Kafka partition of every op's item */
	uint64_t seq;        /* per-(edge, partition) sequence, from 1 */
	uint64_t created_ms; /* wall time the batch was sealed */
	uint32_t nops;
	wire_op *ops;
	uint32_t nsums; /* 0: encoded as version 1, else version 2 */
	wire_sum *sums;
} wire_batch;

typedef struct wire_edge_seq {
	wire_str edge;
	uint64_t applied; /* highest sequence applied, in order */
	uint64_t held;    /* lowest sequence held after a gap, 0 if none */
} wire_edge_seq;

typedef struct wire_count {
	wire_str counter;
	wire_str item;
	uint64_t count;
} wire_count;

/* A membership in a home checkpoint (docs/wire.md, "Checkpoint
 * stream"): a pair's state at central and the clock of the op that won. */
typedef struct wire_member {
	wire_str counter;
	wire_str item;
	wire_str user;
	bool member;
	uint64_t hlc;
} wire_member;

/* Where a user lives, as the last move central applied in the
 * partition left it (home checkpoints only, "u"): from since_ms on, the
 * user's home is home. */
typedef struct wire_home_mark {
	wire_str user;
	wire_str home;
	uint64_t since_ms;
} wire_home_mark;

typedef struct wire_snapshot {
	wire_str source;      /* central instance that produced it */
	uint32_t partition;   /* batch-topic partition it describes */
	uint64_t offset;      /* next batch-topic offset: everything below is reflected */
	uint64_t produced_ms; /* wall time at central */
	bool last;            /* last message of this snapshot (big ones are split) */
	uint32_t nedges;
	wire_edge_seq *edges;
	uint32_t ncounts;
	wire_count *counts;
	uint32_t nmembers; /* home checkpoints only ("m"): 0 elsewhere, and
	                      then not encoded */
	wire_member *members;
	/* Home checkpoints only ("i"): the version from which central's
	 * index of the region's memberships holds every change there (a
	 * store from before the index: when it was upgraded); 0, not
	 * encoded, when it holds every change from the start. */
	uint64_t index_from;
	uint32_t nmarks; /* home checkpoints only ("u"): 0 elsewhere, and then
	                    not encoded */
	wire_home_mark *marks;
} wire_snapshot;

/* A move (docs/wire.md, "Move"): from since_ms on, user's home region
 * is home; central moves the user's memberships in the partition to
 * that region's index and stream. Produced to every partition of the
 * batch topic (`central home-move`); applying one twice is harmless. */
#define WIRE_MOVE_SINCE_MAX ((UINT64_C(1) << 53) - 1) /* exact in any JSON reader */

typedef struct wire_move {
	uint32_t partition; /* the batch-topic partition it was produced to */
	wire_str user;
	wire_str home;     /* a region name */
	uint64_t since_ms; /* wall ms of the move, at least 1 */
	uint64_t created_ms;
} wire_move;

/* A hand-over (docs/wire.md, "Hand-over"): the instance of edge that
 * took over its changelog produces one to every partition of the batch
 * topic before any batch of its own, all made at one created_ms: the
 * instance's writer time, which stamps its batches too. Central then
 * refuses, in that partition, the edge's batches stamped with an
 * earlier writer time (a former active's, sent after it lost the log). */
typedef struct wire_handover {
	uint32_t partition; /* the batch-topic partition it was produced to */
	wire_str edge;
	uint64_t epoch;      /* the changelog epoch taken over, at least 1 (for people) */
	uint64_t created_ms; /* the writer time its takeover record named */
} wire_handover;

/* The Kafka header on each batch from an edge with a changelog: the
 * writer time (the created_ms of its hand-overs) of the instance that
 * sent it, in decimal (docs/wire.md). */
#define WIRE_WRITER_HEADER "writer"

/* The "t" of a message, without decoding the rest: 'b' (batch), 's'
 * (snapshot), 'm' (move), 'h' (hand-over), or 0 when buf does not start as a message of
 * this format. Any thread. */
char wire_message_type(const void *buf, size_t len);

/* Encoders: on success *out is a malloc'ed buffer of *outlen bytes that
 * the caller frees with free(). ERR_INVAL for a field out of bounds
 * (string too long, empty edge/counter/item/user, too many entries, bad
 * kind, n outside 1..1000, a sum's n outside 1..WIRE_MAX_SUM, seq 0);
 * *out is then untouched. The same message always encodes to the same
 * bytes. A batch without sums is version 1, byte for byte as before
 * sums existed; one with sums is version 2, which version-1 readers
 * refuse rather than skip its sums. */
int wire_encode_batch(const wire_batch *b, char **out, size_t *outlen) WARN_UNUSED;
int wire_encode_snapshot(const wire_snapshot *s, char **out, size_t *outlen) WARN_UNUSED;
/* ERR_INVAL for an empty user or home, one over WIRE_MAX_STR, or a since
 * outside 1..WIRE_MOVE_SINCE_MAX. */
int wire_encode_move(const wire_move *m, char **out, size_t *outlen) WARN_UNUSED;
/* ERR_INVAL for an edge that is empty or over WIRE_MAX_STR, epoch 0 or
 * created_ms 0. */
int wire_encode_handover(const wire_handover *h, char **out, size_t *outlen) WARN_UNUSED;

/* Decoders: fill *b / *s from buf, which must hold exactly one message.
 * ERR_VERSION for a version other than 1 or 2 (batches) or 1
 * (snapshots), ERR_TOOBIG for a
 * string or entry count over the limits above, ERR_CORRUPT for anything
 * else malformed (including the other message type and trailing bytes).
 * On error *b / *s is zeroed and nothing needs freeing. */
int wire_decode_batch(const void *buf, size_t len, wire_batch *b) WARN_UNUSED;
int wire_decode_snapshot(const void *buf, size_t len, wire_snapshot *s) WARN_UNUSED;
/* A move: version 1 only; every field required, since within
 * 1..WIRE_MOVE_SINCE_MAX.
 * Nothing to free (its strings point into buf). */
int wire_decode_move(const void *buf, size_t len, wire_move *m) WARN_UNUSED;
/* A hand-over: version 1 only; every field required, epoch and
 * created_ms at least 1.
 * Nothing to free (its edge points into buf). */
int wire_decode_handover(const void *buf, size_t len, wire_handover *h) WARN_UNUSED;
void wire_batch_free(wire_batch *b);
void wire_snapshot_free(wire_snapshot *s);

/* Fills b's ops and sums from in[0..n): in[i] with is_sum[i] false is
 * copied to b->ops, in order; the others (adds of a sum counter) are
 * added up per (counter, item, UTC day of their hlc) into one b->sums
 * entry each, in the order of their first op, carrying the latest hlc.
 * b->ops and b->sums are malloc'ed (wire_batch_free frees them, as after
 * a decode); strings point into in's. When from is not NULL, (*from)[j]
 * is the index in `in` of b->ops[j]; when merged is not NULL,
 * (*merged)[k] is how many ops b->sums[k] adds up (both malloc'ed). The
 * caller checks that each sum stays within WIRE_MAX_SUM (n ops of at most
 * 1,000 each, n <= WIRE_MAX_OPS, always do). Any thread. */
void wire_batch_add_up(const wire_op *in, const bool *is_sum, size_t n, wire_batch *b,
                       uint32_t **from, uint32_t **merged);

/* Convenience for building messages from C strings. */
static inline wire_str wire_cstr(const char *s, size_t n)
{
	wire_str w = {s, (uint32_t)n};
	return w;
}

#endif
