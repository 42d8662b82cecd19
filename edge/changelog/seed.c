/* seed.c - a peer's store as a seed body (seed.h): the frames, and the
 * loader that fetches a copy, checks it whole, and puts it in place of
 * the store. The server is seed_serve.c.
 */
#include "edge/changelog/seed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "edge/changelog/changelog.h"
#include "hclient.h"
#include "log.h"
#include "xmem.h"

#define DELETE_PER_WRITE 4096 /* keys a write deletes while emptying the store */
#define ERROR_BODY_MAX 4096

/* --- the format ------------------------------------------------------------- */

static void put_u32(sbuf *out, uint32_t v)
{
	unsigned char b[4];
	store_put_u32(b, v);
	sbuf_add(out, b, 4);
}

static void put_u64(sbuf *out, uint64_t v)
{
	unsigned char b[8];
	store_put_u64(b, v);
	sbuf_add(out, b, 8);
}

void seed_enc_begin(seed_enc *e, sbuf *out)
{
	memset(e, 0, sizeof *e);
	e->wb = store_batch_new();
	unsigned char v = SEED_VERSION;
	sbuf_add(out, SEED_MAGIC, 4);
	sbuf_add(out, &v, 1);
}

void seed_enc_put(seed_enc *e, const char *k, size_t kn, const char *v, size_t vn)
{
	store_batch_put(e->wb, k, kn, v, vn);
	e->wb_bytes += kn + vn + 9;
	e->keys++;
}

bool seed_enc_flush(seed_enc *e, sbuf *out, bool force)
{
	if (!e->wb_bytes || (!force && e->wb_bytes < SEED_FRAME_BYTES))
		return false;
	size_t at = out->len;
	put_u32(out, 0); /* the length, once known */
	changelog_encode(e->wb, 0, out);
	size_t n = out->len - at - 4;
	store_put_u32((unsigned char *)out->p + at, (uint32_t)n);
	e->bytes += n;
	store_batch_clear(e->wb);
	e->wb_bytes = 0;
	return true;
}

void seed_enc_end(seed_enc *e, sbuf *out)
{
	(void)seed_enc_flush(e, out, true);
	put_u32(out, 0);
	put_u64(out, e->keys);
	put_u64(out, e->bytes);
}

void seed_enc_free(seed_enc *e)
{
	store_batch_free(e->wb);
	e->wb = NULL;
}

/* --- reading a body --------------------------------------------------------- */

/* Says phase and bytes through o's hook, at most once a second. */
static void progress(const seed_load_opts *o, uint64_t *said_ms, const char *phase, uint64_t bytes)
{
	uint64_t now = clock_mono_ms();
	if (!o->progress || now - *said_ms < 1000)
		return;
	*said_ms = now;
	o->progress(o->progress_ctx, phase, bytes);
}

typedef struct reader {
	FILE *f;
	char *buf;
	size_t cap;
	store_batch *wb;
	const seed_load_opts *o; /* its progress hook; NULL: none */
	uint64_t said_ms, done;  /* progress: last said, frame bytes read */
} reader;

static bool read_n(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n;
}

/* The next frame decoded into r->wb, *len its length (0: the end, its
 * totals in keys and bytes). */
static int next_frame(reader *r, uint32_t *len, uint64_t *keys, uint64_t *bytes)
{
	unsigned char b[16];
	if (!read_n(r->f, b, 4))
		return ERR_CORRUPT;
	*len = store_get_u32(b);
	if (*len == 0) {
		if (!read_n(r->f, b, 16))
			return ERR_CORRUPT;
		*keys = store_get_u64(b);
		*bytes = store_get_u64(b + 8);
		return 0;
	}
	if (*len > SEED_FRAME_MAX)
		return ERR_CORRUPT;
	if (*len > r->cap) {
		free(r->buf);
		r->cap = *len;
		r->buf = xmalloc(r->cap);
	}
	if (!read_n(r->f, r->buf, *len))
		return ERR_CORRUPT;
	store_batch_clear(r->wb);
	r->done += *len;
	changelog_head h;
	int rc = changelog_decode(r->buf, *len, &h, r->wb);
	if (rc == 0 && (h.kind != CHANGELOG_DATA || h.epoch != 0))
		rc = ERR_CORRUPT;
	return rc;
}

static int read_head(FILE *f)
{
	unsigned char h[5];
	if (fseek(f, 0, SEEK_SET) != 0 || !read_n(f, h, 5))
		return ERR_CORRUPT;
	if (memcmp(h, SEED_MAGIC, 4) != 0)
		return ERR_CORRUPT;
	return h[4] == SEED_VERSION ? 0 : ERR_VERSION;
}

