/* wire.c - msgpack wire format v1 and v2 (batches with sums): encode and
 * decode batches and snapshots (docs/wire.md is the specification).
 *
 * Encoding packs with msgpack-c into a buffer the caller then owns.
 * Decoding runs the strict reader in mpr.c over the caller's buffer and
 * owns only the ops / edges / counts arrays it hands back, each sized
 * from a count checked against the wire limit and the bytes left before
 * anything is allocated. Pure functions: any thread.
 */
#include "wire.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "log.h"
#include "mpr_int.h"
#include "smap.h"
#include "xmem.h"

/* Most key/value pairs a top-level map may declare (known keys plus
 * unknown ones from newer writers). */
#define WIRE_MAX_KEYS 64
#define WIRE_MAX_N 1000 /* largest amount one op carries */

/* Smallest encoding of one array entry, used to refuse counts the bytes
 * left could not hold: fixarray + 1-byte fixstrs + fixints. */
#define MIN_OP_BYTES 10    /* 1 + 3 * 2 + 3 * 1 */
#define MIN_EDGE_BYTES 5   /* 1 + 2 + 2 * 1 */
#define MIN_COUNT_BYTES 6  /* 1 + 2 * 2 + 1 */
#define MIN_SUM_BYTES 7    /* 1 + 2 * 2 + 2 * 1 */
#define MIN_HOME_BYTES 4   /* 1 + 1 + 2 */
#define MIN_MEMBER_BYTES 9 /* 1 + 3 * 2 + 1 + 1 */
#define MIN_MARK_BYTES 6   /* 1 + 2 * 2 + 1 */

/* ---- encoding ---------------------------------------------------------- */

typedef struct enc {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc; /* non-zero once any write failed (only out of memory can) */
} enc;

static void enc_init(enc *e)
{
	msgpack_sbuffer_init(&e->sb);
	msgpack_packer_init(&e->pk, &e->sb, msgpack_sbuffer_write);
	e->rc = 0;
}

static void put_str(enc *e, wire_str s)
{
	e->rc |= msgpack_pack_str(&e->pk, s.n);
	if (s.n)
		e->rc |= msgpack_pack_str_body(&e->pk, s.p, s.n);
}

static void put_key(enc *e, const char *k)
{
	put_str(e, wire_cstr(k, strlen(k)));
}

static void put_uint(enc *e, uint64_t v)
{
	e->rc |= msgpack_pack_uint64(&e->pk, v);
}

/* Hands the packed bytes to the caller. The sbuffer grows with realloc,
 * so a failed write means memory ran out: abort, as xmem does. */
static void enc_finish(enc *e, char **out, size_t *outlen)
{
	if (e->rc) {
		log_error("out of memory", "bytes=%zu", e->sb.size);
		abort();
	}
	*outlen = e->sb.size;
	*out = msgpack_sbuffer_release(&e->sb);
}

static bool str_ok(wire_str s, bool nonempty)
{
	if (s.n > WIRE_MAX_STR || (nonempty && s.n == 0))
		return false;
	return s.n == 0 || s.p != NULL;
}

static bool op_ok(const wire_op *op)
{
	return str_ok(op->counter, true) && str_ok(op->item, true) && str_ok(op->user, true) &&
	       (op->kind == WIRE_ADD || op->kind == WIRE_REMOVE) && op->n >= 1 &&
	       op->n <= WIRE_MAX_N;
}

static bool sum_ok(const wire_sum *s)
{
	return str_ok(s->counter, true) && str_ok(s->item, true) && s->n >= 1 &&
	       s->n <= WIRE_MAX_SUM;
}

/* Starts e's message: a map of pairs pairs, "v" then "t" first. */
static void put_head(enc *e, uint32_t pairs, uint64_t version, const char *type)
{
	enc_init(e);
	e->rc |= msgpack_pack_map(&e->pk, pairs);
	put_key(e, "v");
	put_uint(e, version);
	put_key(e, "t");
	put_key(e, type);
}

