/* soak.h - a long drill's watch on its daemons: what each process holds
 * (resident memory, open descriptors, read from /proc), the most it may
 * hold given its configuration, and whether what it holds stays flat.
 *
 * A drill with "procs_every S" (drill.h) samples every running edge and
 * central every S seconds (soak_read). At the end each daemon's series is
 * judged (soak_judge):
 *
 *  - Warm-up: the first SOAK_WARMUP_SHARE of the run is not judged
 *    (caches, memtables and connection pools fill then).
 *  - Level: the median of the first fifth of the samples after the
 *    warm-up (at least SOAK_WINDOW_MIN samples) is where the daemon
 *    settled; the median of the last fifth is where it ended.
 *  - Flat: for memory and for descriptors alike, the end level may
 *    exceed the settled level by at most the slack, and so may the
 *    least-squares line through every sample after the warm-up, over that
 *    span (an upward trend a noisy end level could hide). Memory slack:
 *    SOAK_RSS_SLACK_MB + SOAK_RSS_SLACK_SHARE of the settled anonymous
 *    level; descriptors: SOAK_FD_SLACK. The memory judged is the
 *    anonymous part of RSS (RssAnon: heap, stacks, allocator arenas),
 *    where a leak grows, less what the daemon's own holders account for
 *    when every reading after the warm-up has them (its SOAK_HELD_*
 *    family: its caches, LevelDB's memtables and block cache, the
 *    allocator's free lists). Those fill towards their configured sizes
 *    for as long as the working set keeps bringing them new entries,
 *    which at a real working set is longer than any warm-up; the bound
 *    holds them, and what no holder accounts for must stay flat. A
 *    daemon that names no holders is judged on all of RssAnon. The
 *    file-backed part (RssFile) is mostly LevelDB's table
 *    files, which it maps into memory to read: it grows with the store
 *    on disk, is page cache the kernel can take back, and is held by the
 *    bound instead. Descriptors of the store's own files
 *    (under the daemon's data dir: LevelDB tables, its log, manifest)
 *    are left out of that: LevelDB opens one per table as the store
 *    grows, up to its max_open_files, which the bound holds instead.
 *  - Bounded: the peak RSS (the kernel's high-water mark, file-backed
 *    pages included) stays under the bound from the daemon's
 *    configuration and its store's size (soak_bound_edge,
 *    soak_bound_central), and the store's descriptors under LevelDB's
 *    max_open_files plus its few fixed files.
 * Fewer than SOAK_POST_MIN samples after the warm-up cannot be judged;
 * that is a failure too (the run was too short to say).
 *
 * The configuration is read the way the daemon ran it: the "config" lines
 * every daemon logs at start-up (key=section.name value=...); a key that
 * is not there keeps the default named here.
 *
 * Pure but for soak_read, soak_read_sched and soak_read_file. Any
 * thread.
 */
#ifndef SIM_SOAK_H
#define SIM_SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SOAK_WARMUP_SHARE (1.0 / 6.0)
#define SOAK_WINDOW_MIN 2
#define SOAK_POST_MIN 4
#define SOAK_RSS_SLACK_MB 8.0
#define SOAK_RSS_SLACK_SHARE 0.05
#define SOAK_FD_SLACK 8.0
/* What the bound adds for code, libraries, thread stacks and the
 * allocator's own slack: an idle edge or central starts at 15-25 MB. */
#define SOAK_BASE_MB 48.0
#define SOAK_TERMS_MAX 16

#define SOAK_HELD_MAX 12      /* holders kept per reading */
#define SOAK_HELD_NAME_MAX 23 /* bytes of a holder's name */
/* The families in which each daemon says what holds its memory, one
 * sample per holder (label "holder"), in bytes. */
#define SOAK_HELD_EDGE "likes_edge_memory_bytes"
#define SOAK_HELD_CENTRAL "likes_central_memory_bytes"

/* What one holder of a daemon's memory (a cache, the store's memtables
 * and block cache, the allocator's free lists) held, by its own count. */
typedef struct soak_held {
	char name[SOAK_HELD_NAME_MAX + 1];
	double mb;
} soak_held;

/* One reading of a process. */
typedef struct soak_sample {
	double t_s;       /* since the load started */
	double rss_mb;    /* VmRSS */
	double anon_mb;   /* RssAnon: the part a leak grows */
	double hwm_mb;    /* VmHWM: the peak so far */
	double fds;       /* open descriptors, all of them */
	double store_fds; /* of those, files under the data dir */
	/* Summed over its threads (/proc/PID/task/TID/schedstat), so far:
	 * time on a CPU, time waiting on a run queue, time slices run. All
	 * 0 when the kernel does not say. */
	double cpu_s, wait_s, slices;
	soak_held held[SOAK_HELD_MAX]; /* from its /metrics at the same time */
	size_t nheld;                  /* 0: not read */
} soak_sample;

