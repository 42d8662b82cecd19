/* records.c - the encodings of the pending ops' store records
 * (records_int.h): one op, a run ('P') and a group record ('G'), and
 * their decoders, which refuse anything that is not exactly a record.
 * Pure functions: any thread. ledger_group.c builds the records,
 * ledger.c reads them back at start-up.
 */
#include "edge/ledger/ledger_int.h"

#include <stdlib.h>
#include <string.h>

#include "xmem.h"

/* A pending op: [kind u8][n u32][hlc u64][flags u8]
 *               [clen u8][counter][ilen u8][item][ulen u8][user]
 *               and with flag bit 2, [hlen u8][home]
 * flags: bit 0 counts (moves the overlay), bit 1 sum (a sum counter's op;
 * ops written before sums were sealed apart carry 0 there), bit 2 home
 * (the user's home region follows: ops of users with a home). */
#define OP_COUNTS 1
#define OP_SUM 2
#define OP_HOME 4
size_t ledger_op_encode(const pend_op *op, unsigned char *buf)
{
	size_t n = 0;
	buf[n++] = op->kind;
	store_put_u32(buf + n, op->n);
	n += 4;
	store_put_u64(buf + n, op->hlc);
	n += 8;
	buf[n++] = (uint8_t)((op->counts ? OP_COUNTS : 0) | (op->sum ? OP_SUM : 0) |
	                     (op->home ? OP_HOME : 0));
	const char *s[4] = {op->counter, op->item, op->user, op->home};
	for (int i = 0; i < (op->home ? 4 : 3); i++) {
		size_t l = strlen(s[i]);
		buf[n++] = (unsigned char)l;
		memcpy(buf + n, s[i], l);
		n += l;
	}
	return n;
}

pend_op ledger_op_make(const char *counter, const char *item, const char *user, const char *home,
                       size_t cl, size_t il, size_t ul, size_t hl)
{
	pend_op op = {0};
	op.counter = xmalloc(cl + il + ul + 3 + (hl ? hl + 1 : 0));
	memcpy(op.counter, counter, cl);
	op.counter[cl] = 0;
	op.item = op.counter + cl + 1;
	memcpy(op.item, item, il);
	op.item[il] = 0;
	op.user = op.item + il + 1;
	memcpy(op.user, user, ul);
	op.user[ul] = 0;
	if (hl) {
		op.home = op.user + ul + 1;
		memcpy(op.home, home, hl);
		op.home[hl] = 0;
	}
	return op;
}

/* Decodes the op at the start of buf (len bytes); *used gets its length. */
static int op_decode_next(const unsigned char *buf, size_t len, pend_op *op, size_t *used)
{
	if (len < 15 || buf[13] > (OP_COUNTS | OP_SUM | OP_HOME))
		return ERR_CORRUPT;
	size_t n = 14, l[4] = {0};
	const unsigned char *s[4] = {0};
	int strings = buf[13] & OP_HOME ? 4 : 3;
	for (int i = 0; i < strings; i++) {
		if (n >= len)
			return ERR_CORRUPT;
		l[i] = buf[n++];
		if (n + l[i] > len || l[i] == 0)
			return ERR_CORRUPT;
		s[i] = buf + n;
		n += l[i];
	}
	if (buf[0] != WIRE_ADD && buf[0] != WIRE_REMOVE)
		return ERR_CORRUPT;
	if (s[3] && !item_edge_valid((const char *)s[3], l[3]))
		return ERR_CORRUPT;
	*used = n;
	*op = ledger_op_make((const char *)s[0], (const char *)s[1], (const char *)s[2],
	                     (const char *)s[3], l[0], l[1], l[2], l[3]);
	op->kind = buf[0];
	op->n = store_get_u32(buf + 1);
	op->hlc = store_get_u64(buf + 5);
	op->counts = (buf[13] & OP_COUNTS) != 0;
	op->sum = (buf[13] & OP_SUM) != 0;
	return 0;
}

