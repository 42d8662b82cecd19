/* soak.c - process samples, memory bounds from config, the flatness
 * verdict (soak.h). Owns nothing past a call but what soak_read_file
 * returns. Any thread.
 */
#include "sim/drill/soak.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/drill/probe.h"
#include "store.h"
#include "xmem.h"

#define MB 1048576.0
/* Defaults of settings a daemon may not log: librdkafka's producer queue
 * as common/bus.c sets it for both roles, and librdkafka's own default
 * for the consumer's prefetch queue (queued.max.messages.kbytes). */
#define PRODUCER_QUEUE_KB 65536.0
#define CONSUMER_QUEUE_KB 65536.0
/* LevelDB's max_open_files as common/store.c sets it. */
#define STORE_MAX_OPEN_FILES 1000.0
/* Files LevelDB keeps open besides its tables: LOCK, LOG, MANIFEST, the
 * write-ahead log, and one more of each while they roll. */
#define STORE_FIXED_FILES 8.0
/* The edge's ring of decoded sealed batches (edge/ledger/ledger_int.h). */
#define EDGE_DELTA_BATCHES 32.0
/* The edge's token cache: 65,536 SHA-256 digests (edge/auth/tokcache.h). */
#define EDGE_TOKCACHE_MB 2.0
/* A central cache entry with its key, value and slot (central/apply/ktab.c). */
#define CENTRAL_CACHE_ENTRY_B 160.0

bool soak_parse_status(const char *text, double *rss_kb, double *anon_kb, double *hwm_kb)
{
	bool rss = false, anon = false, hwm = false;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "VmRSS:", 6) == 0)
			rss = sscanf(p + 6, "%lf", rss_kb) == 1;
		else if (strncmp(p, "RssAnon:", 8) == 0)
			anon = sscanf(p + 8, "%lf", anon_kb) == 1;
		else if (strncmp(p, "VmHWM:", 6) == 0)
			hwm = sscanf(p + 6, "%lf", hwm_kb) == 1;
	}
	return rss && anon && hwm;
}

size_t soak_parse_held(const char *metrics, const char *family, soak_held *out, size_t max)
{
	size_t n = 0, flen = strlen(family);
	static const char label[] = "{holder=\"";
	for (const char *p = metrics; p && *p && n < max;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, family, flen) != 0 ||
		    strncmp(p + flen, label, sizeof label - 1) != 0)
			continue;
		const char *name = p + flen + sizeof label - 1;
		const char *q = strchr(name, '"');
		const char *eol = strchr(name, '\n');
		if (!q || (eol && q > eol) || q[1] != '}' || q[2] != ' ')
			continue;
		char *end;
		double v = strtod(q + 3, &end);
		if (end == q + 3 || !isfinite(v) || v < 0)
			continue;
		size_t len = (size_t)(q - name);
		if (len > SOAK_HELD_NAME_MAX)
			len = SOAK_HELD_NAME_MAX;
		if (!len || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") < len)
			continue; /* a name the report could not show as it is */
		memcpy(out[n].name, name, len);
		out[n].name[len] = '\0';
		out[n].mb = v / MB;
		n++;
	}
	return n;
}

double soak_unheld_mb(const soak_sample *s)
{
	if (!s->nheld)
		return NAN;
	double v = s->anon_mb;
	for (size_t i = 0; i < s->nheld; i++)
		v -= s->held[i].mb;
	return v;
}

