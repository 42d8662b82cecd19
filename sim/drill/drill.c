/* drill.c - the drill file parser: settings and timed steps, checked hard.
 *
 * Two passes. The first reads line by line: each line is split into words
 * (a '#' ends the line), a setting is range-checked and may appear once,
 * a step is checked against its action's shape (drill_steps.c, through
 * drill_int.h, which the two files share). The second pass checks
 * what depends on settings that may come later in the file (a node index
 * against regions or centrals, a step time against the duration) and
 * reports the earliest bad line. Only then are the steps sorted.
 *
 * Owns nothing past the call except d->steps (freed by drill_free). Pure:
 * no I/O but reading the file in drill_parse_file. Any thread.
 */
#include "sim/drill/drill_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/broker/broker.h"
#include "xmem.h"

#define LINE_MAX_BYTES 1024
#define FILE_MAX_BYTES (1u << 20)
#define WORDS_MAX 8
#define SKEW_MAX_MS 86400000LL
#define USERS_MAX 10000000

typedef enum num_kind { NUM_UINT, NUM_REAL } num_kind;

/* A setting that is one number written into a field of the drill. */
typedef struct num_setting {
	const char *key;
	int id;
	num_kind kind;
	size_t off;
	double lo, hi;
} num_setting;

static const num_setting num_settings[] = {
    {"regions", SET_REGIONS, NUM_UINT, offsetof(drill, regions), 1, DRILL_REGIONS_MAX},
    {"centrals", SET_CENTRALS, NUM_UINT, offsetof(drill, centrals), 1, DRILL_CENTRALS_MAX},
    {"partitions", SET_PARTITIONS, NUM_UINT, offsetof(drill, partitions), 1,
     SIM_BROKER_PARTITIONS_MAX},
    {"shards", SET_SHARDS, NUM_UINT, offsetof(drill, shards), 1, DRILL_CENTRALS_MAX},
    {"users", SET_USERS, NUM_UINT, offsetof(drill, users), 1, USERS_MAX},
    {"items", SET_ITEMS, NUM_UINT, offsetof(drill, items), 1, USERS_MAX},
    {"zipf", SET_ZIPF, NUM_REAL, offsetof(drill, zipf), 0.01, 5},
    {"viral", SET_VIRAL, NUM_REAL, offsetof(drill, viral), 0, 1},
    {"unlike", SET_UNLIKE, NUM_REAL, offsetof(drill, unlike), 0, 1},
    {"sum", SET_SUM, NUM_REAL, offsetof(drill, sum), 0, 1},
    {"roam", SET_ROAM, NUM_REAL, offsetof(drill, roam), 0, 1},
    {"undo", SET_UNDO, NUM_REAL, offsetof(drill, undo), 0, 1},
    {"reads", SET_READS, NUM_REAL, offsetof(drill, reads), 0, 1},
    {"me", SET_ME, NUM_REAL, offsetof(drill, me), 0, 1},
    {"give_up", SET_GIVE_UP, NUM_REAL, offsetof(drill, give_up), 0, 1},
    {"snapshot_ms", SET_SNAPSHOT, NUM_UINT, offsetof(drill, snapshot_ms), 10, MS_MAX},
    {"batch_age_ms", SET_BATCH_AGE, NUM_UINT, offsetof(drill, batch_age_ms), 1, MS_MAX},
    {"converge_s", SET_CONVERGE, NUM_UINT, offsetof(drill, converge_s), 1, 3600},
    {"procs_every", SET_PROCS, NUM_UINT, offsetof(drill, procs_every_s), 1, 3600},
    {"store_cache_mb", SET_STORE_CACHE, NUM_UINT, offsetof(drill, store_cache_mb), 1, 65536},
    {"latency_every", SET_LATENCY_EVERY, NUM_UINT, offsetof(drill, latency_every_s), 1, 3600},
    {"broker_idle", SET_BROKER_IDLE, NUM_UINT, offsetof(drill, broker_idle), 0, 1},
    {"netns", SET_NETNS, NUM_UINT, offsetof(drill, netns), 0, 1},
    {"client_relay", SET_CLIENT_RELAY, NUM_UINT, offsetof(drill, client_relay), 0, 1},
    {"changelog", SET_CHANGELOG, NUM_UINT, offsetof(drill, changelog), 0, 1},
    {"standby", SET_STANDBY, NUM_UINT, offsetof(drill, standby), 0, 1},
    {"takeover_ms", SET_TAKEOVER, NUM_UINT, offsetof(drill, takeover_ms), 50, MS_MAX},
    {"regional_kafka", SET_REGIONAL, NUM_UINT, offsetof(drill, regional_kafka), 0, 1},
    {"feed", SET_FEED, NUM_UINT, offsetof(drill, feed), 0, 1},
    {"snapshot_check", SET_SNAPSHOT_CHECK, NUM_UINT, offsetof(drill, snapshot_check), 0, 1},
    {"fetch_wait_ms", SET_FETCH_WAIT, NUM_UINT, offsetof(drill, fetch_wait_ms), 1, 5000},
    {"kafka_nodes", SET_KAFKA_NODES, NUM_UINT, offsetof(drill, kafka_nodes), 1, 5},
    {"regional_kafka_netns", SET_REGIONAL_NETNS, NUM_UINT, offsetof(drill, regional_kafka_netns), 0,
     1},
    {"kafka_full_jit", SET_KAFKA_FULL_JIT, NUM_UINT, offsetof(drill, kafka_full_jit), 0, 1},
    {"client_conns", SET_CLIENT_CONNS, NUM_UINT, offsetof(drill, client_conns), 1,
     DRILL_CLIENT_CONNS_MAX},
};

