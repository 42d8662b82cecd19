/* bootstrap.c - central's checkpoints into the replica (bootstrap.h).
 *
 * Owns its thread, the mutex and condition it sleeps on, and the stats.
 * The checkpoint's body goes from hclient into a FILE made with
 * fopencookie, unbuffered, whose write function feeds the frame reader
 * (ckpt.h): each whole message is applied to the ledger as it arrives,
 * and an error there (a store failure, or stopping) fails the write, which
 * ends the request.
 */
#include "edge/upstream/bootstrap.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "clock.h"
#include "hclient.h"
#include "item.h"
#include "log.h"
#include "partition.h"
#include "sbuf.h"
#include "tsa.h"
#include "version.h"
#include "xmem.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define IDLE_MS 1000
#define BOOT_SLICE 256 /* counts loaded under one hold of the ledger's lock */
#define AGAIN_MS 2     /* a membership an op not yet written holds: asked again */
#define AGAIN_MAX 2500 /* times, before the load fails and is retried whole */

struct bootstrap {
	ledger *lg;
	const shard_map *map;
	homes *homes; /* NULL: the home stream is not followed */
	char *token;
	unsigned timeout_ms;
	pthread_t thread;
	bool started;
	tsa_mutex mu;
	pthread_cond_t cond;
	bool kicked;
	atomic_bool stop;
	tsa_mutex st_mu;
	bootstrap_stats st;
	/* The bootstrap thread's: partitions whose memberships a load has
	 * brought once (a later load follows a gap, into records of its own). */
	bool home_loaded[PARTITION_MAX];
};

/* One request: the partitions asked for and the load each belongs to. */
typedef struct load {
	bootstrap *b;
	bool home; /* the region's memberships (homes.h), not counts */
	bool want[PARTITION_MAX];
	uint32_t gen[PARTITION_MAX];
	bool last[PARTITION_MAX];     /* home: the partition's last message came */
	uint64_t from[PARTITION_MAX]; /* home: central's index holds every change from */
	int64_t mark[PARTITION_MAX];  /* home: the least offset of a version taken */
	uint64_t wall_ms;             /* home: the wall clock since_ms was taken at */
	uint64_t skipped;             /* home: entries not valid or of another partition */
	bool ended;                   /* the stream's end frame came */
	int rc;                       /* the first ledger error, which ends the request */
	uint64_t messages, counts, members, bytes;
	ckpt_reader rd;
	ledger_home_pos *pos; /* home: every partition's position unchanged */
	ledger_home_ev ev[BOOT_SLICE];
	char names[BOOT_SLICE][COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
} load;

static void stat_add(bootstrap *b, const load *ld, bool failed)
{
	tsa_lock(&b->st_mu);
	b->st.requests++;
	b->st.failures += failed;
	b->st.messages += ld->messages;
	b->st.counts += ld->counts;
	b->st.members += ld->members;
	b->st.bytes += ld->bytes;
	tsa_unlock(&b->st_mu);
}

static int apply_slice(load *ld, uint32_t k);

/* Puts n memberships of partition p into the store, as the home stream
 * would (last writer wins); those that are not valid or not of p are
 * skipped. A pair an op not yet written holds is asked again shortly. */
static int put_members(load *ld, uint32_t p, const wire_member *m, uint32_t n)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!item_counter_valid(m[i].counter.p, m[i].counter.n) ||
		    !item_valid(m[i].item.p, m[i].item.n) ||
		    !item_user_valid(m[i].user.p, m[i].user.n) ||
		    partition_of(m[i].item.p, m[i].item.n, ld->b->map->partitions) != p) {
			ld->skipped++;
			continue;
		}
		char *at = ld->names[k];
		ledger_home_ev *e = &ld->ev[k++];
		e->counter = at;
		at +=
		    snprintf(at, COUNTER_MAX + 2, "%.*s", (int)m[i].counter.n, m[i].counter.p) + 1;
		e->item = at;
		at += snprintf(at, ITEM_MAX + 2, "%.*s", (int)m[i].item.n, m[i].item.p) + 1;
		e->user = at;
		snprintf(at, USER_MAX + 1, "%.*s", (int)m[i].user.n, m[i].user.p);
		e->member = m[i].member;
		e->hlc = m[i].hlc;
	}
	return apply_slice(ld, k);
}

/* Puts n marks of partition p (where moved users live) into the store,
 * as the home stream's moves would; those not valid are skipped. */