char *soak_read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 == cap) {
			if (cap > max)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t k = fread(buf + n, 1, cap - 1 - n, f);
		if (k == 0)
			break;
		n += k;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

bool soak_parse_schedstat(const char *text, double *run_ns, double *wait_ns, double *slices)
{
	unsigned long long a, b, c;
	char tail;
	/* Three numbers and nothing after them but white space. */
	if (sscanf(text, "%llu %llu %llu %c", &a, &b, &c, &tail) != 3)
		return false;
	*run_ns = (double)a;
	*wait_ns = (double)b;
	*slices = (double)c;
	return true;
}

/* Adds /proc/PID/task/TID/schedstat to the sums; false when unread. */
static bool add_sched(pid_t pid, const char *tid, double *run, double *wait, double *slices)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", (int)pid, tid);
	char *text = soak_read_file(path, 256);
	double r, w, n;
	bool ok = text && soak_parse_schedstat(text, &r, &w, &n);
	free(text);
	if (ok) {
		*run += r;
		*wait += w;
		*slices += n;
	}
	return ok;
}

bool soak_read_sched(pid_t pid, pid_t tid, double *cpu_s, double *wait_s, double *slices)
{
	double run = 0, wait = 0, n = 0;
	bool any = false;
	if (tid > 0) {
		char t[24];
		snprintf(t, sizeof t, "%d", (int)tid);
		any = add_sched(pid, t, &run, &wait, &n);
	} else {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
		DIR *dir = opendir(path);
		struct dirent *e;
		while (dir && (e = readdir(dir)))
			if (e->d_name[0] != '.')
				any |= add_sched(pid, e->d_name, &run, &wait, &n);
		if (dir)
			closedir(dir);
	}
	*cpu_s = run / 1e9;
	*wait_s = wait / 1e9;
	*slices = n;
	return any;
}

bool soak_read(pid_t pid, const char *data_dir, double t_s, soak_sample *out)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *text = soak_read_file(path, 1 << 16);
	double rss_kb, anon_kb, hwm_kb;
	bool ok = text && soak_parse_status(text, &rss_kb, &anon_kb, &hwm_kb);
	free(text);
	if (!ok)
		return false;
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return false;
	size_t dlen = strlen(data_dir);
	double fds = 0, store_fds = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		fds++;
		char link[352], target[PATH_MAX];
		snprintf(link, sizeof link, "%s/%s", path, e->d_name);
		ssize_t k = readlink(link, target, sizeof target - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (dlen && strncmp(target, data_dir, dlen) == 0 && target[dlen] == '/')
			store_fds++;
	}
	closedir(dir);
	/* opendir's own descriptor is in sim: counted only when pid is sim. */
	if (pid == getpid() && fds > 0)
		fds--;
	*out = (soak_sample){.t_s = t_s,
	                     .rss_mb = rss_kb / 1024.0,
	                     .anon_mb = anon_kb / 1024.0,
	                     .hwm_mb = hwm_kb / 1024.0,
	                     .fds = fds,
	                     .store_fds = store_fds};
	if (!soak_read_sched(pid, 0, &out->cpu_s, &out->wait_s, &out->slices))
		out->cpu_s = out->wait_s = out->slices = 0;
	return true;
}