/* The keys of "expect KEY MAX": the word, and the most MAX may be. */
static const struct {
	drill_expect_key key;
	const char *word;
	double hi;
} expect_keys[] = {
    {DRILL_EXPECT_READY_WRITE_P99, "ready_write_p99_ms", MS_MAX},
    {DRILL_EXPECT_READY_WRITE_P999, "ready_write_p999_ms", MS_MAX},
    {DRILL_EXPECT_READY_READ_P99, "ready_read_p99_ms", MS_MAX},
    {DRILL_EXPECT_READY_READ_ERRORS, "ready_read_errors", 1e12},
    {DRILL_EXPECT_READY_READTHROUGHS, "ready_readthroughs", 1e12},
    {DRILL_EXPECT_READ_ERRORS, "read_errors", 1e12},
    {DRILL_EXPECT_INTERVAL_P99, "interval_p99_ms", MS_MAX},
    {DRILL_EXPECT_INTERVAL_EDGE_P99, "interval_edge_p99_ms", MS_MAX},
    {DRILL_EXPECT_INTERVAL_DRIFT, "interval_drift", 100},
    {DRILL_EXPECT_TAKEOVER_MAX, "takeover_max_s", 3600},
    {DRILL_EXPECT_READY_ME_P99, "ready_me_p99_ms", MS_MAX},
    {DRILL_EXPECT_READY_ME_READTHROUGHS, "ready_me_readthroughs", 1e12},
    {DRILL_EXPECT_ACTIVE_CHANGES, "active_changes", 1e6},
    {DRILL_EXPECT_NOT_REPLICATED, "not_replicated", 1e12},
};

_Static_assert(sizeof expect_keys / sizeof expect_keys[0] <= DRILL_EXPECTS_MAX,
               "every expect key fits in a drill");

/* Second pass: keeps the failure with the lowest line number. */
static void fail_late(parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_late(parser *p, int line, const char *fmt, ...)
{
	if (p->late_line && p->late_line <= line)
		return;
	p->late_line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->late_msg, sizeof p->late_msg, fmt, ap);
	va_end(ap);
}

/* Marks setting id as given on this line; a second time is an error. */
static int once(parser *p, int id, const char *key)
{
	if (p->seen[id])
		return drill_fail(p, "%s given twice (first on line %d)", key, p->seen[id]);
	p->seen[id] = p->line;
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || drill_is_digit(c) || c == '_' ||
	       c == '-' || c == '.';
}

/* "KEY FULL [short SHORT]", given once: both values in lo..hi, the
 * second for short runs (*short_given then set). args names the values
 * for the error on a bad shape. */
