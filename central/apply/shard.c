/* shard.c - owned partition sets, key partitions, per-partition digests,
 * backup copies and pruning (see shard.h). Parsing and key partitions
 * are pure; the store functions are any thread, as shard.h says.
 */
#include "central/apply/shard.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "partition.h"
#include "xmem.h"

#define BACKUP_BATCH_BYTES (4u << 20)
#define PRUNE_BATCH_KEYS 10000
#define BACKUP_DIR_MAX 1024

/* ---- partition sets ------------------------------------------------------ */

void shard_set_all(shard_set *s, uint32_t nparts)
{
	s->nparts = nparts;
	s->count = nparts;
	s->own = xmalloc(nparts ? nparts : 1);
	memset(s->own, 1, nparts ? nparts : 1);
}

void shard_set_free(shard_set *s)
{
	free(s->own);
	memset(s, 0, sizeof *s);
}

bool shard_owns(const shard_set *s, uint32_t p)
{
	if (!s)
		return true;
	return p < s->nparts && s->own[p];
}

/* A decimal number at *pp (no sign, at most 9 digits); advances *pp. */
static bool number(const char **pp, uint32_t *out)
{
	const char *p = *pp;
	uint32_t v = 0;
	int digits = 0;
	while (isdigit((unsigned char)*p) && digits < 10) {
		v = v * 10 + (uint32_t)(*p - '0');
		p++;
		digits++;
	}
	if (!digits || digits > 9)
		return false;
	*out = v;
	*pp = p;
	return true;
}

static void skip_spaces(const char **pp)
{
	while (**pp == ' ' || **pp == '\t')
		(*pp)++;
}

int shard_set_parse(shard_set *s, const char *spec, uint32_t nparts, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	const char *p = spec;
	skip_spaces(&p);
	if (strncmp(p, "all", 3) == 0) {
		const char *q = p + 3;
		skip_spaces(&q);
		if (!*q) {
			shard_set_all(s, nparts);
			return 0;
		}
	}
	s->nparts = nparts;
	s->own = xcalloc(nparts ? nparts : 1, 1);
	if (!*p) {
		snprintf(err, errlen,
		         "central.partitions is empty: give 'all' or a list such as 0-7");
		goto bad;
	}
	for (int n = 1;; n++) {
		uint32_t lo, hi;
		skip_spaces(&p);
		if (!number(&p, &lo)) {
			snprintf(err, errlen,
			         "central.partitions '%s': element %d is not a number or a range "
			         "N-M",
			         spec, n);
			goto bad;
		}
		hi = lo;
		skip_spaces(&p);
		if (*p == '-') {
			p++;
			skip_spaces(&p);
			if (!number(&p, &hi)) {
				snprintf(
				    err, errlen,
				    "central.partitions '%s': element %d: a range needs an end",
				    spec, n);
				goto bad;
			}
			skip_spaces(&p);
		}
		if (hi < lo) {
			snprintf(err, errlen, "central.partitions '%s': range %u-%u runs backwards",
			         spec, lo, hi);
			goto bad;
		}
		if (hi >= nparts) {
			snprintf(err, errlen,
			         "central.partitions '%s': partition %u is out of range: "
			         "topics.partitions is %u (0-%u)",
			         spec, hi, nparts, nparts ? nparts - 1 : 0);
			goto bad;
		}
		for (uint32_t x = lo; x <= hi; x++) {
			if (s->own[x]) {
				snprintf(err, errlen,
				         "central.partitions '%s': partition %u is listed twice",
				         spec, x);
				goto bad;
			}
			s->own[x] = 1;
			s->count++;
		}
		if (!*p)
			break;
		if (*p != ',') {
			snprintf(err, errlen,
			         "central.partitions '%s': unexpected '%c' after element %d", spec,
			         *p, n);
			goto bad;
		}
		p++;
	}
	return 0;
bad:
	shard_set_free(s);
	return ERR_CONFIG;
}

/* Appends ranges of the flags in own (n of them) to out; "none" if none. */
static void format_flags(const unsigned char *own, uint32_t n, char *out, size_t cap)
{
	size_t len = 0;
	bool any = false;
	if (cap)
		out[0] = 0;
	for (uint32_t p = 0; p < n; p++) {
		if (!own[p])
			continue;
		uint32_t e = p;
		while (e + 1 < n && own[e + 1])
			e++;
		int w = e == p ? snprintf(out + len, cap - len, "%s%u", any ? "," : "", p)
		               : snprintf(out + len, cap - len, "%s%u-%u", any ? "," : "", p, e);
		if (w < 0 || (size_t)w >= cap - len)
			return;
		len += (size_t)w;
		any = true;
		p = e;
	}
	if (!any)
		snprintf(out, cap, "none");
}