int wire_encode_batch(const wire_batch *b, char **out, size_t *outlen)
{
	enc e;

	if (!str_ok(b->edge, true) || !str_ok(b->region, false) || b->seq == 0 ||
	    b->nops > WIRE_MAX_OPS || (b->nops && !b->ops) || b->nsums > WIRE_MAX_OPS ||
	    (b->nsums && !b->sums))
		return ERR_INVAL;
	uint32_t homes = 0;
	for (uint32_t i = 0; i < b->nops; i++) {
		if (!op_ok(&b->ops[i]))
			return ERR_INVAL;
		homes += b->ops[i].home.n > 0;
	}
	for (uint32_t i = 0; i < b->nsums; i++)
		if (!sum_ok(&b->sums[i]))
			return ERR_INVAL;

	put_head(&e, 8 + (b->nsums ? 1 : 0) + (homes ? 1 : 0),
	         b->nsums ? WIRE_VERSION_SUMS : WIRE_VERSION, "b");
	put_key(&e, "e");
	put_str(&e, b->edge);
	put_key(&e, "r");
	put_str(&e, b->region);
	put_key(&e, "p");
	put_uint(&e, b->partition);
	put_key(&e, "q");
	put_uint(&e, b->seq);
	put_key(&e, "w");
	put_uint(&e, b->created_ms);
	put_key(&e, "o");
	e.rc |= msgpack_pack_array(&e.pk, b->nops);
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];

		e.rc |= msgpack_pack_array(&e.pk, 6);
		put_str(&e, op->counter);
		put_str(&e, op->item);
		put_str(&e, op->user);
		put_uint(&e, op->kind);
		put_uint(&e, op->n);
		put_uint(&e, op->hlc);
	}
	if (homes) {
		put_key(&e, "h");
		e.rc |= msgpack_pack_array(&e.pk, homes);
		for (uint32_t i = 0; i < b->nops; i++) {
			if (!b->ops[i].home.n)
				continue;
			e.rc |= msgpack_pack_array(&e.pk, 2);
			put_uint(&e, i);
			put_str(&e, b->ops[i].home);
		}
	}
	if (b->nsums) {
		put_key(&e, "g");
		e.rc |= msgpack_pack_array(&e.pk, b->nsums);
		for (uint32_t i = 0; i < b->nsums; i++) {
			const wire_sum *sm = &b->sums[i];

			e.rc |= msgpack_pack_array(&e.pk, 4);
			put_str(&e, sm->counter);
			put_str(&e, sm->item);
			put_uint(&e, sm->n);
			put_uint(&e, sm->hlc);
		}
	}
	enc_finish(&e, out, outlen);
	return 0;
}

int wire_encode_snapshot(const wire_snapshot *s, char **out, size_t *outlen)
{
	enc e;

	if (!str_ok(s->source, false) || s->nedges > WIRE_MAX_EDGES ||
	    s->ncounts > WIRE_MAX_COUNTS || s->nmembers > WIRE_MAX_MEMBERS ||
	    (s->nedges && !s->edges) || (s->ncounts && !s->counts) || (s->nmembers && !s->members))
		return ERR_INVAL;
	for (uint32_t i = 0; i < s->nedges; i++)
		if (!str_ok(s->edges[i].edge, true))
			return ERR_INVAL;
	for (uint32_t i = 0; i < s->ncounts; i++)
		if (!str_ok(s->counts[i].counter, true) || !str_ok(s->counts[i].item, true))
			return ERR_INVAL;
	for (uint32_t i = 0; i < s->nmembers; i++)
		if (!str_ok(s->members[i].counter, true) || !str_ok(s->members[i].item, true) ||
		    !str_ok(s->members[i].user, true))
			return ERR_INVAL;
	if (s->nmarks > WIRE_MAX_MEMBERS || (s->nmarks && !s->marks))
		return ERR_INVAL;
	for (uint32_t i = 0; i < s->nmarks; i++)
		if (!str_ok(s->marks[i].user, true) || !str_ok(s->marks[i].home, true) ||
		    !s->marks[i].since_ms)
			return ERR_INVAL;

	put_head(&e, 9 + (s->nmembers ? 1 : 0) + (s->index_from ? 1 : 0) + (s->nmarks ? 1 : 0),
	         WIRE_VERSION, "s");
	put_key(&e, "s");
	put_str(&e, s->source);
	put_key(&e, "p");
	put_uint(&e, s->partition);
	put_key(&e, "n");
	put_uint(&e, s->offset);
	put_key(&e, "w");
	put_uint(&e, s->produced_ms);
	put_key(&e, "l");
	e.rc |= s->last ? msgpack_pack_true(&e.pk) : msgpack_pack_false(&e.pk);
	put_key(&e, "a");
	e.rc |= msgpack_pack_array(&e.pk, s->nedges);
	for (uint32_t i = 0; i < s->nedges; i++) {
		e.rc |= msgpack_pack_array(&e.pk, 3);
		put_str(&e, s->edges[i].edge);
		put_uint(&e, s->edges[i].applied);
		put_uint(&e, s->edges[i].held);
	}
	put_key(&e, "c");
	e.rc |= msgpack_pack_array(&e.pk, s->ncounts);
	for (uint32_t i = 0; i < s->ncounts; i++) {
		e.rc |= msgpack_pack_array(&e.pk, 3);
		put_str(&e, s->counts[i].counter);
		put_str(&e, s->counts[i].item);
		put_uint(&e, s->counts[i].count);
	}
	if (s->nmembers) {
		put_key(&e, "m");
		e.rc |= msgpack_pack_array(&e.pk, s->nmembers);
		for (uint32_t i = 0; i < s->nmembers; i++) {
			const wire_member *m = &s->members[i];
			e.rc |= msgpack_pack_array(&e.pk, 5);
			put_str(&e, m->counter);
			put_str(&e, m->item);
			put_str(&e, m->user);
			e.rc |= m->member ? msgpack_pack_true(&e.pk) : msgpack_pack_false(&e.pk);
			put_uint(&e, m->hlc);
		}
	}
	if (s->index_from) {
		put_key(&e, "i");
		put_uint(&e, s->index_from);
	}
	if (s->nmarks) {
		put_key(&e, "u");
		e.rc |= msgpack_pack_array(&e.pk, s->nmarks);
		for (uint32_t i = 0; i < s->nmarks; i++) {
			e.rc |= msgpack_pack_array(&e.pk, 3);
			put_str(&e, s->marks[i].user);
			put_str(&e, s->marks[i].home);
			put_uint(&e, s->marks[i].since_ms);
		}
	}
	enc_finish(&e, out, outlen);
	return 0;
}