static int get_full_short(parser *p, char **w, int nw, int id, const char *args, double lo,
                          double hi, double *full, double *short_val, bool *short_given)
{
	const char *key = w[0];
	int rc;
	if (nw != 2 && !(nw == 4 && strcmp(w[2], "short") == 0))
		return drill_fail(p, "%s takes %s", key, args);
	if ((rc = once(p, id, key)) || (rc = drill_get_real(p, key, w[1], lo, hi, full)))
		return rc;
	if (nw == 4) {
		char what[32];
		snprintf(what, sizeof what, "short %s", key);
		if ((rc = drill_get_real(p, what, w[3], lo, hi, short_val)))
			return rc;
		*short_given = true;
	}
	return 0;
}

/* "expect KEY MAX": each key once, MAX in 0..the key's bound. */
static int parse_expect(parser *p, char **w, int nw)
{
	drill *d = p->d;
	if (nw != 3)
		return drill_fail(p, "expect takes KEY MAX");
	size_t k = 0, nkeys = sizeof expect_keys / sizeof expect_keys[0];
	while (k < nkeys && strcmp(w[1], expect_keys[k].word) != 0)
		k++;
	if (k == nkeys)
		return drill_fail(
		    p,
		    "unknown expect key '%s' (ready_write_p99_ms, ready_write_p999_ms, "
		    "ready_read_p99_ms, ready_read_errors, ready_readthroughs, "
		    "read_errors, interval_p99_ms, interval_edge_p99_ms, "
		    "interval_drift, takeover_max_s, ready_me_p99_ms, "
		    "ready_me_readthroughs, active_changes or not_replicated)",
		    w[1]);
	const drill_expect *prev = drill_expect_of(d, expect_keys[k].key);
	if (prev)
		return drill_fail(p, "expect %s given twice (first on line %d)", w[1], prev->line);
	double max;
	int rc = drill_get_real(p, w[1], w[2], 0, expect_keys[k].hi, &max);
	if (rc)
		return rc;
	d->expects[d->nexpects++] = (drill_expect){expect_keys[k].key, max, p->line};
	return 0;
}