void shard_set_format(const shard_set *s, char *out, size_t cap)
{
	format_flags(s->own, s->nparts, out, cap);
}

/* ---- keys ---------------------------------------------------------------- */

int shard_key_partition(const char *k, size_t kn, uint32_t nparts, uint32_t *p)
{
	const char *item, *edge, *region, *counter, *user;
	size_t in, en, rn, cn, un;
	if (ckey_item_of(k, kn, &item, &in)) {
		*p = partition_of(item, in, nparts);
		return 0;
	}
	if (ckey_parse_edge(k, kn, CKEY_APPLIED, &edge, &en, p, NULL) ||
	    ckey_parse_edge(k, kn, CKEY_HELD, &edge, &en, p, NULL) ||
	    ckey_parse_edge(k, kn, CKEY_FENCE, &edge, &en, p, NULL) || ckey_parse_part(k, kn, p))
		return 0;
	/* A 'V' or 'G' key carries the partition of the batch that wrote it: it
	 * goes with that partition's version, which the home checkpoint
	 * sends with it. */
	uint32_t day;
	if (ckey_parse_home(k, kn, &region, &rn, p, &user, &un, &counter, &cn, &item, &in) ||
	    ckey_parse_home_day(k, kn, &region, &rn, p, &counter, &cn, &item, &in, &day) ||
	    ckey_parse_where(k, kn, p, &user, &un))
		return 0;
	return ERR_NOTFOUND;
}

/* ---- digests ------------------------------------------------------------- */

int shard_digest_all(store_snap *sn, uint32_t nparts, shard_digest *out)
{
	memset(out, 0, (size_t)nparts * sizeof *out);
	XXH3_state_t *h = XXH3_createState();
	if (!h)
		abort();
	store_iter *it = store_snap_iter_from(sn, "", 0, NULL, 0);
	const char *k, *v;
	size_t kn, vn;
	int rc = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		if (shard_key_partition(k, kn, nparts, &p) || p >= nparts)
			continue;
		if (k[0] == CKEY_OFFSET) {
			if (vn == 8)
				out[p].offset = store_get_u64((const unsigned char *)v);
			continue;
		}
		if (k[0] == CKEY_HELD || k[0] == CKEY_EPOCH || k[0] == CKEY_FEED)
			continue; /* held input: not state yet; the epoch: where input is;
			           * feed records: gone at each instance's own pace */
		unsigned char len[4];
		store_put_u32(len, (uint32_t)kn);
		XXH3_64bits_reset(h);
		XXH3_64bits_update(h, len, sizeof len);
		XXH3_64bits_update(h, k, kn);
		XXH3_64bits_update(h, v, vn);
		out[p].digest += XXH3_64bits_digest(h);
		out[p].keys++;
	}
	rc = store_iter_status(it);
	store_iter_free(it);
	XXH3_freeState(h);
	return rc;
}

/* ---- metadata ------------------------------------------------------------ */

int shard_note_owned(store *db, const shard_set *s, char *err, size_t errlen)
{
	static const char key[] = "M" SHARD_META_OWNED;
	size_t kn = sizeof key - 1;
	char now[16384];
	shard_set_format(s, now, sizeof now);
	char *old = NULL;
	size_t oldn = 0;
	int rc = store_get(db, key, kn, &old, &oldn);
	if (rc && rc != ERR_NOTFOUND) {
		snprintf(err, errlen, "reading %s from the store failed", SHARD_META_OWNED);
		return rc;
	}
	if (rc == 0 && oldn == strlen(now) && memcmp(old, now, oldn) == 0) {
		free(old);
		return 0;
	}
	if (rc == 0) {
		char *text = xmalloc(oldn + 1);
		memcpy(text, old, oldn);
		text[oldn] = 0;
		shard_set was;
		char why[256];
		int prc = 0;
		if (strcmp(text, "none") == 0) {
			was.nparts = s->nparts;
			was.count = 0;
			was.own = xcalloc(s->nparts ? s->nparts : 1, 1);
		} else {
			prc = shard_set_parse(&was, text, s->nparts, why, sizeof why);
		}
		if (prc == 0) {
			unsigned char *added = xcalloc(s->nparts ? s->nparts : 1, 1);
			unsigned char *dropped = xcalloc(s->nparts ? s->nparts : 1, 1);
			for (uint32_t p = 0; p < s->nparts; p++) {
				added[p] = s->own[p] && !was.own[p];
				dropped[p] = !s->own[p] && was.own[p];
			}
			char a[4096], d[4096];
			format_flags(added, s->nparts, a, sizeof a);
			format_flags(dropped, s->nparts, d, sizeof d);
			log_warn(
			    "owned partitions changed since the last start (a rebalance): "
			    "dropped partitions keep their keys until `central prune --offline`",
			    "was=\"%s\" now=\"%s\" added=\"%s\" dropped=\"%s\"", text, now, a, d);
			free(added);
			free(dropped);
			shard_set_free(&was);
		} else {
			log_warn("owned partitions changed since the last start (a rebalance)",
			         "was=\"%s\" now=\"%s\"", text, now);
		}
		free(text);
		free(old);
	}
	store_batch *b = store_batch_new();
	store_batch_put(b, key, kn, now, strlen(now));
	rc = store_write(db, b);
	store_batch_free(b);
	if (rc)
		snprintf(err, errlen, "recording %s in the store failed", SHARD_META_OWNED);
	return rc;
}