/* What the first pass learns of a copy's keys. */
typedef struct survey {
	uint64_t keys, at;
	bool forbidden; /* a key no fit store sends: the gap, a held record */
	bool deletes;
} survey;

static void survey_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	survey *s = ctx;
	s->keys++;
	if (ekey_is_alone(k, kn, EKEY_LOG_POSITION) && vn == 8)
		s->at = store_get_u64((const unsigned char *)v);
	if (ekey_is_alone(k, kn, EKEY_LOG_GAP) || ekey_is(k, kn, EKEY_LOG_HELD))
		s->forbidden = true;
}

static void survey_del(void *ctx, const char *k, size_t kn)
{
	(void)k;
	(void)kn;
	((survey *)ctx)->deletes = true;
}

/* The first pass: every frame read and decoded, the totals matched, and
 * nothing after them. */
static int check_body(reader *r, survey *s, uint64_t *bytes, char *err, size_t errlen)
{
	int rc = read_head(r->f);
	if (rc) {
		snprintf(err, errlen, "seed: not a seed body (version %s)",
		         rc == ERR_VERSION ? "unknown" : "or magic wrong");
		return rc;
	}
	memset(s, 0, sizeof *s);
	*bytes = 0;
	for (;;) {
		uint32_t len;
		uint64_t keys = 0, total = 0;
		rc = next_frame(r, &len, &keys, &total);
		if (rc) {
			snprintf(err, errlen, "seed: frame after %" PRIu64 " bytes: %s", *bytes,
			         err_str(rc));
			return rc;
		}
		if (len == 0) {
			if (keys != s->keys || total != *bytes || fgetc(r->f) != EOF) {
				snprintf(err, errlen,
				         "seed: the end says %" PRIu64 " keys in %" PRIu64
				         " bytes, the body has %" PRIu64 " in %" PRIu64
				         " (or more after)",
				         keys, total, s->keys, *bytes);
				return ERR_CORRUPT;
			}
			break;
		}
		*bytes += len;
		store_batch_iterate(r->wb, s, survey_put, survey_del);
		if (r->o)
			progress(r->o, &r->said_ms, "checking", r->done);
	}
	if (s->forbidden || s->deletes) {
		snprintf(err, errlen,
		         "seed: the copy holds a gap, held records or deletes: not a "
		         "fit store's");
		return ERR_CORRUPT;
	}
	return 0;
}

/* Marks db unfit (the gap key), so that a load cut short leaves a store
 * that never takes over and loads again at its next start. */
static int mark_unfit(store *db)
{
	uint64_t gap = 0;
	int rc = changelog_read_u64(db, EKEY_LOG_GAP, &gap);
	if (rc)
		return rc;
	store_batch *wb = store_batch_new();
	changelog_put_u64(wb, EKEY_LOG_GAP, gap ? gap : 1);
	store_batch_sync(wb); /* on the disk before anything goes */
	rc = store_write(db, wb);
	store_batch_free(wb);
	return rc;
}

/* Deletes every key but the gap's and the writer time's (put_body keeps
 * the larger of it and the copy's). */
static int empty_store(store *db)
{
	store_batch *wb = store_batch_new();
	store_iter *it = store_iter_new(db, "", 0);
	const char *k, *v;
	size_t kn, vn, n = 0;
	int rc = 0;
	while (rc == 0 && store_iter_next(it, &k, &kn, &v, &vn)) {
		if (ekey_is_alone(k, kn, EKEY_LOG_GAP) || ekey_is_alone(k, kn, EKEY_LOG_WRITER))
			continue;
		store_batch_del(wb, k, kn);
		if (++n % DELETE_PER_WRITE == 0) {
			store_batch_sync(wb); /* see put_body */
			rc = store_write(db, wb);
			store_batch_clear(wb);
		}
	}
	return store_iter_end_write(db, it, wb, rc);
}

/* The second pass: the store emptied and filled with the frames, the
 * mark cleared last. */