/* "milestones T1,T2,...": ascending thresholds, each 1..2^53-1. */
static int parse_milestones(parser *p, char **w, int nw)
{
	drill *d = p->d;
	int rc;
	if (nw != 2)
		return drill_fail(p, "milestones takes one list (T1,T2,... ascending)");
	if ((rc = once(p, SET_MILESTONES, w[0])))
		return rc;
	d->nmilestones = 0;
	char *save = NULL;
	for (char *t = strtok_r(w[1], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (d->nmilestones == DRILL_MILESTONES_MAX)
			return drill_fail(p, "more than %d milestones", DRILL_MILESTONES_MAX);
		uint64_t v;
		if ((rc = drill_get_u64(p, "milestone", t, &v)))
			return rc;
		if (v < 1 || v >= (UINT64_C(1) << 53))
			return drill_fail(p, "milestone %s out of range 1..2^53-1", t);
		if (d->nmilestones && v <= d->milestones[d->nmilestones - 1])
			return drill_fail(p, "milestones must ascend (%s after %" PRIu64 ")", t,
			                  d->milestones[d->nmilestones - 1]);
		d->milestones[d->nmilestones++] = v;
	}
	if (!d->nmilestones)
		return drill_fail(p, "milestones takes at least one threshold");
	return 0;
}

static int parse_setting(parser *p, char **w, int nw)
{
	drill *d = p->d;
	const char *key = w[0];
	int rc;

	for (size_t i = 0; i < sizeof num_settings / sizeof num_settings[0]; i++) {
		const num_setting *ns = &num_settings[i];
		if (strcmp(key, ns->key) != 0)
			continue;
		if (nw != 2)
			return drill_fail(p, "%s takes one value", key);
		if ((rc = once(p, ns->id, key)))
			return rc;
		char *field = (char *)d + ns->off;
		if (ns->kind == NUM_UINT) {
			int64_t v;
			if ((rc =
			         drill_get_int(p, key, w[1], (int64_t)ns->lo, (int64_t)ns->hi, &v)))
				return rc;
			*(unsigned *)(void *)field = (unsigned)v;
		} else {
			if ((rc = drill_get_real(p, key, w[1], ns->lo, ns->hi,
			                         (double *)(void *)field)))
				return rc;
		}
		return 0;
	}

	if (strcmp(key, "name") == 0) {
		if (nw != 2)
			return drill_fail(p, "name takes one word");
		if ((rc = once(p, SET_NAME, key)))
			return rc;
		size_t n = strlen(w[1]);
		if (n > DRILL_NAME_MAX)
			return drill_fail(p, "name longer than %d bytes", DRILL_NAME_MAX);
		for (size_t i = 0; i < n; i++)
			if (!name_char(w[1][i]))
				return drill_fail(
				    p, "bad name '%s' (letters, digits, '_', '-', '.')", w[1]);
		memcpy(d->name, w[1], n + 1);
		return 0;
	}
	if (strcmp(key, "duration") == 0) {
		if ((rc = get_full_short(p, w, nw, SET_DURATION, "FULL_S [short SHORT_S]", 1,
		                         TIME_MAX_S, &d->duration_s, &d->short_duration_s,
		                         &p->short_given)))
			return rc;
		if (nw == 4 && d->short_duration_s > d->duration_s)
			return drill_fail(p, "short duration %s is longer than the full %s", w[3],
			                  w[1]);
		return 0;
	}
	if (strcmp(key, "rate") == 0)
		return get_full_short(p, w, nw, SET_RATE, "OPS [short OPS]", 0, RATE_MAX, &d->rate,
		                      &d->short_rate, &p->short_rate_given);
	if (strcmp(key, "seed") == 0) {
		if (nw != 2)
			return drill_fail(p, "seed takes one value");
		if ((rc = once(p, SET_SEED, key)))
			return rc;
		return drill_get_u64(p, "seed", w[1], &d->seed);
	}
	if (strcmp(key, "expect") == 0)
		return parse_expect(p, w, nw);
	if (strcmp(key, "durability") == 0) {
		if (nw != 2)
			return drill_fail(p, "durability takes one word (replicated or local)");
		if ((rc = once(p, SET_DURABILITY, key)))
			return rc;
		if (strcmp(w[1], "local") == 0)
			d->durability_local = true;
		else if (strcmp(w[1], "replicated") != 0)
			return drill_fail(p, "bad durability '%s' (replicated or local)", w[1]);
		return 0;
	}
	if (strcmp(key, "kafka") == 0) {
		if (nw != 2)
			return drill_fail(p, "kafka takes one word (embedded or real)");
		if ((rc = once(p, SET_KAFKA, key)))
			return rc;
		if (strcmp(w[1], "real") == 0)
			d->kafka_real = 1;
		else if (strcmp(w[1], "embedded") != 0)
			return drill_fail(p, "bad kafka '%s' (embedded or real)", w[1]);
		return 0;
	}
	if (strcmp(key, "milestones") == 0)
		return parse_milestones(p, w, nw);
	if (strcmp(key, "regional_nodes") == 0) {
		/* regional_nodes N (every region), or regional_nodes edgeK N. */
		if (nw != 2 && nw != 3)
			return drill_fail(p, "regional_nodes takes N, or edgeK N");
		int idx = -1;
		if (nw == 3) {
			drill_node_kind kind;
			if ((rc = drill_get_node(p, w[1], &kind, &idx, NULL)))
				return rc;
			if (kind != DRILL_EDGE || idx >= DRILL_REGIONS_MAX)
				return drill_fail(p, "regional_nodes takes an edge, not '%s'",
				                  w[1]);
		}
		int64_t v;
		if ((rc = drill_get_int(p, "regional nodes", w[nw - 1], 1, DRILL_REGIONAL_BROKERS,
		                        &v)))
			return rc;
		for (int i = 0; i < DRILL_REGIONS_MAX; i++) {
			if (idx >= 0 && i != idx)
				continue;
			if (idx < 0 && p->nodes_line[i])
				continue; /* a region's own line wins, in any order */
			d->regional_nodes[i] = (unsigned)v;
			if (idx >= 0)
				p->nodes_line[i] = p->line;
		}
		if (!p->seen[SET_REGIONAL_NODES])
			p->seen[SET_REGIONAL_NODES] = p->line;
		return 0;
	}
	if (strcmp(key, "skew") == 0) {
		if (nw != 3)
			return drill_fail(p, "skew takes edgeN MS or edgeN.standby MS");
		drill_node_kind kind;
		int idx;
		bool standby;
		if ((rc = drill_get_node(p, w[1], &kind, &idx, &standby)))
			return rc;
		if (kind != DRILL_EDGE)
			return drill_fail(p, "skew takes an edge, not '%s'", w[1]);
		if (idx >= DRILL_REGIONS_MAX)
			return drill_fail(p, "%s is past the most regions (%d)", w[1],
			                  DRILL_REGIONS_MAX);
		if (p->skew_line[standby][idx])
			return drill_fail(p, "skew %s given twice (first on line %d)", w[1],
			                  p->skew_line[standby][idx]);
		if ((rc = drill_get_int(p, "skew ms", w[2], -SKEW_MAX_MS, SKEW_MAX_MS,
		                        &d->skew_ms[standby][idx])))
			return rc;
		p->skew_line[standby][idx] = p->line;
		if (!standby && !p->skew_line[1][idx])
			d->skew_ms[1][idx] = d->skew_ms[0][idx]; /* both, until edgeN.standby */
		return 0;
	}
	return drill_fail(p, "unknown statement '%s'", key);
}

/* One line, without its newline. */
static int parse_line(parser *p, const char *raw, size_t len)
{
	char buf[LINE_MAX_BYTES + 1];
	if (len > LINE_MAX_BYTES)
		return drill_fail(p, "line longer than %d bytes", LINE_MAX_BYTES);
	memcpy(buf, raw, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\0')
			return drill_fail(p, "NUL byte in the line");
		if (c < 0x20 && c != '\t' && !(c == '\r' && i == len - 1))
			return drill_fail(p, "control character 0x%02x in the line", c);
	}
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	/* The statement as written: trimmed, comment dropped. */
	char *text = buf;
	while (*text == ' ' || *text == '\t')
		text++;
	size_t n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (n == 0)
		return 0;
	char stmt[LINE_MAX_BYTES + 1];
	memcpy(stmt, text, n + 1);

	char *w[WORDS_MAX];
	int nw = 0;
	char *save = NULL;
	for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nw == WORDS_MAX)
			return drill_fail(p, "too many words (at most %d)", WORDS_MAX);
		w[nw++] = t;
	}
	if (nw == 0) /* cannot happen after the trim; says so to the compiler */
		return 0;
	if (strcmp(w[0], "at") == 0)
		return drill_parse_step(p, w, nw, stmt);
	return parse_setting(p, w, nw);
}