int wire_encode_move(const wire_move *m, char **out, size_t *outlen)
{
	enc e;

	if (!str_ok(m->user, true) || !str_ok(m->home, true) || m->since_ms == 0 ||
	    m->since_ms > WIRE_MOVE_SINCE_MAX)
		return ERR_INVAL;
	put_head(&e, 7, WIRE_VERSION, "m");
	put_key(&e, "p");
	put_uint(&e, m->partition);
	put_key(&e, "u");
	put_str(&e, m->user);
	put_key(&e, "h");
	put_str(&e, m->home);
	put_key(&e, "s");
	put_uint(&e, m->since_ms);
	put_key(&e, "w");
	put_uint(&e, m->created_ms);
	enc_finish(&e, out, outlen);
	return 0;
}

int wire_encode_handover(const wire_handover *h, char **out, size_t *outlen)
{
	enc e;

	if (!str_ok(h->edge, true) || h->epoch == 0 || h->created_ms == 0)
		return ERR_INVAL;
	put_head(&e, 6, WIRE_VERSION, "h");
	put_key(&e, "p");
	put_uint(&e, h->partition);
	put_key(&e, "e");
	put_str(&e, h->edge);
	put_key(&e, "n");
	put_uint(&e, h->epoch);
	put_key(&e, "w");
	put_uint(&e, h->created_ms);
	enc_finish(&e, out, outlen);
	return 0;
}

/* ---- adding up sums ------------------------------------------------------ */