int ledger_op_decode(const unsigned char *buf, size_t len, pend_op *op)
{
	size_t used;
	int rc = op_decode_next(buf, len, op, &used);
	if (rc == 0 && used != len) {
		free(op->counter);
		return ERR_CORRUPT;
	}
	return rc;
}

void ledger_run_head(unsigned char *buf, uint32_t nops)
{
	buf[0] = RUN_FORMAT;
	store_put_u32(buf + 1, nops);
}

/* Decodes n ops from the start of buf, numbered from opno: *ops
 * (malloc'ed) and *used, the bytes they took. */
static int ops_decode(const unsigned char *buf, size_t len, uint64_t opno, uint32_t n,
                      pend_op **ops, size_t *used)
{
	/* Numbers that would run past the last one (ledger_opno_seen gives
	 * that one out never) are a corrupt record's. */
	if (opno >= UINT64_MAX - n)
		return ERR_CORRUPT;
	pend_op *v = xcalloc(n ? n : 1, sizeof *v);
	size_t at = 0;
	for (uint32_t i = 0; i < n; i++) {
		size_t one;
		if (op_decode_next(buf + at, len - at, &v[i], &one)) {
			for (uint32_t j = 0; j < i; j++)
				free(v[j].counter);
			free(v);
			return ERR_CORRUPT;
		}
		v[i].opno = opno + i;
		at += one;
	}
	*ops = v;
	*used = at;
	return 0;
}

static void ops_free(pend_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(ops[i].counter);
	free(ops);
}

int ledger_run_decode(const unsigned char *buf, size_t len, uint64_t opno, pend_op **ops,
                      uint32_t *n)
{
	*ops = NULL;
	*n = 0;
	if (len < RUN_HEAD || buf[0] != RUN_FORMAT)
		return ERR_CORRUPT;
	uint32_t want = store_get_u32(buf + 1);
	if (want == 0 || want > LEDGER_GROUP_OPS)
		return ERR_CORRUPT;
	pend_op *v;
	size_t used;
	if (ops_decode(buf + RUN_HEAD, len - RUN_HEAD, opno, want, &v, &used))
		return ERR_CORRUPT;
	if (RUN_HEAD + used != len) {
		ops_free(v, want);
		return ERR_CORRUPT;
	}
	*ops = v;
	*n = want;
	return 0;
}

int ledger_grec_decode(const unsigned char *buf, size_t len, uint32_t partitions, grec_part **parts,
                       uint32_t *nparts)
{
	*parts = NULL;
	*nparts = 0;
	if (len < GREC_HEAD || buf[0] != GREC_FORMAT)
		return ERR_CORRUPT;
	uint32_t want = store_get_u32(buf + 1);
	if (want == 0 || want > LEDGER_GROUP_OPS || want > partitions)
		return ERR_CORRUPT;
	grec_part *v = xcalloc(want, sizeof *v);
	size_t at = GREC_HEAD;
	uint32_t i = 0, ops = 0;
	for (; i < want; i++) {
		if (len - at < GREC_PART_HEAD)
			break;
		uint32_t p = store_get_u32(buf + at);
		uint64_t opno = store_get_u64(buf + at + 4);
		uint32_t n = store_get_u32(buf + at + 12);
		bool twice = false;
		for (uint32_t j = 0; j < i; j++)
			twice |= v[j].p == p;
		if (p >= partitions || twice || n == 0 || n > LEDGER_GROUP_OPS - ops)
			break;
		at += GREC_PART_HEAD;
		size_t used;
		if (ops_decode(buf + at, len - at, opno, n, &v[i].ops, &used))
			break;
		v[i].p = p;
		v[i].n = n;
		ops += n;
		at += used;
	}
	if (i < want || at != len) {
		ledger_grec_free(v, i);
		return ERR_CORRUPT;
	}
	*parts = v;
	*nparts = want;
	return 0;
}

void ledger_grec_free(grec_part *parts, uint32_t nparts)
{
	for (uint32_t i = 0; parts && i < nparts; i++)
		ops_free(parts[i].ops, parts[i].n);
	free(parts);
}