bool soak_config_number(const char *log_text, const char *key, double *out)
{
	char want[128];
	snprintf(want, sizeof want, " key=%s ", key);
	size_t wlen = strlen(want);
	bool found = false;
	for (const char *line = log_text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *k = memmem(line, len, want, wlen);
		if (k && memmem(line, len, "msg=\"config\"", 12)) {
			const char *v = k + wlen;
			if (strncmp(v, "value=", 6) == 0) {
				v += 6;
				if (*v == '"')
					v++;
				char *stop;
				errno = 0;
				double d = strtod(v, &stop);
				if (stop != v && errno == 0 && isfinite(d)) {
					*out = d;
					found = true;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return found;
}

static double cfg_or(const char *log_text, const char *key, double dflt)
{
	double v;
	return soak_config_number(log_text, key, &v) ? v : dflt;
}

static void term(soak_bound *b, const char *what, double mb)
{
	if (b->nterms < SOAK_TERMS_MAX)
		b->terms[b->nterms++] = (soak_term){what, mb};
	b->total_mb += mb;
}

/* Bytes of a two-generation cache of cap entries (common/smap.c,
 * smap_put_gen): each generation holds cap/2 + 1 entries in a slot array
 * of 24 B slots grown in powers of two to stay at most 3/4 full, plus a
 * 32 B key chunk per entry and value_b for a value kept outside the slot. */
static double gen2_bytes(double cap, double value_b)
{
	double n = floor(cap / 2) + 1, slots = 16;
	while (n * 4 > slots * 3)
		slots *= 2;
	return 2 * (slots * 24 + n * (32 + value_b));
}

/* The terms both daemons have: base, LevelDB, Kafka. */
static void common_terms(const char *log_text, double store_mb, soak_bound *b)
{
	store_opts so;
	store_opts_default(&so);
	term(b, "base (code, libraries, stacks)", SOAK_BASE_MB);
	term(b, "LevelDB block cache (store.cache_mb)",
	     cfg_or(log_text, "store.cache_mb", (double)so.cache_bytes / MB));
	term(b, "two LevelDB memtables", 2 * (double)so.write_buffer / MB);
	double tables = fmin(store_mb, STORE_MAX_OPEN_FILES * 2);
	term(b, "open tables' index and filter blocks (3% of the store)", tables * 0.03);
	/* LevelDB reads its tables through read-only maps (up to 1000 of
	 * them on 64-bit Linux): page cache, but counted in RSS. */
	term(b, "mapped table files (at most the store on disk)", store_mb);
	term(b, "Kafka producer queue",
	     cfg_or(log_text, "kafka.queue.buffering.max.kbytes", PRODUCER_QUEUE_KB) / 1024);
	term(b, "Kafka consumer queue",
	     cfg_or(log_text, "kafka.queued.max.messages.kbytes", CONSUMER_QUEUE_KB) / 1024);
	b->max_open_files = STORE_MAX_OPEN_FILES;
}

void soak_bound_edge(const char *log_text, double store_mb, soak_bound *b)
{
	memset(b, 0, sizeof *b);
	common_terms(log_text, store_mb, b);
	double entries = cfg_or(log_text, "cache.entries", 1000000);
	double rt = cfg_or(log_text, "central.cache_entries", 100000);
	term(b, "snapshot-count cache (cache.entries)", gen2_bytes(entries, 0) / MB);
	term(b, "read-through caches (central.cache_entries, x2)",
	     (gen2_bytes(rt, 48) + gen2_bytes(rt, 32)) / MB);
	term(b, "membership filter (store.member_filter_mb)",
	     cfg_or(log_text, "store.member_filter_mb", 16));
	double parts = cfg_or(log_text, "topics.partitions", 16);
	double max_ops = cfg_or(log_text, "batch.max_ops", 1000);
	term(b, "open batches (partitions x batch.max_ops x 160 B)", parts * max_ops * 160 / MB);
	term(b, "decoded batch ring (32 x batch.max_ops x 80 B)",
	     EDGE_DELTA_BATCHES * max_ops * 80 / MB);
	term(b, "token cache", EDGE_TOKCACHE_MB);
}

void soak_bound_central(const char *log_text, double store_mb, soak_bound *b)
{
	memset(b, 0, sizeof *b);
	common_terms(log_text, store_mb, b);
	double counts = cfg_or(log_text, "central.cache_counts", 500000);
	double members = cfg_or(log_text, "central.cache_members", 100000);
	term(b, "count and member caches (x 160 B)",
	     (counts + members) * CENTRAL_CACHE_ENTRY_B / MB);
}

void soak_bound_text(const soak_bound *b, char *buf, size_t cap)
{
	size_t k = 0;
	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < b->nterms && k < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%.1f %s", i ? " + " : "", b->terms[i].mb,
		                      b->terms[i].what);
	if (k < cap)
		snprintf(buf + k, cap - k, " = %.1f MB", b->total_mb);
}

void soak_rules_default(double duration_s, soak_rules *r)
{
	r->warmup_s = duration_s * SOAK_WARMUP_SHARE;
	r->rss_slack_mb = SOAK_RSS_SLACK_MB;
	r->rss_slack_share = SOAK_RSS_SLACK_SHARE;
	r->fd_slack = SOAK_FD_SLACK;
}

static double median(double *v, size_t n)
{
	probe_sort(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A field of the samples: anonymous RSS, or descriptors without the
 * store's. */
/* What a series of readings is read for. */
typedef enum what { ANON, FDS, UNHELD, HELD } what;

/* Reading s's figure: anonymous RSS, descriptors without the store's,
 * the anonymous memory no holder accounts for, or holder name's share
 * (0 when the reading does not name it). */
static double field(const soak_sample *s, what w, const char *name)
{
	switch (w) {
	case ANON: return s->anon_mb;
	case FDS: return s->fds - s->store_fds;
	case UNHELD: return soak_unheld_mb(s);
	case HELD:
		for (size_t i = 0; i < s->nheld; i++)
			if (strcmp(s->held[i].name, name) == 0)
				return s->held[i].mb;
		return 0;
	}
	return NAN;
}

/* Median of the figure over s[from, from + k). */
static double level(const soak_sample *s, size_t from, size_t k, what w, const char *name)
{
	double *v = xmalloc(k * sizeof *v);
	for (size_t i = 0; i < k; i++)
		v[i] = field(&s[from + i], w, name);
	double m = median(v, k);
	free(v);
	return m;
}

/* The least-squares line's rise over the span of s[0, n). */
static double trend(const soak_sample *s, size_t n, what w)
{
	double mt = 0, mv = 0;
	for (size_t i = 0; i < n; i++) {
		mt += s[i].t_s;
		mv += field(&s[i], w, NULL);
	}
	mt /= (double)n;
	mv /= (double)n;
	double sxy = 0, sxx = 0;
	for (size_t i = 0; i < n; i++) {
		double dt = s[i].t_s - mt;
		sxy += dt * (field(&s[i], w, NULL) - mv);
		sxx += dt * dt;
	}
	return sxx > 0 ? sxy / sxx * (s[n - 1].t_s - s[0].t_s) : 0;
}

/* The holders of the last reading, each at its settled and end level,
 * and the rest of the anonymous memory, when every reading after the
 * warm-up names holders. */
static void held_levels(const soak_sample *post, size_t npost, size_t k, soak_verdict *v)
{
	for (size_t i = 0; i < npost; i++)
		if (!post[i].nheld)
			return;
	const soak_sample *last = &post[npost - 1];
	v->nheld = last->nheld;
	for (size_t h = 0; h < last->nheld; h++) {
		const char *name = last->held[h].name;
		v->held_settled[h] = last->held[h];
		v->held_end[h] = last->held[h];
		v->held_settled[h].mb = level(post, 0, k, HELD, name);
		v->held_end[h].mb = level(post, npost - k, k, HELD, name);
	}
	v->have_unheld = true;
	v->unheld_settled = level(post, 0, k, UNHELD, NULL);
	v->unheld_end = level(post, npost - k, k, UNHELD, NULL);
	v->unheld_growth = v->unheld_end - v->unheld_settled;
	v->unheld_trend = trend(post, npost, UNHELD);
}

static void why(soak_verdict *v, const char *fmt, double a, double b)
{
	size_t k = strlen(v->why);
	if (k + 1 < sizeof v->why)
		snprintf(v->why + k, sizeof v->why - k, fmt, k ? "; " : "", a, b);
}

bool soak_judge(const soak_sample *s, size_t n, const soak_rules *r, const soak_bound *b,
                soak_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->n = n;
	size_t first = 0;
	while (first < n && s[first].t_s < r->warmup_s)
		first++;
	v->npost = n - first;
	for (size_t i = 0; i < n; i++) {
		v->rss_peak = fmax(v->rss_peak, fmax(s[i].hwm_mb, s[i].rss_mb));
		v->store_fds_max = fmax(v->store_fds_max, s[i].store_fds);
	}
	if (n) {
		v->rss_start = s[0].rss_mb;
		v->rss_end = s[n - 1].rss_mb;
		v->anon_start = s[0].anon_mb;
		v->fds_start = field(&s[0], FDS, NULL);
	}
	v->under_bound =
	    v->rss_peak <= b->total_mb && v->store_fds_max <= b->max_open_files + STORE_FIXED_FILES;
	if (v->rss_peak > b->total_mb)
		why(v, "%speak RSS %.1f MB is over the bound of %.1f MB", v->rss_peak, b->total_mb);
	if (v->store_fds_max > b->max_open_files + STORE_FIXED_FILES)
		why(v, "%s%.0f store files open, over LevelDB's max_open_files %.0f",
		    v->store_fds_max, b->max_open_files);
	if (v->npost < SOAK_POST_MIN) {
		why(v, "%sonly %.0f samples after the warm-up (%.0f needed): too short to judge",
		    (double)v->npost, (double)SOAK_POST_MIN);
		return false;
	}
	v->judged = true;
	const soak_sample *post = s + first;
	size_t k = (v->npost + 4) / 5;
	if (k < SOAK_WINDOW_MIN)
		k = SOAK_WINDOW_MIN;
	v->anon_settled = level(post, 0, k, ANON, NULL);
	v->anon_end = level(post, v->npost - k, k, ANON, NULL);
	v->anon_growth = v->anon_end - v->anon_settled;
	v->anon_trend = trend(post, v->npost, ANON);
	v->anon_allowed = r->rss_slack_mb + r->rss_slack_share * v->anon_settled;
	held_levels(post, v->npost, k, v);
	v->fds_settled = level(post, 0, k, FDS, NULL);
	v->fds_end = level(post, v->npost - k, k, FDS, NULL);
	v->fds_growth = v->fds_end - v->fds_settled;
	v->fds_trend = trend(post, v->npost, FDS);
	v->fds_allowed = r->fd_slack;
	v->fds_flat = v->fds_growth <= v->fds_allowed && v->fds_trend <= v->fds_allowed;
	if (v->have_unheld) {
		/* Caches filling towards their configured size are held by the
		 * bound; what none of them accounts for is where a leak grows. */
		v->anon_flat =
		    v->unheld_growth <= v->anon_allowed && v->unheld_trend <= v->anon_allowed;
		if (v->unheld_growth > v->anon_allowed)
			why(v,
			    "%sanonymous memory no holder accounts for grew %.1f MB after the "
			    "warm-up (%.1f allowed)",
			    v->unheld_growth, v->anon_allowed);
		if (v->unheld_trend > v->anon_allowed)
			why(v,
			    "%sanonymous memory no holder accounts for trends up %.1f MB after the "
			    "warm-up (%.1f allowed)",
			    v->unheld_trend, v->anon_allowed);
	} else {
		v->anon_flat =
		    v->anon_growth <= v->anon_allowed && v->anon_trend <= v->anon_allowed;
		if (v->anon_growth > v->anon_allowed)
			why(v, "%sanonymous RSS grew %.1f MB after the warm-up (%.1f allowed)",
			    v->anon_growth, v->anon_allowed);
		if (v->anon_trend > v->anon_allowed)
			why(v, "%sanonymous RSS trends up %.1f MB after the warm-up (%.1f allowed)",
			    v->anon_trend, v->anon_allowed);
	}
	if (v->fds_growth > v->fds_allowed)
		why(v, "%sopen descriptors grew by %.0f after the warm-up (%.0f allowed)",
		    v->fds_growth, v->fds_allowed);
	if (v->fds_trend > v->fds_allowed)
		why(v,
		    "%sopen descriptors trend up %.1f over the run after the warm-up (%.0f "
		    "allowed)",
		    v->fds_trend, v->fds_allowed);
	return v->anon_flat && v->fds_flat && v->under_bound;
}