/* A cut or heal between a region's nodes: real nodes of a cluster of
 * the region's own, each behind sim's relays, and ids it has. */
static void check_brokers_step(parser *p, const drill_step *s)
{
	const drill *d = p->d;
	if (!d->kafka_real || !d->regional_kafka || !d->netns) {
		fail_late(
		    p, s->line,
		    "a cut between Kafka nodes needs kafka real, regional_kafka 1 and netns 1");
		return;
	}
	if ((unsigned)s->index >= d->regions) {
		fail_late(p, s->line, "kafka%d is past regions %u (kafka0..kafka%u)", s->index,
		          d->regions, d->regions - 1);
		return;
	}
	unsigned nodes = d->regional_nodes[s->index];
	if (nodes < 2)
		fail_late(p, s->line, "kafka%d has %u node: nothing to cut it from", s->index,
		          nodes);
	if ((s->a > 0 && (unsigned)s->a > nodes) || (s->b > 0 && (unsigned)s->b > nodes))
		fail_late(p, s->line, "node past regional_nodes %u of kafka%d", nodes, s->index);
}

/* Checks that need every setting: shards, node indexes, step times,
 * skews, interval expectations, standbys. They judge the settings as
 * written, which is the short run's shape; drill_shape's full run only
 * turns more on, and nothing here forbids what it adds. */