void wire_batch_add_up(const wire_op *in, const bool *is_sum, size_t n, wire_batch *b,
                       uint32_t **from, uint32_t **merged)
{
	b->ops = n ? xcalloc(n, sizeof *b->ops) : NULL;
	b->sums = NULL;
	b->nops = b->nsums = 0;
	uint32_t *fr = from ? xcalloc(n ? n : 1, sizeof *fr) : NULL;
	uint32_t *mg = NULL;
	smap at; /* counter 0 item 0 day(u32) -> 1 + index in b->sums */
	smap_init(&at);
	for (size_t i = 0; i < n; i++) {
		const wire_op *op = &in[i];
		if (!is_sum[i]) {
			if (fr)
				fr[b->nops] = (uint32_t)i;
			b->ops[b->nops++] = *op;
			continue;
		}
		char k[2 * WIRE_MAX_STR + 6];
		size_t kn = 0;
		memcpy(k, op->counter.p, op->counter.n);
		kn += op->counter.n;
		k[kn++] = 0;
		memcpy(k + kn, op->item.p, op->item.n);
		kn += op->item.n;
		k[kn++] = 0;
		uint32_t day = (uint32_t)(hlc_ms(op->hlc) / 86400000u);
		memcpy(k + kn, &day, sizeof day);
		kn += sizeof day;
		bool created;
		smap_val *v = smap_put(&at, k, kn, &created);
		if (created) {
			if (!b->sums) {
				b->sums = xcalloc(n, sizeof *b->sums);
				mg = xcalloc(n, sizeof *mg);
			}
			v->u = ++b->nsums;
			b->sums[v->u - 1] = (wire_sum){op->counter, op->item, 0, 0};
		}
		wire_sum *sm = &b->sums[v->u - 1];
		sm->n += op->n;
		if (op->hlc > sm->hlc)
			sm->hlc = op->hlc;
		mg[v->u - 1]++;
	}
	smap_free(&at);
	if (from)
		*from = fr;
	if (merged)
		*merged = mg ? mg : xcalloc(1, sizeof *mg);
	else
		free(mg);
}

/* ---- decoding ---------------------------------------------------------- */

/* Reads a string that must hold at least one byte. */
static int read_name(mpr *r, wire_str *s)
{
	int rc = mpr_read_str(r, WIRE_MAX_STR, s);

	if (!rc && s->n == 0)
		rc = ERR_CORRUPT;
	return rc;
}

static int read_u32(mpr *r, uint32_t *v)
{
	uint64_t x;
	int rc = mpr_read_uint(r, UINT32_MAX, &x);

	if (!rc)
		*v = (uint32_t)x;
	return rc;
}

static bool key_is(wire_str k, const char *name)
{
	return k.n == strlen(name) && memcmp(k.p, name, k.n) == 0;
}

/* Reads the top-level map header and the two fixed leading pairs, "v"
 * then "t", and leaves *nrest pairs to read and the version in *ver (1
 * up to max_version). The version comes first so that a newer writer may
 * change everything after it. */
static int read_head(mpr *r, const char *type, uint64_t max_version, uint32_t *nrest, uint64_t *ver)
{
	uint32_t n;
	uint64_t v;
	wire_str k, t;
	int rc;

	if ((rc = mpr_read_map(r, &n)))
		return rc;
	if (n == 0)
		return ERR_CORRUPT;
	if ((rc = mpr_read_str(r, WIRE_MAX_STR, &k)))
		return rc;
	if (!key_is(k, "v"))
		return ERR_CORRUPT;
	if ((rc = mpr_read_uint(r, UINT64_MAX, &v)))
		return rc;
	if (v < WIRE_VERSION || v > max_version)
		return ERR_VERSION;
	*ver = v;
	if (n > WIRE_MAX_KEYS)
		return ERR_TOOBIG;
	if (n < 2 || n - 1 > r->left / 2)
		return ERR_CORRUPT;
	if ((rc = mpr_read_str(r, WIRE_MAX_STR, &k)))
		return rc;
	if (!key_is(k, "t"))
		return ERR_CORRUPT;
	if ((rc = mpr_read_str(r, WIRE_MAX_STR, &t)))
		return rc;
	if (!key_is(t, type))
		return ERR_CORRUPT;
	*nrest = n - 2;
	return 0;
}

/* Reads an array header for entries of at least min_bytes each, at most
 * limit of them. Over the limit is ERR_TOOBIG; more than the bytes left
 * could hold is ERR_CORRUPT. Both are checked before the caller
 * allocates. */
static int read_entries(mpr *r, uint32_t limit, size_t min_bytes, uint32_t *n)
{
	int rc = mpr_read_array(r, n);

	if (rc)
		return rc;
	if (*n > limit)
		return ERR_TOOBIG;
	if (*n > r->left / min_bytes)
		return ERR_CORRUPT;
	return 0;
}

static int read_tuple(mpr *r, uint32_t want)
{
	uint32_t n;
	int rc = mpr_read_array(r, &n);

	if (!rc && n != want)
		rc = ERR_CORRUPT;
	return rc;
}