bool shard_store_in_use(const char *data_dir)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/store/LOCK", data_dir) >= sizeof path)
		return false;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	bool used = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return used;
}

/* ---- backup -------------------------------------------------------------- */

static bool backup_dir_ok(const char *dir)
{
	size_t n = strlen(dir);
	if (n < 2 || n > BACKUP_DIR_MAX || dir[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = dir[i];
		if (!isalnum((unsigned char)c) && c != '/' && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

int shard_backup(store *db, const char *dir, const char *source_id, uint32_t nparts,
                 shard_backup_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!backup_dir_ok(dir)) {
		snprintf(err, errlen,
		         "the backup dir must be an absolute path of [A-Za-z0-9/._-], at most %d "
		         "bytes",
		         BACKUP_DIR_MAX);
		return ERR_INVAL;
	}
	if (mkdir(dir, 0755) != 0) {
		if (errno == EEXIST) {
			snprintf(err, errlen, "%s exists already: a backup goes to a new dir", dir);
			return ERR_CONFLICT;
		}
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return ERR_IO;
	}
	store_opts so;
	store_opts_default(&so);
	so.cache_bytes = 8u << 20;
	so.sync = true; /* each batch durable: a few MB per fsync */
	char why[512] = "";
	store *to = store_open_dir(dir, &so, why, sizeof why);
	if (!to) {
		snprintf(err, errlen, "opening the backup store: %s", why);
		return ERR_IO;
	}
	uint64_t *offsets = xcalloc(nparts ? nparts : 1, sizeof *offsets);
	store_snap *sn = store_snap_new(db);
	store_iter *it = store_snap_iter_from(sn, "", 0, NULL, 0);
	store_batch *b = store_batch_new();
	size_t pending = 0;
	uint64_t keys = 0;
	const char *k, *v;
	size_t kn, vn;
	int rc = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		if (kn == 5 && k[0] == CKEY_OFFSET && vn == 8 &&
		    shard_key_partition(k, kn, nparts, &p) == 0 && p < nparts)
			offsets[p] = store_get_u64((const unsigned char *)v);
		store_batch_put(b, k, kn, v, vn);
		pending += kn + vn + 16;
		keys++;
		if (pending >= BACKUP_BATCH_BYTES) {
			rc = store_write(to, b);
			store_batch_clear(b);
			pending = 0;
		}
	}
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	store_snap_free(sn);
	static const char key[] = "M" SHARD_META_BACKUP_OF;
	if (!rc) {
		store_batch_put(b, key, sizeof key - 1, source_id, strlen(source_id));
		rc = store_write(to, b);
	}
	store_batch_free(b);
	store_close(to);
	if (rc) {
		free(offsets);
		snprintf(err, errlen, "copying into %s failed (%s); remove it before trying again",
		         dir, err_str(rc));
		return rc;
	}
	out->keys = keys;
	out->offsets = offsets;
	out->nparts = nparts;
	log_info("backup written", "dir=%s keys=%" PRIu64, dir, keys);
	return 0;
}

/* ---- prune --------------------------------------------------------------- */

int shard_prune(store *db, const shard_set *s, shard_prune_counts *out)
{
	memset(out, 0, sizeof *out);
	store_snap *sn = store_snap_new(db);
	store_iter *it = store_snap_iter_from(sn, "", 0, NULL, 0);
	store_batch *b = store_batch_new();
	size_t pending = 0;
	const char *k, *v;
	size_t kn, vn;
	int rc = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn)) {
		out->scanned++;
		uint32_t p;
		if (shard_key_partition(k, kn, s->nparts, &p) || shard_owns(s, p))
			continue;
		store_batch_del(b, k, kn);
		out->deleted++;
		if (k[0] >= 'A' && k[0] <= 'Z')
			out->by_tag[k[0] - 'A']++;
		if (++pending >= PRUNE_BATCH_KEYS) {
			rc = store_write(db, b);
			store_batch_clear(b);
			pending = 0;
		}
	}
	if (!rc)
		rc = store_iter_status(it);
	if (!rc && pending)
		rc = store_write(db, b);
	store_batch_free(b);
	store_iter_free(it);
	store_snap_free(sn);
	return rc;
}