static void check_late(parser *p)
{
	const drill *d = p->d;
	if (d->standby && !d->changelog)
		fail_late(p, p->seen[SET_STANDBY],
		          "standby 1 needs changelog 1 (a region's instances share its edge's "
		          "changelog: the standby follows it and takes it over)");
	if (d->takeover_ms && !d->changelog)
		fail_late(p, p->seen[SET_TAKEOVER],
		          "takeover_ms needs changelog 1 (it is the changelog's takeover)");
	if (d->regional_kafka && !d->changelog)
		fail_late(p, p->seen[SET_REGIONAL],
		          "regional_kafka 1 needs changelog 1 (a region's own Kafka holds its "
		          "changelog)");
	if (p->seen[SET_MILESTONES] && !d->feed)
		fail_late(p, p->seen[SET_MILESTONES],
		          "milestones needs feed 1 (they are central's feed.milestones)");
	if (d->reads + d->me > 1)
		fail_late(p, p->seen[SET_ME],
		          "reads %.2f and me %.2f add up to more than all the ops", d->reads,
		          d->me);
	if (p->seen[SET_KAFKA_NODES] && !d->kafka_real)
		fail_late(p, p->seen[SET_KAFKA_NODES],
		          "kafka_nodes needs kafka real (the embedded cluster has three brokers)");
	if (p->seen[SET_KAFKA_FULL_JIT] && !d->kafka_real)
		fail_late(p, p->seen[SET_KAFKA_FULL_JIT],
		          "kafka_full_jit needs kafka real (the embedded cluster is no JVM)");
	if (p->seen[SET_REGIONAL_NODES] && !d->regional_kafka)
		fail_late(p, p->seen[SET_REGIONAL_NODES],
		          "regional_nodes needs regional_kafka 1 (the regions' own clusters)");
	if (d->regional_kafka_netns && (!d->kafka_real || !d->regional_kafka || !d->netns))
		fail_late(p, p->seen[SET_REGIONAL_NETNS],
		          "regional_kafka_netns 1 needs kafka real, regional_kafka 1 and netns 1 "
		          "(real nodes of a region's own cluster, linked by sim's relays)");
	if (p->seen[SET_DURABILITY] && !d->changelog)
		fail_late(p, p->seen[SET_DURABILITY],
		          "durability needs changelog 1 (it is the changelog's durability)");
	for (unsigned i = 0; i < DRILL_REGIONS_MAX; i++) {
		for (unsigned k = 0; k < 2; k++)
			if (p->skew_line[k][i] && i >= d->regions)
				fail_late(p, p->skew_line[k][i], "skew edge%u is past regions %u",
				          i, d->regions);
		if (p->skew_line[1][i] && !d->standby)
			fail_late(p, p->skew_line[1][i],
			          "skew edge%u.standby names a standby instance: needs standby 1",
			          i);
	}
	if (d->shards > d->centrals)
		fail_late(p, p->seen[SET_SHARDS], "shards %u is more than centrals %u", d->shards,
		          d->centrals);
	if (d->shards > d->partitions)
		fail_late(p, p->seen[SET_SHARDS], "shards %u is more than partitions %u", d->shards,
		          d->partitions);
	for (size_t i = 0; i < d->nexpects; i++) {
		const drill_expect *x = &d->expects[i];
		bool interval = x->key == DRILL_EXPECT_INTERVAL_P99 ||
		                x->key == DRILL_EXPECT_INTERVAL_EDGE_P99 ||
		                x->key == DRILL_EXPECT_INTERVAL_DRIFT;
		if (interval && !d->latency_every_s)
			fail_late(p, x->line, "expect %s needs latency_every",
			          drill_expect_name(x->key));
		if ((x->key == DRILL_EXPECT_TAKEOVER_MAX || x->key == DRILL_EXPECT_ACTIVE_CHANGES ||
		     x->key == DRILL_EXPECT_NOT_REPLICATED) &&
		    !d->standby)
			fail_late(p, x->line, "expect %s needs standby 1",
			          drill_expect_name(x->key));
	}
	for (size_t i = 0; i < d->nsteps; i++) {
		const drill_step *s = &d->steps[i];
		if (s->node == DRILL_EDGE && (unsigned)s->index >= d->regions)
			fail_late(p, s->line, "edge%d is past regions %u (edge0..edge%u)", s->index,
			          d->regions, d->regions - 1);
		if (s->node == DRILL_CENTRAL && (unsigned)s->index >= d->centrals)
			fail_late(p, s->line, "central%d is past centrals %u (central0..central%u)",
			          s->index, d->centrals, d->centrals - 1);
		if (s->at_s > d->duration_s)
			fail_late(p, s->line, "step at %gs is past the duration %gs", s->at_s,
			          d->duration_s);
		/* (A cut between Kafka nodes says what it needs below.) */
		if (!d->netns && drill_action_on_path(s->action) &&
		    s->action != DRILL_BROKERS_CUT && s->action != DRILL_BROKERS_HEAL)
			fail_late(p, s->line, "netns 0 runs no relays, so no path to fault");
		if (!d->client_relay && drill_action_on_path(s->action) && s->node == DRILL_EDGE &&
		    s->link == DRILL_LINK_CLIENTS)
			fail_late(p, s->line,
			          "client_relay 0: the load's clients do not cross edge%d's "
			          "clients relay, so a fault there does not reach them",
			          s->index);
		if (s->standby && !d->standby)
			fail_late(p, s->line,
			          "edge%d.standby names a standby instance: needs standby 1",
			          s->index);
		bool regional = s->link == DRILL_LINK_REGIONAL || drill_action_regional(s->action);
		if (regional && !d->regional_kafka)
			fail_late(p, s->line, "a region's own Kafka needs regional_kafka 1");
		int target = drill_action_regional(s->action) ? (int)s->a : s->index;
		if (drill_action_real_only(s->action) && !d->kafka_real)
			fail_late(p, s->line, "%s needs kafka real (a node's process)",
			          drill_action_word(s->action));
		if (target == DRILL_BROKER_LEADER && !d->kafka_real)
			fail_late(p, s->line,
			          "a broker named leader needs kafka real (the embedded cluster's "
			          "leaders are its own)");
		if ((s->action == DRILL_BROKER_RTT || s->action == DRILL_BROKER_ERRORS) &&
		    d->kafka_real)
			fail_late(
			    p, s->line,
			    "%s is the embedded cluster's; on real Kafka delay a path instead",
			    drill_action_word(s->action));
		if (!drill_action_regional(s->action) && s->node == 0 && target > 0 &&
		    d->kafka_real && s->action != DRILL_BROKER_ERRORS &&
		    (unsigned)target > d->kafka_nodes)
			fail_late(p, s->line, "broker %d is past kafka_nodes %u", target,
			          d->kafka_nodes);
		if (drill_action_regional(s->action) && target > 0 && d->kafka_real &&
		    s->index >= 0 && (unsigned)s->index < DRILL_REGIONS_MAX &&
		    (unsigned)target > d->regional_nodes[s->index])
			fail_late(p, s->line, "broker %d is past regional_nodes %u of edge%d",
			          target, d->regional_nodes[s->index], s->index);
		if (s->action == DRILL_BROKERS_CUT || s->action == DRILL_BROKERS_HEAL)
			check_brokers_step(p, s);
		if (s->action == DRILL_MOVE && d->me <= 0)
			fail_late(p, s->line,
			          "move needs me > 0 (users have homes only with heart reads)");
		if (s->action == DRILL_MOVE && d->regions < 2)
			fail_late(p, s->line, "move needs regions 2 or more");
		if (s->action == DRILL_MOVE && (uint64_t)s->a > d->users)
			fail_late(p, s->line, "move of %" PRId64 " users is more than users %u",
			          s->a, d->users);
		if (s->action == DRILL_TRIM && !d->changelog)
			fail_late(p, s->line,
			          "trim needs changelog 1 (it trims the region's changelog)");
	}
}

