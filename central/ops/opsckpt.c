/* opsckpt.c - the ops API's checkpoint stream (GET /v1/checkpoint; see
 * opsapi.h): every count of the partitions asked for, with each one's
 * version and every edge's applied and held sequences there, framed as
 * ckpt.h says, so an edge can build a replica of those counts. With
 * home=REGION it is the home checkpoint instead: that region's index of
 * its users' memberships ('V' keys, keys.h) in those partitions, with
 * each one's version and no edges, so a new edge there can load its
 * users' memberships. With since_ms=T too, the pairs whose winning op is
 * older than T's UTC day (the edge's retention cut, to the day) are left
 * out, and after each partition's pairs its 'G' keys are read, in item
 * then day order, for one like of each item liked before that day
 * (take_day): the edge keeps no pair that old and only needs to know
 * that the item has likes it does not hold (ledger_home_apply marks the
 * item for that one), so the stream carries the edge's window and one
 * entry per item, not every membership ever made, and the job's memory
 * stays the same whatever the number of items.
 *
 * Everything comes from one store view taken when the request arrives:
 * the versions and the edges' entries are read at once (a store error
 * is still a 503), then the 'C' keys (or each asked partition's 'V'
 * keys of the region, one partition after the other) are scanned in key
 * order while the answer streams. Entries (counts or memberships) wait
 * in a buffer per partition and leave as a snapshot message when one
 * holds CKPT_PER_MSG, or when all together hold CKPT_BUFFERED_MAX (then
 * every buffer leaves, so the memory stays bounded whatever the number
 * of partitions), when a home scan is done with a partition, and at the
 * end. The next chunk is made only once the last one has been written
 * to the socket, and a turn that read CKPT_KEYS_PER_TURN keys without
 * filling a message lets the loop run before it reads on (a home scan
 * sends what it has then, an empty message at worst), so one large
 * checkpoint neither fills memory nor holds up the other requests, nor
 * leaves its client without a byte for long. The
 * state is freed when the stream ends or the client goes away.
 *
 * The ops API's thread.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "clock.h"
#include "hlc.h"
#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "central/ops/opsckpt.h"
#include "partition.h"
#include "sbuf.h"
#include "central/apply/shard.h"
#include "xmem.h"

#define CKPT_PER_MSG 4096       /* counts or memberships in one message */
#define CKPT_BUFFERED_MAX 65536 /* entries waiting, all partitions together */
#define CKPT_CHUNK_BYTES 65536
#define CKPT_KEYS_PER_TURN 65536
#define DAY_MS UINT64_C(86400000)

const char *const ops_checkpoint_params[] = {"partitions", "after_counter", "after_item",
                                             "home",       "since_ms",      NULL};

typedef struct ck_edge {
	char name[EDGE_ID_MAX];
	size_t n;
	uint64_t applied, held;
} ck_edge;

/* A count or a membership waiting for its message: its names in the
 * partition's sbuf (counter, item, then a membership's user), and its
 * number (the count, or the membership's hlc). */
typedef struct ck_ent {
	uint32_t off;
	uint8_t cn, in, un;
	bool member;
	uint64_t n;
} ck_ent;

typedef struct ck_part {
	uint64_t version;
	uint64_t index_from; /* home: the 'V' keys hold every change from here */
	ck_edge *edges;
	size_t nedges, edges_cap;
	sbuf names;
	ck_ent *ents;
	size_t nents, ents_cap;
} ck_part;

enum ck_phase {
	CK_SCAN,  /* reading 'C' keys, or a partition's 'V' keys */
	CK_SPILL, /* every buffer leaves, then the scan goes on */
	CK_FLUSH, /* the scan is over: every buffer leaves */
	CK_EDGES, /* one last message per partition */
	CK_DONE,
};