/* The samples of family (SOAK_HELD_*) in a Prometheus text body, by their
 * holder label, into out (at most max, the first ones); how many. A
 * holder name is cut to SOAK_HELD_NAME_MAX bytes; one that is not
 * lower-case letters, digits and '_' is skipped, as is a value that is
 * not a finite number >= 0. */
size_t soak_parse_held(const char *metrics, const char *family, soak_held *out, size_t max);
/* The anonymous memory no holder accounts for (anon_mb less every
 * holder's), or NAN when s has no holders. */
double soak_unheld_mb(const soak_sample *s);

/* VmRSS, RssAnon and VmHWM (kB) from the text of /proc/PID/status;
 * false when one is missing. */
bool soak_parse_status(const char *text, double *rss_kb, double *anon_kb, double *hwm_kb);

/* Time on a CPU (ns), time waiting on a run queue (ns) and time slices
 * from the text of a /proc/.../schedstat; false when malformed. */
bool soak_parse_schedstat(const char *text, double *run_ns, double *wait_ns, double *slices);

/* Those of thread tid of pid (tid 0: summed over all its threads), in
 * seconds and slices; false when none could be read. */
bool soak_read_sched(pid_t pid, pid_t tid, double *cpu_s, double *wait_s, double *slices);

/* Reads /proc/PID/status and /proc/PID/fd; a descriptor whose link
 * target starts with data_dir + "/" counts as the store's. false when
 * the process is gone (or /proc cannot be read). */
bool soak_read(pid_t pid, const char *data_dir, double t_s, soak_sample *out);

/* The whole of a small text file, NUL-terminated, malloc'ed (the
 * caller frees it); NULL when it cannot be read. At most max bytes are
 * kept (the rest is dropped). */
char *soak_read_file(const char *path, size_t max);

/* The value of config key ("store.cache_mb") as the daemon logged it at
 * start-up in log_text (the last time, for a daemon started again);
 * false when it did not log it or it is not a number. */
bool soak_config_number(const char *log_text, const char *key, double *out);

/* A bound: its terms, in MB, and what each is. */
typedef struct soak_term {
	const char *what; /* static text */
	double mb;
} soak_term;

typedef struct soak_bound {
	soak_term terms[SOAK_TERMS_MAX];
	size_t nterms;
	double total_mb;
	double max_open_files; /* LevelDB's cap on the store's table files */
} soak_bound;

/* The most an edge / a central should hold from its configuration
 * (log_text: its log, for the config lines) and its store's size on
 * disk (store_mb: the open tables' index and filter blocks, and the
 * table files LevelDB maps, at most the whole store). */
void soak_bound_edge(const char *log_text, double store_mb, soak_bound *b);
void soak_bound_central(const char *log_text, double store_mb, soak_bound *b);
/* "48 base + 64 block cache + ..." into buf. */
void soak_bound_text(const soak_bound *b, char *buf, size_t cap);

typedef struct soak_rules {
	double warmup_s;
	double rss_slack_mb, rss_slack_share;
	double fd_slack;
} soak_rules;

/* The rules above for a run of duration_s seconds. */
void soak_rules_default(double duration_s, soak_rules *r);

typedef struct soak_verdict {
	size_t n, npost;                              /* samples, and those after the warm-up */
	double rss_start, rss_end, rss_peak;          /* VmRSS, MB */
	double anon_start, anon_settled, anon_end;    /* RssAnon, MB */
	double anon_growth, anon_trend, anon_allowed; /* of RssAnon */
	double fds_start, fds_settled, fds_end;       /* without the store's */
	double fds_growth, fds_trend, fds_allowed;
	double store_fds_max;
	/* What holds the memory by the daemon's own count (the holders of
	 * its last reading), settled and at the end, and the anonymous
	 * memory none of them accounts for; have_unheld only when every
	 * reading after the warm-up named holders. */
	soak_held held_settled[SOAK_HELD_MAX], held_end[SOAK_HELD_MAX];
	size_t nheld;
	bool have_unheld;
	double unheld_settled, unheld_end, unheld_growth, unheld_trend;
	bool judged; /* enough samples after the warm-up */
	bool anon_flat, fds_flat, under_bound;
	char why[512]; /* empty when it passed; else each reason */
} soak_verdict;

/* Judges one daemon's samples (in time order) against the rules and
 * bound. Returns true when it passed: judged, flat and under the bound. */
bool soak_judge(const soak_sample *s, size_t n, const soak_rules *r, const soak_bound *b,
                soak_verdict *v);

#endif