static int cmp_step(const void *a, const void *b)
{
	const drill_step *x = a, *y = b;
	if (x->at_s != y->at_s)
		return x->at_s < y->at_s ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/* The base name of path without a ".drill" ending, odd bytes as '_'. */
static void default_name(char *dst, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 6 && strcmp(base + n - 6, ".drill") == 0)
		n -= 6;
	if (n > DRILL_NAME_MAX)
		n = DRILL_NAME_MAX;
	for (size_t i = 0; i < n; i++)
		dst[i] = name_char(base[i]) ? base[i] : '_';
	dst[n] = '\0';
	if (n == 0)
		strcpy(dst, "drill");
}

static void set_defaults(drill *d, const char *name)
{
	memset(d, 0, sizeof *d);
	default_name(d->name, name);
	d->regions = 3;
	d->centrals = 1;
	d->partitions = 8;
	d->rate = 300;
	d->short_rate = 150;
	d->users = 2000;
	d->items = 2000;
	d->zipf = 1.1;
	d->viral = 0.2;
	d->unlike = 0.2;
	d->sum = 0.2;
	d->roam = 0.05;
	d->reads = 0.1;
	d->snapshot_ms = 500;
	d->batch_age_ms = 500;
	d->converge_s = 60;
	d->seed = 1;
	d->broker_idle = 1;
	d->netns = 1;
	d->client_relay = 1;
	d->feed = 1;
	d->snapshot_check = 1;
	d->fetch_wait_ms = 10;
	d->kafka_nodes = 1;
	d->client_conns = DRILL_CLIENT_CONNS;
	for (int i = 0; i < DRILL_REGIONS_MAX; i++)
		d->regional_nodes[i] = DRILL_REGIONAL_BROKERS;
	static const uint64_t milestones[] = {DRILL_MILESTONES_DEFAULT};
	d->nmilestones = sizeof milestones / sizeof milestones[0];
	memcpy(d->milestones, milestones, sizeof milestones);
}