static int read_op(mpr *r, wire_op *op)
{
	uint64_t kind, n;
	int rc;

	if ((rc = read_tuple(r, 6)) || (rc = read_name(r, &op->counter)) ||
	    (rc = read_name(r, &op->item)) || (rc = read_name(r, &op->user)) ||
	    (rc = mpr_read_uint(r, WIRE_REMOVE, &kind)) ||
	    (rc = mpr_read_uint(r, WIRE_MAX_N, &n)) ||
	    (rc = mpr_read_uint(r, UINT64_MAX, &op->hlc)))
		return rc;
	if (kind != WIRE_ADD && kind != WIRE_REMOVE)
		return ERR_CORRUPT;
	if (n == 0)
		return ERR_CORRUPT;
	op->kind = (uint8_t)kind;
	op->n = (uint32_t)n;
	return 0;
}

static int read_sums(mpr *r, wire_batch *b)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_OPS, MIN_SUM_BYTES, &n)))
		return rc;
	b->sums = n ? xcalloc(n, sizeof(*b->sums)) : NULL;
	b->nsums = n;
	for (uint32_t i = 0; i < n; i++) {
		wire_sum *sm = &b->sums[i];

		if ((rc = read_tuple(r, 4)) || (rc = read_name(r, &sm->counter)) ||
		    (rc = read_name(r, &sm->item)) ||
		    (rc = mpr_read_uint(r, WIRE_MAX_SUM, &sm->n)) ||
		    (rc = mpr_read_uint(r, UINT64_MAX, &sm->hlc)))
			return rc;
		if (sm->n == 0)
			return ERR_CORRUPT;
	}
	return 0;
}

static int read_ops(mpr *r, wire_batch *b)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_OPS, MIN_OP_BYTES, &n)))
		return rc;
	b->ops = n ? xcalloc(n, sizeof(*b->ops)) : NULL;
	b->nops = n;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = read_op(r, &b->ops[i])))
			return rc;
	return 0;
}

/* One bit per known field, to catch duplicates and missing ones. */
enum {
	F_EDGE = 1 << 0,
	F_REGION = 1 << 1,
	F_PARTITION = 1 << 2,
	F_SEQ = 1 << 3,
	F_WALL = 1 << 4,
	F_OPS = 1 << 5,
	F_SOURCE = 1 << 6,
	F_OFFSET = 1 << 7,
	F_LAST = 1 << 8,
	F_EDGES = 1 << 9,
	F_COUNTS = 1 << 10,
	F_HEAD = 1 << 11, /* "v" and "t": always seen before the loop */
	F_SUMS = 1 << 12,
	F_HOMES = 1 << 13,
	F_MEMBERS = 1 << 14,
	F_INDEX_FROM = 1 << 15,
	F_USER = 1 << 16,
	F_SINCE = 1 << 17,
	F_MARKS = 1 << 18,
	F_EPOCH = 1 << 19,
};

#define BATCH_FIELDS (F_EDGE | F_REGION | F_PARTITION | F_SEQ | F_WALL | F_OPS)
#define SNAPSHOT_FIELDS (F_SOURCE | F_PARTITION | F_OFFSET | F_WALL | F_LAST | F_EDGES | F_COUNTS)

/* Map a one-letter key to its field bit for the message type and
 * version; 0 for a key that version does not know. "v" and "t" map to
 * F_HEAD, which is set before the loop, so a second copy reads as a
 * duplicate. */
static int batch_field(wire_str k, uint64_t ver)
{
	if (k.n != 1)
		return 0;
	switch (k.p[0]) {
	case 'v':
	case 't': return F_HEAD;
	case 'e': return F_EDGE;
	case 'r': return F_REGION;
	case 'p': return F_PARTITION;
	case 'q': return F_SEQ;
	case 'w': return F_WALL;
	case 'o': return F_OPS;
	case 'g': return ver >= WIRE_VERSION_SUMS ? F_SUMS : 0;
	case 'h': return F_HOMES;
	default: return 0;
	}
}

/* The field bit of one-letter key k in a table of keys (a string) and
 * their bits (same order); "v" and "t" are F_HEAD; 0 for any other. */
static int field_in(wire_str k, const char *keys, const int *fields)
{
	if (k.n != 1)
		return 0;
	if (k.p[0] == 'v' || k.p[0] == 't')
		return F_HEAD;
	const char *at = k.p[0] ? strchr(keys, k.p[0]) : NULL;
	return at ? fields[at - keys] : 0;
}