typedef struct ckpt_job {
	const ops_env *env;
	struct evhttp_request *req;
	struct evhttp_connection *con;
	struct event *resume; /* a turn of the loop after one that sent nothing */
	store_snap *sn;
	store_iter *it;
	shard_set want;
	ck_part *parts;                /* env->partitions of them; the wanted ones used */
	wire_count *counts_out;        /* a message's counts (CKPT_PER_MSG) */
	wire_member *members_out;      /* or, for a home checkpoint, its memberships */
	unsigned char after[CKEY_MAX]; /* the scan starts strictly after this key */
	size_t after_len;
	char home[EDGE_ID_MAX]; /* the home checkpoint's region */
	size_t home_n;          /* 0: the counts checkpoint */
	uint32_t scan_p;        /* home: the partition whose 'V' keys it reads */
	uint64_t since_ms;      /* home: older pairs are left out (0: none) */
	store_iter *mark_it;    /* home, CK_EDGES: the 'W' keys of mark_p, or NULL */
	uint32_t mark_p;
	wire_home_mark *marks; /* home: a message's marks (CKPT_PER_MSG) */
	size_t nmarks;
	sbuf mark_names;                       /* their names */
	bool scan_days;                        /* home: reading the partition's 'G' keys */
	char aged[COUNTER_MAX + ITEM_MAX + 2]; /* home: counter 0 item of the last 'G' key */
	size_t aged_n;
	enum ck_phase phase, after_spill;
	uint32_t next_p; /* spill, flush, edges: the next partition */
	size_t buffered; /* entries waiting, all partitions */
	uint64_t as_of, t0;
	uint64_t counts, members, messages, bytes;
	uint64_t old;        /* home: pairs older than the cut's day left out */
	uint64_t aged_sent;  /* home: of the items with likes older than it, one like each */
	uint64_t sent_marks; /* home: where moved users live ('W' keys) */
	bool failed;
} ckpt_job;

static void job_free(ckpt_job *x)
{
	if (x->resume)
		event_free(x->resume);
	store_iter_free(x->it);
	store_snap_free(x->sn);
	for (uint32_t p = 0; x->parts && p < x->env->partitions; p++) {
		free(x->parts[p].edges);
		free(x->parts[p].ents);
		sbuf_free(&x->parts[p].names);
	}
	free(x->parts);
	free(x->counts_out);
	free(x->members_out);
	store_iter_free(x->mark_it);
	free(x->marks);
	sbuf_free(&x->mark_names);
	shard_set_free(&x->want);
	free(x);
}

/* ---- reading the view ---------------------------------------------------- */

static ck_edge *edge_add(ck_part *pt, const char *e, size_t en)
{
	if (pt->nedges == pt->edges_cap) {
		pt->edges_cap = pt->edges_cap ? pt->edges_cap * 2 : 8;
		pt->edges = xrealloc(pt->edges, pt->edges_cap * sizeof *pt->edges);
	}
	ck_edge *ed = &pt->edges[pt->nedges++];
	memcpy(ed->name, e, en);
	ed->n = en;
	ed->applied = ed->held = 0;
	return ed;
}

static ck_edge *edge_find(ck_part *pt, const char *e, size_t en)
{
	for (size_t i = 0; i < pt->nedges; i++)
		if (pt->edges[i].n == en && memcmp(pt->edges[i].name, e, en) == 0)
			return &pt->edges[i];
	return NULL;
}