static int put_body(reader *r, store *db, char *err, size_t errlen)
{
	/* The latest writer time this store read: a peer that read less of
	 * the log (one seeded from nothing after the log started again)
	 * must not lower it (docs/wire.md, "Hand-over"). */
	uint64_t mine = 0, copied = 0;
	int rc = changelog_read_u64(db, EKEY_LOG_WRITER, &mine);
	if (rc == 0)
		rc = mark_unfit(db);
	if (rc == 0)
		rc = empty_store(db);
	if (rc == 0)
		rc = read_head(r->f);
	for (;;) {
		uint32_t len = 0;
		uint64_t keys, bytes;
		if (rc == 0)
			rc = next_frame(r, &len, &keys, &bytes);
		if (rc || len == 0)
			break;
		/* Each write synced: a sync reaches only LevelDB's current log
		 * file, and a load fills the memtable and moves to a new log
		 * many times, so one synced write at the end would not keep
		 * the earlier frames through a power cut. */
		store_batch_sync(r->wb);
		rc = store_write(db, r->wb);
		if (r->o)
			progress(r->o, &r->said_ms, "loading", r->done);
	}
	if (rc == 0) {
		/* The mark goes only with the whole copy on the disk. */
		store_batch_clear(r->wb);
		rc = changelog_read_u64(db, EKEY_LOG_WRITER, &copied);
		if (mine > copied)
			changelog_put_u64(r->wb, EKEY_LOG_WRITER, mine);
		store_batch_del(r->wb, ekey_prefix(EKEY_LOG_GAP), 1);
		store_batch_sync(r->wb);
		if (rc == 0)
			rc = store_write(db, r->wb);
	}
	if (rc)
		snprintf(
		    err, errlen,
		    "seed: loading the copy: %s (the store stays unfit, and loads again at the "
		    "next start)",
		    err_str(rc));
	return rc;
}

/* seed_load_file, saying its progress through o's hook (o may be NULL). */
static int load_file(FILE *f, store *db, int64_t log_start, const seed_load_opts *o,
                     seed_loaded *out, char *err, size_t errlen)
{
	reader r = {.f = f, .wb = store_batch_new(), .o = o, .said_ms = clock_mono_ms()};
	survey s;
	uint64_t bytes = 0;
	int rc = check_body(&r, &s, &bytes, err, errlen);
	if (rc == 0 && (int64_t)s.at < log_start) {
		snprintf(err, errlen,
		         "seed: the copy is at %" PRIu64 ", before the log's start %" PRId64
		         ": the peer lacks records too",
		         s.at, log_start);
		rc = ERR_CONFLICT;
	}
	if (rc == 0)
		rc = put_body(&r, db, err, errlen);
	if (rc == 0) {
		out->keys = s.keys;
		out->bytes = bytes;
		out->at = s.at;
	}
	free(r.buf);
	store_batch_free(r.wb);
	return rc;
}

int seed_load_file(FILE *f, store *db, int64_t log_start, seed_loaded *out, char *err,
                   size_t errlen)
{
	return load_file(f, db, log_start, NULL, out, err, errlen);
}

/* --- fetching --------------------------------------------------------------- */

/* Appends s to out with every byte but [A-Za-z0-9._~-] percent-encoded. */
static void add_escaped(sbuf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			sbuf_add(out, s, 1);
		else
			sbuf_addf(out, "%%%02X", c);
	}
}

/* The copy's file as the fetch writes it: bytes counted, a cap kept (a
 * broken or hostile peer must not fill the store's disk), progress said
 * at most once a second. */
typedef struct sink {
	FILE *f;
	const seed_load_opts *o;
	uint64_t bytes, cap, said_ms;
} sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
	sink *s = cookie;
	if (s->bytes + n > s->cap) {
		errno = EFBIG;
		return -1;
	}
	if (fwrite(buf, 1, n, s->f) != n)
		return -1;
	s->bytes += n;
	progress(s->o, &s->said_ms, "fetching", s->bytes);
	return (ssize_t)n;
}

