/* wire_util.c - helpers of the wire format tests (wire_util.h). */
#include "tests/support/wire_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "xmem.h"

bool wire_util_str_is(wire_str w, const char *s)
{
	return w.n == strlen(s) && memcmp(w.p, s, w.n) == 0;
}

wire_op wire_util_op(const char *counter, const char *item, const char *user, uint8_t kind,
                     uint32_t n, uint64_t hlc)
{
	return (wire_op){wire_cstr(counter, strlen(counter)),
	                 wire_cstr(item, strlen(item)),
	                 wire_cstr(user, strlen(user)),
	                 kind,
	                 n,
	                 hlc,
	                 {NULL, 0}};
}

wire_util_msg wire_util_batch(const char *edge, const char *region, uint32_t p, uint64_t seq,
                              const wire_op *ops, size_t nops, const wire_sum *sums, size_t nsums)
{
	wire_batch b = {wire_cstr(edge, strlen(edge)),
	                wire_cstr(region, strlen(region)),
	                p,
	                seq,
	                1000,
	                (uint32_t)nops,
	                (wire_op *)ops,
	                (uint32_t)nsums,
	                (wire_sum *)sums};
	wire_util_msg m;
	int rc = wire_encode_batch(&b, &m.buf, &m.len);
	cr_assert_eq(rc, 0, "wire_encode_batch: %s", err_str(rc));
	return m;
}

wire_util_msg wire_util_move(uint32_t p, const char *user, const char *home, uint64_t since_ms)
{
	wire_move mv = {p, wire_cstr(user, strlen(user)), wire_cstr(home, strlen(home)), since_ms,
	                since_ms};
	wire_util_msg m;
	int rc = wire_encode_move(&mv, &m.buf, &m.len);
	cr_assert_eq(rc, 0, "wire_encode_move: %s", err_str(rc));
	return m;
}

wire_util_msg wire_util_handover(uint32_t p, const char *edge, uint64_t epoch, uint64_t created_ms)
{
	wire_handover h = {p, wire_cstr(edge, strlen(edge)), epoch, created_ms};
	wire_util_msg m;
	int rc = wire_encode_handover(&h, &m.buf, &m.len);
	cr_assert_eq(rc, 0, "wire_encode_handover: %s", err_str(rc));
	return m;
}

void wire_util_assert_vector(const char *path, char *buf, size_t len)
{
	size_t vlen;
	uint8_t *vec = wire_util_load_hex(path, &vlen);
	cr_assert_eq(len, vlen, "%s: %zu bytes encoded, the vector has %zu", path, len, vlen);
	cr_assert_arr_eq(buf, vec, len, "%s: the bytes differ", path);
	free(buf);
	free(vec);
}