static int edge_cmp(const void *x, const void *y)
{
	const ck_edge *a = x, *b = y;
	int c = memcmp(a->name, b->name, a->n < b->n ? a->n : b->n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* Every edge's entry of the wanted partitions, as the applier's
 * snapshots carry them: applied from the 'A' key, held the lowest
 * sequence of the 'H' keys (0 without one); an edge with held batches
 * and none applied has applied 0. In order of the edges' names. 0 or a
 * store error. */
static int read_edges(ckpt_job *x)
{
	const char *k, *v, *e;
	size_t kn, vn, en;
	uint32_t p;
	uint64_t seq;
	store_iter *it = store_snap_iter_from(x->sn, ckey_prefix(CKEY_APPLIED), 1, NULL, 0);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (!ckey_parse_edge(k, kn, CKEY_APPLIED, &e, &en, &p, NULL) || vn != 8 ||
		    !item_edge_valid(e, en) || !shard_owns(&x->want, p))
			continue;
		edge_add(&x->parts[p], e, en)->applied = store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	/* H keys sort by edge, partition, then sequence: the first of each
	 * (edge, partition) is its lowest. */
	it = store_snap_iter_from(x->sn, ckey_prefix(CKEY_HELD), 1, NULL, 0);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (!ckey_parse_edge(k, kn, CKEY_HELD, &e, &en, &p, &seq) ||
		    !item_edge_valid(e, en) || !shard_owns(&x->want, p))
			continue;
		ck_edge *ed = edge_find(&x->parts[p], e, en);
		if (!ed)
			ed = edge_add(&x->parts[p], e, en);
		if (!ed->held || seq < ed->held)
			ed->held = seq;
	}
	rc = store_iter_status(it);
	store_iter_free(it);
	for (uint32_t q = 0; q < x->env->partitions; q++)
		if (x->parts[q].nedges > 1)
			qsort(x->parts[q].edges, x->parts[q].nedges, sizeof *x->parts[q].edges,
			      edge_cmp);
	return rc;
}

/* Partition p's version from which the view's 'V' keys hold every
 * change (keys.h): 0 when they hold every change from the start. */
static int read_index_from(store_snap *sn, uint32_t p, uint64_t *from)
{
	unsigned char key[CKEY_HOME_FROM_LEN];
	int rc = store_snap_read_u64(sn, key, ckey_home_from(key, p), from);
	if (rc == ERR_NOTFOUND) {
		*from = 0;
		rc = 0;
	}
	return rc;
}

/* ---- messages ------------------------------------------------------------ */

/* Appends one frame of s to out; false (logged) when it cannot be made. */
static bool put_frame(ckpt_job *x, struct evbuffer *out, const wire_snapshot *s)
{
	char *f;
	size_t n;
	int rc = ckpt_frame_put(s, &f, &n);
	if (rc) {
		log_error("checkpoint message cannot be encoded; the stream is cut short",
		          "partition=%u counts=%u members=%u edges=%u err=\"%s\"", s->partition,
		          s->ncounts, s->nmembers, s->nedges, err_str(rc));
		x->failed = true;
		return false;
	}
	evbuffer_add(out, f, n);
	free(f);
	x->messages++;
	x->bytes += n;
	return true;
}

static void snapshot_of(const ckpt_job *x, uint32_t p, wire_snapshot *s)
{
	memset(s, 0, sizeof *s);
	const char *id = x->env->instance_id;
	s->source = wire_cstr(id, strlen(id));
	s->partition = p;
	s->offset = x->parts[p].version;
	s->produced_ms = x->as_of;
}

/* The entries waiting in p's buffer, as one message (l = false): counts,
 * or the memberships of a home checkpoint. */
static void emit_entries(ckpt_job *x, uint32_t p, struct evbuffer *out)
{
	ck_part *pt = &x->parts[p];
	wire_snapshot s;
	snapshot_of(x, p, &s);
	for (size_t i = 0; i < pt->nents; i++) {
		const ck_ent *e = &pt->ents[i];
		const char *c = pt->names.p + e->off, *item = c + e->cn;
		wire_str cs = wire_cstr(c, e->cn), is = wire_cstr(item, e->in);
		if (x->home_n)
			x->members_out[i] =
			    (wire_member){cs, is, wire_cstr(item + e->in, e->un), e->member, e->n};
		else
			x->counts_out[i] = (wire_count){cs, is, e->n};
	}
	uint32_t n = (uint32_t)pt->nents;
	if (x->home_n) {
		s.members = x->members_out;
		s.nmembers = n;
	} else {
		s.counts = x->counts_out;
		s.ncounts = n;
	}
	if (put_frame(x, out, &s)) {
		if (x->home_n)
			x->members += n;
		else
			x->counts += n;
	}
	x->buffered -= pt->nents;
	pt->nents = 0;
	pt->names.len = 0;
}

/* Home: reads up to CKPT_PER_MSG marks of where users a move named in
 * x->mark_p live ('W' keys, from the view, x->mark_it) into x->marks,
 * their names in x->mark_names; true once the partition's keys are all
 * read. A value that does not parse is skipped (apply_move.c logs it
 * where it is read). */
static bool read_marks(ckpt_job *x)
{
	const char *k, *v;
	size_t kn, vn;
	size_t offs[2 * CKPT_PER_MSG];
	x->nmarks = 0;
	x->mark_names.len = 0;
	bool ended = true;
	while (store_iter_next(x->mark_it, &k, &kn, &v, &vn)) {
		const char *user, *home;
		size_t un, hn, n = x->nmarks;
		uint32_t kp;
		uint64_t since;
		if (!ckey_parse_where(k, kn, &kp, &user, &un) || kp != x->mark_p ||
		    !item_user_valid(user, un) ||
		    !ckey_parse_where_value(v, vn, &since, &home, &hn) ||
		    !item_edge_valid(home, hn))
			continue;
		offs[2 * n] = x->mark_names.len;
		sbuf_add(&x->mark_names, user, un);
		offs[2 * n + 1] = x->mark_names.len;
		sbuf_add(&x->mark_names, home, hn);
		x->marks[n] = (wire_home_mark){{NULL, (uint32_t)un}, {NULL, (uint32_t)hn}, since};
		if (++x->nmarks == CKPT_PER_MSG) {
			ended = false;
			break;
		}
	}
	if (store_iter_status(x->mark_it)) {
		log_error("checkpoint: a partition's moves could not be read; the stream is cut "
		          "short",
		          "partition=%u", x->mark_p);
		x->failed = true;
	}
	for (size_t i = 0; i < x->nmarks; i++) {
		x->marks[i].user.p = x->mark_names.p + offs[2 * i];
		x->marks[i].home.p = x->mark_names.p + offs[2 * i + 1];
	}
	x->sent_marks += x->nmarks;
	return ended;
}

/* p's last message: no counts, every edge's entry (l = true; a home
 * checkpoint read no edges, so its last messages have none, but the
 * last marks of the partition's moved users, x->marks). */
static void emit_last(ckpt_job *x, uint32_t p, struct evbuffer *out)
{
	ck_part *pt = &x->parts[p];
	wire_snapshot s;
	snapshot_of(x, p, &s);
	s.last = true;
	if (x->home_n) {
		s.marks = x->marks;
		s.nmarks = (uint32_t)x->nmarks;
	}
	wire_edge_seq *es = xcalloc(pt->nedges ? pt->nedges : 1, sizeof *es);
	for (size_t i = 0; i < pt->nedges; i++)
		es[i] = (wire_edge_seq){wire_cstr(pt->edges[i].name, pt->edges[i].n),
		                        pt->edges[i].applied, pt->edges[i].held};
	s.edges = es;
	s.nedges = (uint32_t)pt->nedges;
	s.index_from = pt->index_from;
	if (!x->failed)
		put_frame(x, out, &s);
	free(es);
}

/* Home, CK_EDGES: one step of partition x->mark_p's moves: a message of
 * CKPT_PER_MSG marks (l = false), or, once they are all read, its last
 * message with the rest. Each step reads one message's worth, so a
 * partition with many moved users neither holds up the loop nor fills
 * memory. */
static void step_marks(ckpt_job *x, struct evbuffer *out)
{
	if (!read_marks(x)) {
		wire_snapshot s;
		snapshot_of(x, x->mark_p, &s);
		s.marks = x->marks;
		s.nmarks = (uint32_t)x->nmarks;
		put_frame(x, out, &s);
		return;
	}
	emit_last(x, x->mark_p, out);
	store_iter_free(x->mark_it);
	x->mark_it = NULL;
}

/* Buffers e, whose names are c, item and user (e's lengths; the user
 * empty for a count), in p's buffer; p's buffer leaves when full, every
 * buffer when all together hold CKPT_BUFFERED_MAX. */
static void put_entry(ckpt_job *x, uint32_t p, ck_ent e, const char *c, const char *item,
                      const char *user, struct evbuffer *out)
{
	ck_part *pt = &x->parts[p];
	if (pt->nents == pt->ents_cap) {
		pt->ents_cap = pt->ents_cap ? pt->ents_cap * 2 : 64;
		if (pt->ents_cap > CKPT_PER_MSG)
			pt->ents_cap = CKPT_PER_MSG;
		pt->ents = xrealloc(pt->ents, pt->ents_cap * sizeof *pt->ents);
	}
	e.off = (uint32_t)pt->names.len;
	pt->ents[pt->nents++] = e;
	sbuf_add(&pt->names, c, e.cn);
	sbuf_add(&pt->names, item, e.in);
	sbuf_add(&pt->names, user, e.un);
	x->buffered++;
	if (pt->nents == CKPT_PER_MSG) {
		emit_entries(x, p, out);
	} else if (x->buffered >= CKPT_BUFFERED_MAX) {
		x->after_spill = CK_SCAN;
		x->phase = CK_SPILL;
		x->next_p = 0;
	}
}

/* Buffers the count under C key k (kn bytes, value v), or skips a key
 * that does not parse or is of a partition not asked for. */
static void take_count(ckpt_job *x, const char *k, size_t kn, const char *v, size_t vn,
                       struct evbuffer *out)
{
	const char *c, *item;
	size_t cn, in;
	if (kn == x->after_len && memcmp(k, x->after, kn) == 0)
		return; /* strictly after it */
	if (!ckey_parse_count(k, kn, &c, &cn, &item, &in) || vn != 8 ||
	    !item_counter_valid(c, cn) || !item_valid(item, in))
		return;
	uint32_t p = partition_of(item, in, x->env->partitions);
	if (!shard_owns(&x->want, p))
		return;
	ck_ent e = {.cn = (uint8_t)cn, .in = (uint8_t)in};
	e.n = store_get_u64((const unsigned char *)v);
	put_entry(x, p, e, c, item, "", out);
}

/* The start of the UTC day of wall ms t. */
static uint64_t day_start(uint64_t t)
{
	return t - t % DAY_MS;
}

/* Buffers the membership under V key k (kn bytes, value v) of the
 * partition being scanned, or skips a key or value that does not parse
 * or holds a name that is not valid (a store a bug wrote into: the
 * edge would refuse the whole message for it). */
static void take_member(ckpt_job *x, const char *k, size_t kn, const char *v, size_t vn,
                        struct evbuffer *out)
{
	const char *r, *c, *item, *user;
	size_t rn, cn, in, un;
	uint32_t p;
	ck_ent e = {0};
	bool unhomed;
	if (!ckey_parse_home(k, kn, &r, &rn, &p, &user, &un, &c, &cn, &item, &in) ||
	    p != x->scan_p || !item_counter_valid(c, cn) || !item_valid(item, in) ||
	    !item_user_valid(user, un) ||
	    !ckey_parse_home_value_as(v, vn, &e.member, &unhomed, &e.n))
		return;
	if (unhomed)
		return; /* a user who has no home here (yet): a move brings it */
	e.cn = (uint8_t)cn;
	e.in = (uint8_t)in;
	e.un = (uint8_t)un;
	if (x->since_ms && hlc_ms(e.n) < day_start(x->since_ms)) {
		x->old++;
		return;
	}
	put_entry(x, p, e, c, item, user, out);
}

/* Buffers, from the 'G' key k (value v) of the partition being scanned,
 * one like of an item whose oldest like there is from a day before the
 * cut's: an item's keys sort by day, so that is its first key. Keys of
 * the same item after it, of an item liked first on the cut's day or
 * later (the 'V' scan sent its pairs from that day's start), or that do
 * not parse, are skipped. */
static void take_day(ckpt_job *x, const char *k, size_t kn, const char *v, size_t vn,
                     struct evbuffer *out)
{
	const char *r, *c, *item;
	size_t rn, cn, in;
	uint32_t p, day;
	if (!ckey_parse_home_day(k, kn, &r, &rn, &p, &c, &cn, &item, &in, &day) || p != x->scan_p ||
	    !item_counter_valid(c, cn) || !item_valid(item, in))
		return;
	size_t n = cn + 1 + in;
	if (n == x->aged_n && memcmp(x->aged, c, n) == 0)
		return; /* not the item's oldest day */
	memcpy(x->aged, c, n);
	x->aged_n = n;
	if ((uint64_t)day * DAY_MS >= day_start(x->since_ms) || vn <= 8 ||
	    !item_user_valid(v + 8, vn - 8))
		return;
	ck_ent e = {.cn = (uint8_t)cn, .in = (uint8_t)in, .un = (uint8_t)(vn - 8), .member = true};
	e.n = store_get_u64((const unsigned char *)v);
	x->aged_sent++;
	put_entry(x, p, e, c, item, v + 8, out);
}

/* Home: opens the scan of the region's 'V' keys in the first wanted
 * partition from x->scan_p on; false when none is left. */
static bool open_home_scan(ckpt_job *x)
{
	store_iter_free(x->it);
	x->it = NULL;
	x->scan_days = false;
	for (; x->scan_p < x->want.nparts; x->scan_p++) {
		if (!shard_owns(&x->want, x->scan_p))
			continue;
		unsigned char pre[CKEY_MAX];
		size_t pn = ckey_home_prefix(pre, x->home, x->home_n, x->scan_p);
		x->it = store_snap_iter_from(x->sn, pre, pn, NULL, 0);
		return true;
	}
	return false;
}

/* The scan ran out of keys: a home checkpoint sends what it buffered of
 * the partition just read (its messages then stay together) and goes on
 * with the next one; true while there is one. */
static bool scan_next_part(ckpt_job *x, struct evbuffer *out)
{
	if (!x->home_n)
		return false;
	if (x->since_ms && !x->scan_days) {
		/* The partition's pairs are read: now its items' oldest days. */
		store_iter_free(x->it);
		unsigned char pre[CKEY_MAX];
		size_t pn = ckey_home_day_prefix(pre, x->home, x->home_n, x->scan_p);
		x->it = store_snap_iter_from(x->sn, pre, pn, NULL, 0);
		x->scan_days = true;
		x->aged_n = 0;
		return true;
	}
	if (x->parts[x->scan_p].nents)
		emit_entries(x, x->scan_p, out);
	x->scan_p++;
	return open_home_scan(x);
}

/* The next wanted partition from x->next_p on (with entries waiting when
 * waiting is set), or false when none is left. */
static bool next_part(ckpt_job *x, bool waiting, uint32_t *p)
{
	for (; x->next_p < x->want.nparts; x->next_p++)
		if (shard_owns(&x->want, x->next_p) && (!waiting || x->parts[x->next_p].nents)) {
			*p = x->next_p++;
			return true;
		}
	return false;
}

/* One step of the stream into out. False when the turn should end
 * because its key budget is spent. */
static bool step(ckpt_job *x, struct evbuffer *out, size_t *budget)
{
	const char *k, *v;
	size_t kn, vn;
	uint32_t p;
	switch (x->phase) {
	case CK_SCAN:
		if (!*budget)
			return false;
		--*budget;
		if (store_iter_next(x->it, &k, &kn, &v, &vn)) {
			if (x->home_n && x->scan_days)
				take_day(x, k, kn, v, vn, out);
			else if (x->home_n)
				take_member(x, k, kn, v, vn, out);
			else
				take_count(x, k, kn, v, vn, out);
			break;
		}
		if (store_iter_status(x->it)) {
			log_error("checkpoint stopped on a store error; the stream is cut short",
			          "counts=%" PRIu64 " members=%" PRIu64, x->counts, x->members);
			x->failed = true;
			break;
		}
		if (scan_next_part(x, out))
			break;
		x->phase = CK_FLUSH;
		x->next_p = 0;
		break;
	case CK_SPILL:
	case CK_FLUSH:
		if (next_part(x, true, &p)) {
			emit_entries(x, p, out);
			break;
		}
		x->phase = x->phase == CK_SPILL ? x->after_spill : CK_EDGES;
		x->next_p = 0;
		break;
	case CK_EDGES:
		if (x->mark_it) {
			step_marks(x, out);
			break;
		}
		if (next_part(x, false, &p)) {
			if (x->home_n) { /* its moves first, then its last message */
				unsigned char pre[5];
				x->mark_p = p;
				x->mark_it = store_snap_iter_from(
				    x->sn, pre, ckey_where(pre, p, "", 0), NULL, 0);
			} else {
				emit_last(x, p, out);
			}
			break;
		}
		evbuffer_add(out, ckpt_end_frame, sizeof ckpt_end_frame);
		x->bytes += sizeof ckpt_end_frame;
		x->phase = CK_DONE;
		break;
	case CK_DONE: break;
	}
	return true;
}

/* ---- the stream ---------------------------------------------------------- */

static void ckpt_more(ckpt_job *x);

static void on_written(struct evhttp_connection *con, void *arg)
{
	(void)con;
	ckpt_more(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ckpt_more(arg);
}

/* The connection went away mid-stream: the request is gone with it. */
static void on_closed(struct evhttp_connection *con, void *arg)
{
	(void)con;
	ckpt_job *x = arg;
	log_warn("checkpoint stopped: the client went away",
	         "home=\"%.*s\" counts=%" PRIu64 " members=%" PRIu64 " messages=%" PRIu64
	         " bytes=%" PRIu64 " ms=%" PRIu64,
	         (int)x->home_n, x->home, x->counts, x->members, x->messages, x->bytes,
	         clock_mono_ms() - x->t0);
	ops_stream_gone(x->req);
	job_free(x);
}

/* Makes and sends the next chunk; called again once it has been written,
 * or on the next turn of the loop when it made nothing. */
static void ckpt_more(ckpt_job *x)
{
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	size_t budget = CKPT_KEYS_PER_TURN;
	while (evbuffer_get_length(out) < CKPT_CHUNK_BYTES && x->phase != CK_DONE && !x->failed)
		if (!step(x, out, &budget))
			break;
	/* A home scan with since_ms may read many keys and keep none (old
	 * pairs of a few items): a turn's keys that made nothing send what
	 * the partition has so far, an empty message at worst, so the edge
	 * never waits longer than a turn for a byte and its read timeout
	 * does not cut a load that is going on. */
	if (!budget && x->home_n && x->phase == CK_SCAN && !x->failed && !evbuffer_get_length(out))
		emit_entries(x, x->scan_p, out);
	if (x->phase != CK_DONE && !x->failed) {
		if (evbuffer_get_length(out)) {
			evhttp_send_reply_chunk_with_cb(x->req, out, on_written, x);
		} else {
			static const struct timeval now = {0, 0};
			event_add(x->resume, &now);
		}
		evbuffer_free(out);
		return;
	}
	if (evbuffer_get_length(out))
		evhttp_send_reply_chunk(x->req, out);
	evbuffer_free(out);
	evhttp_connection_set_closecb(x->con, NULL, NULL);
	evhttp_send_reply_end(x->req);
	if (!x->failed) {
		char parts[256];
		shard_set_format(&x->want, parts, sizeof parts);
		log_info("checkpoint sent",
		         "partitions=\"%s\" home=\"%.*s\" counts=%" PRIu64 " members=%" PRIu64
		         " old_left_out=%" PRIu64 " old_items=%" PRIu64 " moved_users=%" PRIu64
		         " messages=%" PRIu64 " bytes=%" PRIu64 " ms=%" PRIu64,
		         parts, (int)x->home_n, x->home, x->counts, x->members, x->old,
		         x->aged_sent, x->sent_marks, x->messages, x->bytes,
		         clock_mono_ms() - x->t0);
	}
	job_free(x);
}

/* ---- the route ----------------------------------------------------------- */

/* since_ms: a wall time in ms, digits only; false when it is not. */
static bool parse_since(const char *q, uint64_t *out)
{
	size_t n = strlen(q);
	if (!n || n > 15 || strspn(q, "0123456789") != n)
		return false;
	*out = strtoull(q, NULL, 10);
	return true;
}

/* Checks home (the home checkpoint's region, NULL for counts) and since
 * (its retention cut, NULL for none) into x; false after an error
 * answer. */
static bool parse_home(struct evhttp_request *req, const char *home, const char *since, bool after,
                       ckpt_job *x)
{
	if (since && !home) {
		ops_reply_error(req, 400, "bad_request", "since_ms goes with home only");
		return false;
	}
	if (since && !parse_since(since, &x->since_ms)) {
		ops_reply_error(req, 400, "bad_request",
		                "since_ms must be a wall time in milliseconds, digits only");
		return false;
	}
	if (!home)
		return true;
	size_t hn = strlen(home);
	if (after) {
		/* A home load restarts from the start: its memberships apply
		 * last-writer-wins, so a second pass over them is harmless. */
		ops_reply_error(req, 400, "bad_request",
		                "after_counter and after_item do not go with home");
		return false;
	}
	if (!item_edge_valid(home, hn)) {
		ops_reply_error(req, 400, "bad_request",
		                "home must be a region name [a-z0-9_-]{1,%d}", EDGE_ID_MAX);
		return false;
	}
	memcpy(x->home, home, hn);
	x->home_n = hn;
	return true;
}

/* Checks the query into x (want, after, home); false after an error
 * answer. */
static bool parse_request(const ops_env *env, struct evhttp_request *req, const query *kv,
                          ckpt_job *x)
{
	const char *list = query_get(kv, "partitions");
	const char *ac = query_get(kv, "after_counter");
	const char *ai = query_get(kv, "after_item");
	const char *home = query_get(kv, "home");
	const char *since = query_get(kv, "since_ms");
	char err[256];
	if (!list || shard_set_parse(&x->want, list, env->partitions, err, sizeof err)) {
		ops_reply_error(req, 400, "bad_request",
		                "partitions must be all, or partitions and ranges N-M below %u, "
		                "each once",
		                env->partitions);
		return false;
	}
	for (uint32_t p = 0; p < x->want.nparts; p++)
		if (shard_owns(&x->want, p) && !shard_owns(env->owned, p)) {
			ops_reply_not_owner_partition(req, p);
			return false;
		}
	if (!ac != !ai) {
		ops_reply_error(req, 400, "bad_request",
		                "after_counter and after_item go together");
		return false;
	}
	if (ac) {
		size_t cn = strlen(ac), in = strlen(ai);
		if (!item_counter_valid(ac, cn) || !item_valid(ai, in)) {
			ops_reply_error(req, 400, "bad_request",
			                "after_counter must be a counter name [a-z0-9_]{1,%d} and "
			                "after_item an item type:id",
			                COUNTER_MAX);
			return false;
		}
		x->after_len = ckey_count(x->after, ac, cn, ai, in);
	}
	return parse_home(req, home, since, ac != NULL, x);
}

void ops_route_checkpoint(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	if (!con) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	ckpt_job *x = xcalloc(1, sizeof *x);
	x->env = env;
	sbuf_init(&x->mark_names);
	x->req = req;
	x->con = con;
	x->t0 = clock_mono_ms();
	if (!parse_request(env, req, kv, x)) {
		job_free(x);
		return;
	}
	x->sn = store_snap_new(env->db);
	x->as_of = clock_wall_ms();
	x->parts = xcalloc(env->partitions ? env->partitions : 1, sizeof *x->parts);
	int rc = 0;
	for (uint32_t p = 0; p < env->partitions && !rc; p++) {
		sbuf_init(&x->parts[p].names);
		if (shard_owns(&x->want, p))
			rc = applier_view_version(x->sn, p, &x->parts[p].version);
		if (!rc && x->home_n && shard_owns(&x->want, p))
			rc = read_index_from(x->sn, p, &x->parts[p].index_from);
	}
	if (!rc && !x->home_n)
		rc = read_edges(x);
	x->resume = evtimer_new(evhttp_connection_get_base(con), on_resume, x);
	if (rc || !x->resume) {
		ops_reply_error(req, 503, "store_error", "the store could not be read");
		job_free(x);
		return;
	}
	x->phase = CK_SCAN;
	if (x->home_n) {
		x->members_out = xcalloc(CKPT_PER_MSG, sizeof *x->members_out);
		x->marks = xcalloc(CKPT_PER_MSG, sizeof *x->marks);
		if (!open_home_scan(x))
			x->phase = CK_FLUSH; /* no partition to read */
	} else {
		x->counts_out = xcalloc(CKPT_PER_MSG, sizeof *x->counts_out);
		x->it = store_snap_iter_from(x->sn, ckey_prefix(CKEY_COUNT), 1,
		                             x->after_len ? x->after : NULL, x->after_len);
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/octet-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(con, on_closed, x);
	ckpt_more(x);
}