/* Half the space free where the copy is kept: the store needs the rest. */
static uint64_t copy_cap(const char *dir)
{
	struct statvfs v;
	if (statvfs(dir, &v) != 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * v.f_frsize / 2;
}

/* One peer's copy into f (truncated first). */
static int fetch(const seed_load_opts *o, const char *peer, FILE *f, char *err, size_t errlen)
{
	char host[256];
	int port;
	if (cfg_parse_hostport(peer, host, sizeof host, &port) || !host[0]) {
		snprintf(err, errlen, "seed: peer '%s' is not host:port", peer);
		return ERR_CONFIG;
	}
	if (fseek(f, 0, SEEK_SET) != 0 || ftruncate(fileno(f), 0) != 0) {
		snprintf(err, errlen, "seed: emptying the copy's file: %s", strerror(errno));
		return ERR_IO;
	}
	sbuf path;
	sbuf_init(&path);
	sbuf_adds(&path, SEED_PATH "?edge=");
	add_escaped(&path, o->edge_id);
	sbuf_addf(&path, "&partitions=%" PRIu32, o->partitions);
	sink s = {.f = f, .o = o, .cap = copy_cap(o->data_dir), .said_ms = clock_mono_ms()};
	cookie_io_functions_t io = {.write = sink_write};
	FILE *out = fopencookie(&s, "w", io);
	if (!out) {
		sbuf_free(&path);
		snprintf(err, errlen, "seed: %s", strerror(errno));
		return ERR_IO;
	}
	hclient_req req = {.host = host,
	                   .port = port,
	                   .method = "GET",
	                   .path = path.p,
	                   .token = o->token,
	                   .stream = out,
	                   .timeout_ms = o->timeout_ms,
	                   .max_body = ERROR_BODY_MAX};
	hclient_answer a;
	char why[256];
	int rc = hclient_do(&req, &a, why, sizeof why);
	sbuf_free(&path);
	if (fclose(out) != 0 && rc == 0) {
		snprintf(why, sizeof why, "writing the copy: %s", strerror(errno));
		rc = ERR_IO;
	}
	if (rc) {
		if (s.bytes + SEED_FRAME_BYTES > s.cap)
			snprintf(err, errlen,
			         "seed: %s: the copy outgrew half the space free in %s (%" PRIu64
			         " bytes): %s",
			         peer, o->data_dir, s.cap, why);
		else
			snprintf(err, errlen, "seed: %s: %s", peer, why);
		return rc;
	}
	if (a.status != 200) {
		snprintf(err, errlen, "seed: %s answered %d: %.200s", peer, a.status,
		         a.body ? a.body : "");
		free(a.body);
		return a.status == 503 ? ERR_AGAIN : ERR_IO;
	}
	free(a.body);
	if (fflush(f) != 0) {
		snprintf(err, errlen, "seed: writing the copy: %s", strerror(errno));
		return ERR_IO;
	}
	return 0;
}

int seed_from_check(const char *from, char *err, size_t errlen)
{
	char *peers = xstrdup(from), *save = NULL;
	int rc = 0;
	for (char *p = strtok_r(peers, ", ", &save); p && !rc; p = strtok_r(NULL, ", ", &save)) {
		char host[256];
		int port;
		if (cfg_parse_hostport(p, host, sizeof host, &port) || !host[0]) {
			snprintf(err, errlen, "changelog.seed_from: '%s' is not host:port", p);
			rc = ERR_CONFIG;
		}
	}
	free(peers);
	return rc;
}

/* One round: each peer asked in turn until one's copy loads. */
static int one_round(const seed_load_opts *o, store *db, int64_t log_start, FILE *f,
                     seed_loaded *out, char *err, size_t errlen)
{
	char *peers = xstrdup(o->from), *save = NULL;
	int rc = ERR_NOTFOUND;
	bool busy = true; /* every peer answered 503 */
	for (char *p = strtok_r(peers, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
		if (o->progress)
			o->progress(o->progress_ctx, "asking a peer", 0);
		rc = fetch(o, p, f, err, errlen);
		busy &= rc == ERR_AGAIN;
		if (rc == 0)
			rc = load_file(f, db, log_start, o, out, err, errlen);
		if (rc == 0) {
			snprintf(out->peer, sizeof out->peer, "%s", p);
			break;
		}
		/* The next peer, if any: a load cut short left the store
		 * marked unfit, and the next load empties it again. */
		log_warn("seed: no copy from this peer", "peer=%s err=\"%s\"", p, err);
	}
	if (rc == ERR_NOTFOUND)
		snprintf(err, errlen, "seed: no peer named in '%s'", o->from);
	free(peers);
	if (rc == ERR_AGAIN && !busy)
		rc = ERR_IO; /* the last peer answered 503, an earlier one failed otherwise */
	return rc;
}

int seed_load(const seed_load_opts *o, store *db, int64_t log_start, seed_loaded *out, char *err,
              size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!o->from || !o->from[0]) {
		snprintf(err, errlen, "seed: no peer named (changelog.seed_from)");
		return ERR_NOTFOUND;
	}
	uint64_t t0 = clock_mono_ms();
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/seed.part", o->data_dir);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errlen, "seed: the data dir's path is too long");
		return ERR_CONFIG;
	}
	FILE *f = fopen(path, "w+b");
	if (!f) {
		snprintf(err, errlen, "seed: %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	/* A peer that answered 503 (busy with another copy, or briefly unfit
	 * to copy) may answer later: asked again for a while. */
	int rc;
	uint64_t said = 0;
	while ((rc = one_round(o, db, log_start, f, out, err, errlen)) == ERR_AGAIN &&
	       clock_mono_ms() - t0 < o->retry_ms) {
		progress(o, &said, "waiting for a peer", 0);
		sleep(SEED_RETRY_PAUSE_S);
	}
	fclose(f);
	(void)unlink(path);
	out->ms = clock_mono_ms() - t0;
	return rc;
}