static int snapshot_field(wire_str k, uint64_t ver)
{
	static const int fields[] = {F_SOURCE, F_PARTITION, F_OFFSET,  F_WALL,       F_LAST,
	                             F_EDGES,  F_COUNTS,    F_MEMBERS, F_INDEX_FROM, F_MARKS};
	(void)ver;
	return field_in(k, "spnwlacmiu", fields);
}

/* One message kind: its "t" value, its field table, how to read a known
 * field into the message, and the fields it must carry. */
typedef struct msg_kind {
	const char *type;
	uint64_t max_version;
	int (*field)(wire_str key, uint64_t version);
	int (*read)(mpr *r, int field, void *msg);
	int (*required)(uint64_t version);
} msg_kind;

/* Walks the top-level map shared by every message: the head, then each
 * key once, known fields read, unknown ones skipped, nothing trailing. */
static int decode_map(mpr *r, const msg_kind *kind, void *msg)
{
	uint32_t n;
	uint64_t ver;
	int seen = F_HEAD, rc;

	if ((rc = read_head(r, kind->type, kind->max_version, &n, &ver)))
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		wire_str k;
		int f;

		if ((rc = mpr_read_str(r, WIRE_MAX_STR, &k)))
			return rc;
		if (!(f = kind->field(k, ver))) {
			if ((rc = mpr_skip(r)))
				return rc;
			continue;
		}
		if (seen & f)
			return ERR_CORRUPT;
		seen |= f;
		if ((rc = kind->read(r, f, msg)))
			return rc;
	}
	int required = kind->required(ver);
	if ((seen & required) != required)
		return ERR_CORRUPT;
	return r->left ? ERR_CORRUPT : 0;
}

/* A batch being decoded: "h" names ops by index, and may come before
 * "o", so its place is kept and it is read once the map is done. */
typedef struct batch_dec {
	wire_batch *b;
	mpr homes;
	bool has_homes;
} batch_dec;

static int read_batch_field(mpr *r, int f, void *msg)
{
	batch_dec *d = msg;
	wire_batch *b = d->b;

	if (f == F_HOMES) {
		d->homes = *r;
		d->has_homes = true;
		return mpr_skip(r);
	}
	switch (f) {
	case F_EDGE: return read_name(r, &b->edge);
	case F_REGION: return mpr_read_str(r, WIRE_MAX_STR, &b->region);
	case F_PARTITION: return read_u32(r, &b->partition);
	case F_SEQ: return mpr_read_uint(r, UINT64_MAX, &b->seq);
	case F_WALL: return mpr_read_uint(r, UINT64_MAX, &b->created_ms);
	case F_SUMS: return read_sums(r, b);
	default: return read_ops(r, b);
	}
}

/* Version 2 differs from 1 only by its sums, which it must carry. */
static int batch_required(uint64_t ver)
{
	return ver >= WIRE_VERSION_SUMS ? BATCH_FIELDS | F_SUMS : BATCH_FIELDS;
}

static const msg_kind batch_kind = {"b", WIRE_VERSION_SUMS, batch_field, read_batch_field,
                                    batch_required};

/* "h": [[index, home], ...], indexes of b->ops strictly increasing. */
static int read_homes(mpr *r, wire_batch *b)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_OPS, MIN_HOME_BYTES, &n)))
		return rc;
	int64_t last = -1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t at;
		wire_str home;

		if ((rc = read_tuple(r, 2)) || (rc = mpr_read_uint(r, UINT32_MAX, &at)) ||
		    (rc = read_name(r, &home)))
			return rc;
		if ((int64_t)at <= last || at >= b->nops)
			return ERR_CORRUPT;
		b->ops[at].home = home;
		last = (int64_t)at;
	}
	return 0;
}

static int decode_batch(mpr *r, wire_batch *b)
{
	batch_dec d = {.b = b};
	int rc = decode_map(r, &batch_kind, &d);

	if (!rc && d.has_homes)
		rc = read_homes(&d.homes, b);
	return rc ? rc : b->seq == 0 ? ERR_CORRUPT : 0;
}

int wire_decode_batch(const void *buf, size_t len, wire_batch *b)
{
	mpr r;
	int rc;

	memset(b, 0, sizeof(*b));
	if (!buf)
		return ERR_CORRUPT;
	mpr_init(&r, buf, len);
	if ((rc = decode_batch(&r, b)))
		wire_batch_free(b);
	return rc;
}