static bool str_eq(wire_str a, wire_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

uint8_t *wire_util_load_hex(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	uint8_t *out;
	size_t n = 0, cap = 4096;
	int c, hi = -1;

	cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
	out = xmalloc(cap);
	while ((c = fgetc(f)) != EOF) {
		int d;

		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			cr_assert_fail("%s: not a hex digit: %c", path, c);
		if (hi < 0) {
			hi = d;
			continue;
		}
		if (n == cap)
			out = xrealloc(out, cap *= 2);
		out[n++] = (uint8_t)(hi << 4 | d);
		hi = -1;
	}
	fclose(f);
	cr_assert_eq(hi, -1, "%s: odd number of hex digits", path);
	*len = n;
	return out;
}

/* The documented contents of tests/vectors/batch_v1.hex. */
static wire_op vec_ops[3];
void wire_util_vector_batch(wire_batch *b)
{
	vec_ops[0] = (wire_op){
	    S("likes"), S("post:123"), S("u1001"), WIRE_ADD, 1, UINT64_C(117637120000000001),
	    {NULL, 0}};
	vec_ops[1] = (wire_op){S("views"), S("reel:9"), S("u42"),
	                       WIRE_ADD,   250,         UINT64_C(117637120000000002),
	                       {NULL, 0}};
	vec_ops[2] = (wire_op){
	    S("likes"), S("post:123"), S("u1001"), WIRE_REMOVE, 1, UINT64_C(117637120000327680),
	    {NULL, 0}};
	*b = (wire_batch){
	    S("edge-mumbai-1"), S("ap-south"), 3, 42, UINT64_C(1795000000000), 3, vec_ops, 0, NULL};
}

/* The documented contents of tests/vectors/batch_v2.hex: a like and
 * two sums. */
static wire_op vec2_op[1];
static wire_sum vec2_sums[2];
void wire_util_vector_batch_v2(wire_batch *b)
{
	vec2_op[0] = (wire_op){
	    S("likes"), S("post:123"), S("u1001"), WIRE_ADD, 1, UINT64_C(117637120000000001),
	    {NULL, 0}};
	vec2_sums[0] = (wire_sum){S("views"), S("reel:9"), 1250, UINT64_C(117637120000000002)};
	vec2_sums[1] = (wire_sum){S("views"), S("reel:7"), 3, UINT64_C(117637120000327680)};
	*b = (wire_batch){
	    S("edge-mumbai-1"), S("ap-south"), 3, 43, UINT64_C(1795000001000), 1, vec2_op, 2,
	    vec2_sums};
}

/* The documented contents of tests/vectors/snapshot_v1.hex. */
static wire_edge_seq vec_edges[2];
static wire_count vec_counts[2];
void wire_util_vector_snapshot(wire_snapshot *s)
{
	vec_edges[0] = (wire_edge_seq){S("edge-mumbai-1"), 42, 0};
	vec_edges[1] = (wire_edge_seq){S("edge-paris-2"), 7, 9};
	vec_counts[0] = (wire_count){S("likes"), S("post:123"), 1234567};
	vec_counts[1] = (wire_count){S("views"), S("reel:9"), 300};
	*s = (wire_snapshot){.source = S("central-a"),
	                     .partition = 3,
	                     .offset = 70000,
	                     .produced_ms = UINT64_C(1795000001000),
	                     .last = true,
	                     .nedges = 2,
	                     .edges = vec_edges,
	                     .ncounts = 2,
	                     .counts = vec_counts};
}

void wire_util_assert_batch_eq(const wire_batch *a, const wire_batch *b)
{
	cr_assert(str_eq(a->edge, b->edge));
	cr_assert(str_eq(a->region, b->region));
	cr_assert_eq(a->partition, b->partition);
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->created_ms, b->created_ms);
	cr_assert_eq(a->nops, b->nops);
	for (uint32_t i = 0; i < a->nops; i++) {
		const wire_op *x = &a->ops[i], *y = &b->ops[i];

		cr_assert(str_eq(x->counter, y->counter), "op %u counter", i);
		cr_assert(str_eq(x->item, y->item), "op %u item", i);
		cr_assert(str_eq(x->user, y->user), "op %u user", i);
		cr_assert_eq(x->kind, y->kind, "op %u kind", i);
		cr_assert_eq(x->n, y->n, "op %u n", i);
		cr_assert_eq(x->hlc, y->hlc, "op %u hlc", i);
		cr_assert(str_eq(x->home, y->home), "op %u home", i);
	}
	cr_assert_eq(a->nsums, b->nsums);
	for (uint32_t i = 0; i < a->nsums; i++) {
		const wire_sum *x = &a->sums[i], *y = &b->sums[i];

		cr_assert(str_eq(x->counter, y->counter), "sum %u counter", i);
		cr_assert(str_eq(x->item, y->item), "sum %u item", i);
		cr_assert_eq(x->n, y->n, "sum %u n", i);
		cr_assert_eq(x->hlc, y->hlc, "sum %u hlc", i);
	}
}

void wire_util_assert_snapshot_eq(const wire_snapshot *a, const wire_snapshot *b)
{
	cr_assert(str_eq(a->source, b->source));
	cr_assert_eq(a->partition, b->partition);
	cr_assert_eq(a->offset, b->offset);
	cr_assert_eq(a->produced_ms, b->produced_ms);
	cr_assert_eq(a->index_from, b->index_from);
	cr_assert_eq(a->last, b->last);
	cr_assert_eq(a->nedges, b->nedges);
	for (uint32_t i = 0; i < a->nedges; i++) {
		cr_assert(str_eq(a->edges[i].edge, b->edges[i].edge), "edge %u", i);
		cr_assert_eq(a->edges[i].applied, b->edges[i].applied, "edge %u", i);
		cr_assert_eq(a->edges[i].held, b->edges[i].held, "edge %u", i);
	}
	cr_assert_eq(a->ncounts, b->ncounts);
	for (uint32_t i = 0; i < a->ncounts; i++) {
		cr_assert(str_eq(a->counts[i].counter, b->counts[i].counter), "count %u", i);
		cr_assert(str_eq(a->counts[i].item, b->counts[i].item), "count %u", i);
		cr_assert_eq(a->counts[i].count, b->counts[i].count, "count %u", i);
	}
	cr_assert_eq(a->nmembers, b->nmembers);
	for (uint32_t i = 0; i < a->nmembers; i++) {
		const wire_member *x = &a->members[i], *y = &b->members[i];
		cr_assert(str_eq(x->counter, y->counter), "member %u", i);
		cr_assert(str_eq(x->item, y->item), "member %u", i);
		cr_assert(str_eq(x->user, y->user), "member %u", i);
		cr_assert_eq(x->member, y->member, "member %u", i);
		cr_assert_eq(x->hlc, y->hlc, "member %u", i);
	}
}