int drill_parse(const char *name, const char *text, drill *d, char *err, size_t errlen)
{
	parser p;
	memset(&p, 0, sizeof p);
	p.path = name ? name : "drill";
	p.err = err;
	p.errlen = errlen;
	p.d = d;
	set_defaults(d, p.path);
	if (err && errlen)
		err[0] = '\0';

	int rc = 0;
	const char *s = text;
	for (;;) {
		p.line++;
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (!nl && len == 0 && p.line > 1) {
			p.line--; /* the text ended with a newline */
			break;
		}
		if ((rc = parse_line(&p, s, len)))
			goto fail;
		if (!nl)
			break;
		s = nl + 1;
	}

	if (!p.seen[SET_DURATION]) {
		rc = drill_fail(&p, "no duration statement (duration FULL_S [short SHORT_S])");
		goto fail;
	}
	if (!p.short_given)
		d->short_duration_s = d->duration_s;
	if (p.seen[SET_RATE] && !p.short_rate_given)
		d->short_rate = d->rate / 2;
	check_late(&p);
	if (p.late_line) {
		p.line = p.late_line;
		rc = drill_fail(&p, "%s", p.late_msg);
		goto fail;
	}
	if (d->nsteps > 1)
		qsort(d->steps, d->nsteps, sizeof *d->steps, cmp_step);
	/* A cut between nodes needs them in namespaces of their own. */
	for (size_t i = 0; i < d->nsteps; i++)
		if (d->steps[i].action == DRILL_BROKERS_CUT)
			d->regional_kafka_netns = 1;
	d->shape_auto = (p.seen[SET_CHANGELOG] ? 0 : DRILL_AUTO_CHANGELOG) |
	                (p.seen[SET_STANDBY] ? 0 : DRILL_AUTO_STANDBY) |
	                (p.seen[SET_REGIONAL] ? 0 : DRILL_AUTO_REGIONAL) |
	                (p.seen[SET_FETCH_WAIT] ? 0 : DRILL_AUTO_FETCH_WAIT);
	return 0;
fail:
	drill_free(d);
	return rc;
}

int drill_parse_file(const char *path, drill *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return e == ENOENT ? ERR_NOTFOUND : ERR_IO;
	}
	char *buf = xmalloc(FILE_MAX_BYTES + 1);
	size_t n = fread(buf, 1, FILE_MAX_BYTES + 1, f);
	int rc = 0;
	if (ferror(f)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: read error", path);
		rc = ERR_IO;
	} else if (n > FILE_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s:1: file larger than %u bytes", path,
			         FILE_MAX_BYTES);
		rc = ERR_CONFIG;
	} else if (memchr(buf, '\0', n)) {
		/* The parser works on C strings: find the line for the message. */
		const char *z = memchr(buf, '\0', n);
		int line = 1;
		for (const char *q = buf; q < z; q++)
			line += *q == '\n';
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: NUL byte in the line", path, line);
		rc = ERR_CONFIG;
	}
	fclose(f);
	if (rc == 0) {
		buf[n] = '\0';
		rc = drill_parse(path, buf, d, err, errlen);
	}
	free(buf);
	return rc;
}

void drill_free(drill *d)
{
	if (!d)
		return;
	free(d->steps);
	d->steps = NULL;
	d->nsteps = 0;
	d->nexpects = 0;
}

const char *drill_expect_name(drill_expect_key key)
{
	for (size_t k = 0; k < sizeof expect_keys / sizeof expect_keys[0]; k++)
		if (expect_keys[k].key == key)
			return expect_keys[k].word;
	return "?";
}