static int read_edges(mpr *r, wire_snapshot *s)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_EDGES, MIN_EDGE_BYTES, &n)))
		return rc;
	s->edges = n ? xcalloc(n, sizeof(*s->edges)) : NULL;
	s->nedges = n;
	for (uint32_t i = 0; i < n; i++) {
		wire_edge_seq *es = &s->edges[i];

		if ((rc = read_tuple(r, 3)) || (rc = read_name(r, &es->edge)) ||
		    (rc = mpr_read_uint(r, UINT64_MAX, &es->applied)) ||
		    (rc = mpr_read_uint(r, UINT64_MAX, &es->held)))
			return rc;
	}
	return 0;
}

static int read_counts(mpr *r, wire_snapshot *s)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_COUNTS, MIN_COUNT_BYTES, &n)))
		return rc;
	s->counts = n ? xcalloc(n, sizeof(*s->counts)) : NULL;
	s->ncounts = n;
	for (uint32_t i = 0; i < n; i++) {
		wire_count *c = &s->counts[i];

		if ((rc = read_tuple(r, 3)) || (rc = read_name(r, &c->counter)) ||
		    (rc = read_name(r, &c->item)) || (rc = mpr_read_uint(r, UINT64_MAX, &c->count)))
			return rc;
	}
	return 0;
}

static int read_members(mpr *r, wire_snapshot *s)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_MEMBERS, MIN_MEMBER_BYTES, &n)))
		return rc;
	s->members = n ? xcalloc(n, sizeof(*s->members)) : NULL;
	s->nmembers = n;
	for (uint32_t i = 0; i < n; i++) {
		wire_member *m = &s->members[i];

		if ((rc = read_tuple(r, 5)) || (rc = read_name(r, &m->counter)) ||
		    (rc = read_name(r, &m->item)) || (rc = read_name(r, &m->user)) ||
		    (rc = mpr_read_bool(r, &m->member)) ||
		    (rc = mpr_read_uint(r, UINT64_MAX, &m->hlc)))
			return rc;
	}
	return 0;
}

static int read_marks(mpr *r, wire_snapshot *s)
{
	uint32_t n;
	int rc;

	if ((rc = read_entries(r, WIRE_MAX_MEMBERS, MIN_MARK_BYTES, &n)))
		return rc;
	s->marks = n ? xcalloc(n, sizeof(*s->marks)) : NULL;
	s->nmarks = n;
	for (uint32_t i = 0; i < n; i++) {
		wire_home_mark *m = &s->marks[i];

		if ((rc = read_tuple(r, 3)) || (rc = read_name(r, &m->user)) ||
		    (rc = read_name(r, &m->home)) ||
		    (rc = mpr_read_uint(r, UINT64_MAX, &m->since_ms)))
			return rc;
		if (!m->since_ms)
			return ERR_CORRUPT;
	}
	return 0;
}

static int read_snapshot_field(mpr *r, int f, void *msg)
{
	wire_snapshot *s = msg;

	switch (f) {
	case F_SOURCE: return mpr_read_str(r, WIRE_MAX_STR, &s->source);
	case F_PARTITION: return read_u32(r, &s->partition);
	case F_OFFSET: return mpr_read_uint(r, UINT64_MAX, &s->offset);
	case F_WALL: return mpr_read_uint(r, UINT64_MAX, &s->produced_ms);
	case F_LAST: return mpr_read_bool(r, &s->last);
	case F_EDGES: return read_edges(r, s);
	case F_MEMBERS: return read_members(r, s);
	case F_INDEX_FROM: return mpr_read_uint(r, UINT64_MAX, &s->index_from);
	case F_MARKS: return read_marks(r, s);
	default: return read_counts(r, s);
	}
}

static int snapshot_required(uint64_t ver)
{
	(void)ver;
	return SNAPSHOT_FIELDS;
}

static const msg_kind snapshot_kind = {"s", WIRE_VERSION, snapshot_field, read_snapshot_field,
                                       snapshot_required};

static int decode_snapshot(mpr *r, wire_snapshot *s)
{
	return decode_map(r, &snapshot_kind, s);
}