void wire_util_batch_round_trip(const wire_batch *in)
{
	char *buf;
	size_t len;
	wire_batch out;

	cr_assert_eq(wire_encode_batch(in, &buf, &len), 0);
	cr_assert_eq(wire_decode_batch(buf, len, &out), 0);
	wire_util_assert_batch_eq(in, &out);
	wire_batch_free(&out);
	free(buf);
}

void wire_util_snapshot_round_trip(const wire_snapshot *in)
{
	char *buf;
	size_t len;
	wire_snapshot out;

	cr_assert_eq(wire_encode_snapshot(in, &buf, &len), 0);
	cr_assert_eq(wire_decode_snapshot(buf, len, &out), 0);
	wire_util_assert_snapshot_eq(in, &out);
	wire_snapshot_free(&out);
	free(buf);
}

static bool inside(wire_str s, const void *buf, size_t len, bool nonempty)
{
	const char *b = buf;

	if (s.n > WIRE_MAX_STR || (nonempty && s.n == 0))
		return false;
	return s.n == 0 || (s.p >= b && s.p + s.n <= b + len);
}

void wire_util_assert_batch_sane(const wire_batch *b, const void *buf, size_t len)
{
	cr_assert(inside(b->edge, buf, len, true));
	cr_assert(inside(b->region, buf, len, false));
	cr_assert(b->seq >= 1);
	cr_assert(b->nops <= WIRE_MAX_OPS);
	cr_assert(b->nops == 0 || b->ops != NULL);
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];

		cr_assert(inside(op->counter, buf, len, true));
		cr_assert(inside(op->item, buf, len, true));
		cr_assert(inside(op->user, buf, len, true));
		cr_assert(op->kind == WIRE_ADD || op->kind == WIRE_REMOVE);
		cr_assert(op->n >= 1 && op->n <= 1000);
	}
	cr_assert(b->nsums <= WIRE_MAX_OPS);
	cr_assert(b->nsums == 0 || b->sums != NULL);
	for (uint32_t i = 0; i < b->nsums; i++) {
		const wire_sum *sm = &b->sums[i];

		cr_assert(inside(sm->counter, buf, len, true));
		cr_assert(inside(sm->item, buf, len, true));
		cr_assert(sm->n >= 1 && sm->n <= WIRE_MAX_SUM);
	}
}

void wire_util_assert_snapshot_sane(const wire_snapshot *s, const void *buf, size_t len)
{
	cr_assert(inside(s->source, buf, len, false));
	cr_assert(s->nedges <= WIRE_MAX_EDGES && s->ncounts <= WIRE_MAX_COUNTS);
	for (uint32_t i = 0; i < s->nedges; i++)
		cr_assert(inside(s->edges[i].edge, buf, len, true));
	for (uint32_t i = 0; i < s->ncounts; i++) {
		cr_assert(inside(s->counts[i].counter, buf, len, true));
		cr_assert(inside(s->counts[i].item, buf, len, true));
	}
	cr_assert(s->nmembers <= WIRE_MAX_MEMBERS);
	cr_assert(s->nmembers == 0 || s->members != NULL);
	for (uint32_t i = 0; i < s->nmembers; i++) {
		cr_assert(inside(s->members[i].counter, buf, len, true));
		cr_assert(inside(s->members[i].item, buf, len, true));
		cr_assert(inside(s->members[i].user, buf, len, true));
	}
}

static bool is_decode_error(int rc)
{
	return rc == ERR_CORRUPT || rc == ERR_VERSION || rc == ERR_TOOBIG;
}

void wire_util_decode_anything(const void *buf, size_t len)
{
	wire_batch b;
	wire_snapshot s;
	int rc;

	rc = wire_decode_batch(buf, len, &b);
	if (rc == 0) {
		wire_util_assert_batch_sane(&b, buf, len);
		wire_batch_free(&b);
	} else {
		cr_assert(is_decode_error(rc), "batch decoder returned %d", rc);
		cr_assert(b.ops == NULL && b.nops == 0 && b.sums == NULL && b.nsums == 0,
		          "batch left allocated on error");
	}
	rc = wire_decode_snapshot(buf, len, &s);
	if (rc == 0) {
		wire_util_assert_snapshot_sane(&s, buf, len);
		wire_snapshot_free(&s);
	} else {
		cr_assert(is_decode_error(rc), "snapshot decoder returned %d", rc);
		cr_assert(s.edges == NULL && s.counts == NULL, "snapshot left allocated on error");
	}
}