static int put_marks(load *ld, uint32_t p, const wire_home_mark *m, uint32_t n)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!item_user_valid(m[i].user.p, m[i].user.n) ||
		    !item_edge_valid(m[i].home.p, m[i].home.n)) {
			ld->skipped++;
			continue;
		}
		char *at = ld->names[k];
		ledger_home_ev *e = &ld->ev[k++];
		*e = (ledger_home_ev){.user = at, .since_ms = m[i].since_ms, .partition = p};
		at += snprintf(at, USER_MAX + 2, "%.*s", (int)m[i].user.n, m[i].user.p) + 1;
		e->home = at;
		snprintf(at, EDGE_ID_MAX + 1, "%.*s", (int)m[i].home.n, m[i].home.p);
	}
	return apply_slice(ld, k);
}

/* ld->ev[0..k) into the ledger, asked again while an op not yet written
 * holds one of their pairs. */
static int apply_slice(load *ld, uint32_t k)
{
	size_t taken;
	int rc = ERR_AGAIN;
	for (int tries = 0; rc == ERR_AGAIN && tries < AGAIN_MAX && !atomic_load(&ld->b->stop);
	     tries++) {
		/* Never a cut before the one central was asked for, should the
		 * clock step back during the load. */
		uint64_t now = clock_wall_ms(), wall = now > ld->wall_ms ? now : ld->wall_ms;
		rc = ledger_home_apply(ld->b->lg, ld->ev, k, ld->pos, wall, &taken);
		if (rc == ERR_AGAIN) {
			struct timespec ts = {0, AGAIN_MS * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return rc;
}

/* The length of the slice of n entries that starts at entry at. */
static uint32_t slice_at(uint32_t n, uint32_t at)
{
	return n - at < BOOT_SLICE ? n - at : BOOT_SLICE;
}

/* One message of a home checkpoint: memberships, or p's last. */
static int on_members(load *ld, const wire_snapshot *s)
{
	if (s->ncounts || s->nedges) {
		/* A central from before home checkpoints sends counts. */
		log_warn("home checkpoint refused: it carries counts; central must be upgraded "
		         "before its edges",
		         "partition=%u", s->partition);
		return ld->rc = ERR_CORRUPT;
	}
	if ((int64_t)(s->offset & VERSION_OFFSET_MAX) < ld->mark[s->partition]) {
		/* This central has not applied every op made before the
		 * stream's position was taken: another may have, or it will. */
		log_warn("home checkpoint behind the batch topic; asking again",
		         "partition=%u version_offset=%" PRIu64 " needed=%" PRId64, s->partition,
		         s->offset & VERSION_OFFSET_MAX, ld->mark[s->partition]);
		return ld->rc = ERR_AGAIN;
	}
	/* In slices of BOOT_SLICE, as counts are (on_message). */
	int rc = 0;
	for (uint32_t i = 0; !rc && i < s->nmembers; i += BOOT_SLICE)
		rc = put_members(ld, s->partition, s->members + i, slice_at(s->nmembers, i));
	for (uint32_t i = 0; !rc && i < s->nmarks; i += BOOT_SLICE)
		rc = put_marks(ld, s->partition, s->marks + i, slice_at(s->nmarks, i));
	if (rc) {
		ld->rc = rc;
		return rc;
	}
	ld->messages++;
	ld->members += s->nmembers;
	if (s->last) {
		ld->last[s->partition] = true;
		ld->from[s->partition] = s->index_from;
	}
	return 0;
}

/* The frame reader's callback: one checkpoint message. */
static int on_message(void *ctx, const wire_snapshot *s)
{
	load *ld = ctx;
	if (s->partition >= PARTITION_MAX || !ld->want[s->partition])
		return 0; /* not asked for, or its load started again */
	if (ld->home)
		return on_members(ld, s);
	/* In slices of BOOT_SLICE counts: each holds the ledger's lock, which
	 * the edge's requests wait for, for a store read and write per count. */
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i + BOOT_SLICE < s->ncounts; i += BOOT_SLICE) {
		wire_snapshot part = *s;
		part.counts = s->counts + i;
		part.ncounts = BOOT_SLICE;
		part.last = false;
		part.nedges = 0;
		rc = ledger_replica_apply(ld->b->lg, &part, ld->gen[s->partition]);
	}
	if (rc == 0) {
		wire_snapshot rest = *s;
		uint32_t done = s->ncounts ? (s->ncounts - 1) / BOOT_SLICE * BOOT_SLICE : 0;
		rest.counts = s->counts + done;
		rest.ncounts = s->ncounts - done;
		rc = ledger_replica_apply(ld->b->lg, &rest, ld->gen[s->partition]);
	}
	if (rc == ERR_AGAIN) {
		ld->want[s->partition] = false;
		return 0;
	}
	if (rc) {
		ld->rc = rc;
		return rc;
	}
	ld->messages++;
	ld->counts += s->ncounts;
	return 0;
}

static int on_end(void *ctx)
{
	((load *)ctx)->ended = true;
	return 0;
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t len)
{
	load *ld = cookie;
	if (atomic_load(&ld->b->stop))
		return -1;
	ld->bytes += len;
	int rc = ckpt_reader_feed(&ld->rd, buf, len, on_message, on_end, ld);
	if (rc) {
		if (!ld->rc)
			ld->rc = rc;
		return -1;
	}
	return (ssize_t)len;
}

/* "host:port" or "[v6]:port" into host and port. */
static int split_addr(const char *addr, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return ERR_INVAL;
	const char *h = addr;
	size_t hl = (size_t)(colon - addr);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (!hl || hl >= cap)
		return ERR_INVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536 ? 0 : ERR_INVAL;
}

/* Asks addr for the partitions in ld (path built by the caller). 0 when
 * the whole stream came and loaded. */
static int fetch(bootstrap *b, load *ld, const char *addr, const char *path)
{
	char host[256], err[256] = "";
	int port;
	if (split_addr(addr, host, sizeof host, &port))
		return ERR_INVAL;
	cookie_io_functions_t io = {.write = cookie_write};
	FILE *f = fopencookie(ld, "w", io);
	if (!f)
		return ERR_IO;
	setvbuf(f, NULL, _IONBF, 0);
	ckpt_reader_init(&ld->rd);
	ld->ended = false;
	ld->rc = 0;
	memset(ld->last, 0, sizeof ld->last);
	hclient_req r = {.host = host,
	                 .port = port,
	                 .method = "GET",
	                 .path = path,
	                 .token = b->token,
	                 .stream = f,
	                 .timeout_ms = b->timeout_ms,
	                 .max_body = 1 << 16};
	hclient_answer a;
	int rc = hclient_do(&r, &a, err, sizeof err);
	fclose(f);
	ckpt_reader_free(&ld->rd);
	if (rc == 0 && a.status != 200) {
		log_warn("checkpoint refused", "central=%s status=%d body=\"%.200s\"", addr,
		         a.status, a.body ? a.body : "");
		rc = ERR_AGAIN;
	} else if (rc == 0 && !ld->ended) {
		snprintf(err, sizeof err, "the stream ended before its end frame");
		rc = ERR_IO;
	}
	free(a.body);
	if (rc && ld->rc)
		rc = ld->rc;
	if (rc && err[0])
		log_warn(ld->home ? "home checkpoint cut off; it starts again"
		                  : "checkpoint cut off; it resumes where it stopped",
		         "central=%s counts=%" PRIu64 " members=%" PRIu64 " err=\"%s\"", addr,
		         ld->counts, ld->members, err);
	return rc;
}

/* Asks shard s's addresses in turn (primary first) for path until one
 * sends the whole stream into ld. 0, or the last address's error. */
static int ask_shard(bootstrap *b, size_t s, load *ld, const char *path)
{
	const shard_entry *se = &b->map->shards[s];
	const char *what = ld->home ? "memberships" : "counts";
	uint64_t t0 = clock_mono_ms();
	int rc = ERR_AGAIN;
	for (size_t i = 0; i < se->naddrs && rc && rc != ERR_FENCED && !atomic_load(&b->stop);
	     i++) {
		log_info("checkpoint asked", "central=%s path=\"%s\"", se->addrs[i], path);
		rc = fetch(b, ld, se->addrs[i], path);
		stat_add(b, ld, rc != 0);
		if (rc == 0) {
			uint64_t ms = clock_mono_ms() - t0;
			tsa_lock(&b->st_mu);
			if (ld->home)
				b->st.members_ms = ms;
			else
				b->st.last_ms = ms;
			tsa_unlock(&b->st_mu);
			log_info("checkpoint loaded",
			         "central=%s of=%s messages=%" PRIu64 " counts=%" PRIu64
			         " members=%" PRIu64 " bytes=%" PRIu64 " ms=%" PRIu64,
			         se->addrs[i], what, ld->messages, ld->counts, ld->members,
			         ld->bytes, ms);
		}
		ld->messages = ld->counts = ld->members = ld->bytes = 0;
	}
	return rc;
}

/* Loads every loading partition of shard s (*any set when there was
 * one). 0 when all of them are complete now, or none was loading; an
 * ERR_* otherwise. */
static int load_shard(bootstrap *b, size_t s, bool *any)
{
	load *ld = xcalloc(1, sizeof *ld);
	ld->b = b;
	sbuf q;
	sbuf_init(&q);
	sbuf_adds(&q, "/v1/checkpoint?partitions=");
	bool first = true, resume = true;
	char rc_counter[COUNTER_MAX + 1] = "", rc_item[ITEM_MAX + 1] = "";
	int rc = 0;
	for (uint32_t p = 0; p < b->map->partitions; p++) {
		if (shards_of(b->map, p) != s)
			continue;
		ledger_replica r;
		if ((rc = ledger_replica_get(b->lg, p, &r)))
			goto out;
		if (r.state != LEDGER_REPLICA_LOADING)
			continue;
		ld->want[p] = true;
		ld->gen[p] = r.gen;
		sbuf_addf(&q, "%s%u", first ? "" : ",", p);
		first = false;
		/* One request for the shard: it resumes after the smallest
		 * key any of its partitions stopped at, or from the start. */
		if (!r.resume) {
			resume = false;
		} else if (!rc_counter[0] || strcmp(r.counter, rc_counter) < 0 ||
		           (strcmp(r.counter, rc_counter) == 0 && strcmp(r.item, rc_item) < 0)) {
			snprintf(rc_counter, sizeof rc_counter, "%s", r.counter);
			snprintf(rc_item, sizeof rc_item, "%s", r.item);
		}
	}
	if (first)
		goto out; /* nothing of this shard is loading */
	*any = true;
	if (resume && rc_counter[0])
		sbuf_addf(&q, "&after_counter=%s&after_item=%s", rc_counter, rc_item);
	rc = ask_shard(b, s, ld, q.p);
	/* A whole stream that left a partition of its load unfinished (its
	 * central did not send it) is a failure, retried after a pause. */
	for (uint32_t p = 0; p < b->map->partitions && rc == 0; p++) {
		ledger_replica r;
		if (ld->want[p] && ledger_replica_get(b->lg, p, &r) == 0 &&
		    r.state == LEDGER_REPLICA_LOADING && r.gen == ld->gen[p]) {
			log_warn("checkpoint ended without a partition it was asked for",
			         "partition=%u", p);
			rc = ERR_CORRUPT;
		}
	}
out:
	sbuf_free(&q);
	free(ld);
	return rc;
}

/* Whether ld, a home load, may ask for the window only (since_ms):
 * pairs past the retention's cut are not kept here (ledger_home_apply),
 * and central then leaves them out but for one like per item, which
 * marks the item. Only into a store that held no membership when opened
 * (ledger_members_fresh) and for partitions no load has brought yet:
 * anything else may hold a record older than the cut whose later change
 * (an unlike, made elsewhere while this edge was cut off from the home
 * stream) is among those left out, and would keep answering it. Notes
 * the wall clock the cut is taken at in ld. */
static bool window_only(bootstrap *b, load *ld)
{
	uint64_t keep = ledger_member_keep_ms(b->lg);
	ld->wall_ms = clock_wall_ms();
	if (!keep || ld->wall_ms <= keep || !ledger_members_fresh(b->lg))
		return false;
	for (uint32_t p = 0; p < b->map->partitions; p++)
		if (ld->want[p] && b->home_loaded[p])
			return false;
	return true;
}

/* Loads the region's memberships of shard s's partitions that want them
 * (homes_load_wanted; *any set when one did), whole each time (but for
 * what window_only leaves to central to leave out): what the
 * store has already is kept where it is newer. 0 when every one is done
 * or none was wanted; an ERR_* otherwise. */
static int load_home_shard(bootstrap *b, size_t s, bool *any)
{
	if (!b->homes || ledger_following(b->lg))
		return 0; /* a standby gets them through the changelog */
	load *ld = xcalloc(1, sizeof *ld);
	ld->b = b;
	ld->home = true;
	sbuf q;
	sbuf_init(&q);
	sbuf_adds(&q, "/v1/checkpoint?partitions=");
	bool first = true;
	for (uint32_t p = 0; p < b->map->partitions; p++) {
		int64_t mark = 0;
		uint32_t g = shards_of(b->map, p) == s ? homes_load_wanted(b->homes, p, &mark) : 0;
		if (!g)
			continue;
		ld->want[p] = true;
		ld->gen[p] = g;
		ld->mark[p] = mark;
		sbuf_addf(&q, "%s%u", first ? "" : ",", p);
		first = false;
	}
	int rc = 0;
	if (!first) {
		*any = true;
		sbuf_addf(&q, "&home=%s", homes_region(b->homes));
		if (window_only(b, ld))
			sbuf_addf(&q, "&since_ms=%" PRIu64,
			          ld->wall_ms - ledger_member_keep_ms(b->lg));
		ld->pos = xmalloc(b->map->partitions * sizeof *ld->pos);
		for (uint32_t p = 0; p < b->map->partitions; p++)
			ld->pos[p] = (ledger_home_pos){-1, LEDGER_HOME_NONE};
		rc = ask_shard(b, s, ld, q.p);
	}
	for (uint32_t p = 0; p < b->map->partitions && rc == 0; p++) {
		if (!ld->want[p])
			continue;
		if (!ld->last[p]) {
			log_warn("checkpoint ended without a partition it was asked for",
			         "partition=%u of=memberships", p);
			rc = ERR_CORRUPT;
			break;
		}
		homes_load_done(b->homes, p, ld->gen[p], ld->from[p]);
		b->home_loaded[p] = true;
	}
	if (ld->skipped)
		log_warn("home checkpoint entries skipped: not valid, or of another partition",
		         "entries=%" PRIu64, ld->skipped);
	sbuf_free(&q);
	free(ld->pos);
	free(ld);
	return rc;
}

static void nap(bootstrap *b, unsigned ms)
{
	struct timespec ts = clock_mono_deadline(ms);
	tsa_lock(&b->mu);
	while (!b->kicked && !atomic_load(&b->stop))
		if (pthread_cond_timedwait(&b->cond, &b->mu, &ts))
			break;
	b->kicked = false;
	tsa_unlock(&b->mu);
}

static void *run(void *arg)
{
	bootstrap *b = arg;
	unsigned backoff = 0;
	while (!atomic_load(&b->stop)) {
		bool any = false, failed = false;
		for (size_t s = 0; s < b->map->nshards && !atomic_load(&b->stop); s++) {
			failed |= load_shard(b, s, &any) != 0;
			failed |= load_home_shard(b, s, &any) != 0;
		}
		if (!failed) {
			backoff = 0;
			if (!any)
				nap(b, IDLE_MS);
			continue;
		}
		backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
		if (backoff > BACKOFF_MAX_MS)
			backoff = BACKOFF_MAX_MS;
		nap(b, backoff);
	}
	return NULL;
}

bootstrap *bootstrap_new(ledger *lg, const shard_map *map, homes *hs, const char *token,
                         unsigned read_timeout_ms, char *err, size_t errlen)
{
	bootstrap *b = xcalloc(1, sizeof *b);
	b->lg = lg;
	b->map = map;
	b->homes = hs;
	b->token = xstrdup(token ? token : "");
	b->timeout_ms = read_timeout_ms;
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->st_mu, NULL);
	clock_cond_init(&b->cond);
	int rc = pthread_create(&b->thread, NULL, run, b);
	if (rc) {
		snprintf(err, errlen, "bootstrap thread: %s", strerror(rc));
		bootstrap_free(b);
		return NULL;
	}
	b->started = true;
	(void)pthread_setname_np(b->thread, "edge-bootstrap");
	return b;
}

void bootstrap_kick(bootstrap *b)
{
	tsa_lock(&b->mu);
	b->kicked = true;
	pthread_cond_signal(&b->cond);
	tsa_unlock(&b->mu);
}

void bootstrap_get_stats(bootstrap *b, bootstrap_stats *out)
{
	tsa_lock(&b->st_mu);
	*out = b->st;
	tsa_unlock(&b->st_mu);
}

void bootstrap_free(bootstrap *b)
{
	if (!b)
		return;
	if (b->started) {
		atomic_store(&b->stop, true);
		bootstrap_kick(b);
		pthread_join(b->thread, NULL);
	}
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->st_mu);
	free(b->token);
	free(b);
}