int wire_decode_snapshot(const void *buf, size_t len, wire_snapshot *s)
{
	mpr r;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!buf)
		return ERR_CORRUPT;
	mpr_init(&r, buf, len);
	if ((rc = decode_snapshot(&r, s)))
		wire_snapshot_free(s);
	return rc;
}

static int move_field(wire_str k, uint64_t ver)
{
	static const int fields[] = {F_PARTITION, F_USER, F_HOMES, F_SINCE, F_WALL};
	(void)ver;
	return field_in(k, "puhsw", fields);
}

static int read_move_field(mpr *r, int f, void *msg)
{
	wire_move *m = msg;

	switch (f) {
	case F_PARTITION: return read_u32(r, &m->partition);
	case F_USER: return read_name(r, &m->user);
	case F_HOMES: return read_name(r, &m->home);
	case F_SINCE: return mpr_read_uint(r, UINT64_MAX, &m->since_ms);
	default: return mpr_read_uint(r, UINT64_MAX, &m->created_ms);
	}
}

static int move_required(uint64_t ver)
{
	(void)ver;
	return F_PARTITION | F_USER | F_HOMES | F_SINCE | F_WALL;
}

static const msg_kind move_kind = {"m", WIRE_VERSION, move_field, read_move_field, move_required};

int wire_decode_move(const void *buf, size_t len, wire_move *m)
{
	mpr r;

	memset(m, 0, sizeof(*m));
	if (!buf)
		return ERR_CORRUPT;
	mpr_init(&r, buf, len);
	int rc = decode_map(&r, &move_kind, m);
	if (!rc && (m->since_ms == 0 || m->since_ms > WIRE_MOVE_SINCE_MAX))
		rc = ERR_CORRUPT;
	if (rc)
		memset(m, 0, sizeof(*m));
	return rc;
}

static int handover_field(wire_str k, uint64_t ver)
{
	static const int fields[] = {F_PARTITION, F_EDGE, F_EPOCH, F_WALL};
	(void)ver;
	return field_in(k, "penw", fields);
}

static int read_handover_field(mpr *r, int f, void *msg)
{
	wire_handover *h = msg;

	switch (f) {
	case F_PARTITION: return read_u32(r, &h->partition);
	case F_EDGE: return read_name(r, &h->edge);
	case F_EPOCH: return mpr_read_uint(r, UINT64_MAX, &h->epoch);
	default: return mpr_read_uint(r, UINT64_MAX, &h->created_ms);
	}
}

static int handover_required(uint64_t ver)
{
	(void)ver;
	return F_PARTITION | F_EDGE | F_EPOCH | F_WALL;
}

static const msg_kind handover_kind = {"h", WIRE_VERSION, handover_field, read_handover_field,
                                       handover_required};

int wire_decode_handover(const void *buf, size_t len, wire_handover *h)
{
	mpr r;

	memset(h, 0, sizeof(*h));
	if (!buf)
		return ERR_CORRUPT;
	mpr_init(&r, buf, len);
	int rc = decode_map(&r, &handover_kind, h);
	if (!rc && (h->epoch == 0 || h->created_ms == 0))
		rc = ERR_CORRUPT;
	if (rc)
		memset(h, 0, sizeof(*h));
	return rc;
}

char wire_message_type(const void *buf, size_t len)
{
	static const char types[] = "bsmh";
	mpr r;
	uint32_t n;
	uint64_t v;
	wire_str k, t;

	if (!buf)
		return 0;
	mpr_init(&r, buf, len);
	if (mpr_read_map(&r, &n) || n < 2 || mpr_read_str(&r, WIRE_MAX_STR, &k) ||
	    !key_is(k, "v") || mpr_read_uint(&r, UINT64_MAX, &v) ||
	    mpr_read_str(&r, WIRE_MAX_STR, &k) || !key_is(k, "t") ||
	    mpr_read_str(&r, WIRE_MAX_STR, &t) || t.n != 1 ||
	    !memchr(types, t.p[0], sizeof types - 1))
		return 0;
	return t.p[0];
}

void wire_batch_free(wire_batch *b)
{
	if (!b)
		return;
	free(b->ops);
	free(b->sums);
	memset(b, 0, sizeof(*b));
}

void wire_snapshot_free(wire_snapshot *s)
{
	if (!s)
		return;
	free(s->edges);
	free(s->counts);
	free(s->members);
	free(s->marks);
	memset(s, 0, sizeof(*s));
}
