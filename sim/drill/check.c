/* check.c - does every count agree with the truth everywhere (check.h)? */
#include "sim/drill/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "partition.h"
#include "sbuf.h"
#include "smap.h"
#include "xmem.h"

#define CHUNK 100 /* items per /v1/counts request */
#define REQ_TIMEOUT_MS 3000
#define LIST_MAX 20    /* mismatches named one by one */
#define SETTLE_MS 5000 /* digests given to agree once offsets do */
#define SAMPLE_ITEMS 8 /* counts compared item by item with the single */

typedef struct mismatch {
	const load_truth_entry *t;
	const char *where;
	long long seen;  /* -1: no answer */
	long long other; /* in range, but another node said this (-1: none) */
} mismatch;

/* The count of (counter, item) in an answer: central's
 * {"items":{item:{"counts":{counter:n}}}} or the edge's
 * {"counts":{item:{counter:n}}}; -1 when absent. */
static long long count_in(json_t *root, bool central, const char *counter, const char *item)
{
	json_t *o;
	if (central)
		o = json_object_get(json_object_get(json_object_get(root, "items"), item),
		                    "counts");
	else
		o = json_object_get(json_object_get(root, "counts"), item);
	json_t *v = json_object_get(o, counter);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Is got what entry t allows? A count the given-up ops leave open
 * (lo < hi) may be anywhere in its range, but the same at every node
 * asked this round: agree keeps the first node's value by counter/item. */
static bool count_ok(const load_truth_entry *t, long long got, smap *agree, long long *other)
{
	*other = -1;
	if (t->lo == t->hi)
		return got == (long long)t->count;
	if (got < (long long)t->lo || got > (long long)t->hi)
		return false;
	char key[COUNTER_MAX + ITEM_MAX + 2];
	int klen = snprintf(key, sizeof key, "%s/%s", t->counter, t->item);
	bool created = false;
	smap_val *v = smap_put(agree, key, (size_t)klen, &created);
	if (created)
		v->i = got;
	*other = v->i;
	return v->i == got;
}

/* Compares truth[from, to) with one node's answers; counts mismatches in
 * *found and keeps the first cap of them. */
static void compare_chunk(const cluster_node *node, const load_truth_entry *truth, size_t from,
                          size_t to, smap *agree, mismatch *out, size_t cap, size_t *found)
{
	bool central = node->kind == DRILL_CENTRAL;
	sbuf path;
	sbuf_init(&path);
	sbuf_adds(&path, "/v1/counts?items=");
	size_t nitems = 0;
	for (size_t i = from; i < to; i++) /* sorted: an item's entries are adjacent */
		if (i == from || strcmp(truth[i].item, truth[i - 1].item) != 0)
			sbuf_addf(&path, "%s%s", nitems++ ? "," : "", truth[i].item);
	sbuf_addf(&path, "&counters=%s,%s", LOAD_SET_COUNTER, LOAD_SUM_COUNTER);
	hclient_answer a;
	json_t *root = NULL;
	if (cluster_node_get(node, path.p, central ? CLUSTER_TOKEN : NULL, REQ_TIMEOUT_MS, &a) ==
	        0 &&
	    a.status == 200)
		root = json_loadb(a.body, a.len, 0, NULL);
	for (size_t i = from; i < to; i++) {
		long long got =
		              root ? count_in(root, central, truth[i].counter, truth[i].item) : -1,
		          other;
		if (count_ok(&truth[i], got, agree, &other))
			continue;
		if (*found < cap)
			out[*found] = (mismatch){&truth[i], node->name, got, other};
		(*found)++;
	}
	json_decref(root);
	free(a.body);
	sbuf_free(&path);
}

/* Chunks of at most CHUNK distinct items (truth is sorted by item). */
static void compare_node(const cluster_node *node, const load_truth_entry *truth, size_t n,
                         smap *agree, mismatch *out, size_t cap, size_t *found)
{
	size_t from = 0;
	while (from < n) {
		size_t to = from, items = 0;
		while (to < n) {
			bool new_item =
			    to == from || strcmp(truth[to].item, truth[to - 1].item) != 0;
			if (new_item && items == CHUNK)
				break;
			items += new_item;
			to++;
		}
		compare_chunk(node, truth, from, to, agree, out, cap, found);
		from = to;
	}
}

static int by_item(const void *a, const void *b)
{
	const load_truth_entry *x = a, *y = b;
	int c = strcmp(x->item, y->item);
	return c ? c : strcmp(x->counter, y->counter);
}

bool check_converge(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                    report *r, double *seconds)
{
	return check_counts_off(c, truth, n, timeout_s, r, seconds) == 0;
}

size_t check_counts_off(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                        report *r, double *seconds)
{
	const drill *d = c->d;
	unsigned nshards = drill_shard_count(d);
	/* Per shard, the entries of the items it owns, still sorted. */
	load_truth_entry *sorted = xmalloc((n ? n : 1) * sizeof *sorted);
	memcpy(sorted, truth, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, by_item);
	load_truth_entry *own[DRILL_CENTRALS_MAX];
	size_t nown[DRILL_CENTRALS_MAX] = {0};
	for (unsigned s = 0; s < nshards; s++)
		own[s] = xmalloc((n ? n : 1) * sizeof *own[s]);
	for (size_t i = 0; i < n; i++) {
		const char *item = sorted[i].item;
		unsigned s =
		    drill_shard_of_partition(d, partition_of(item, strlen(item), d->partitions));
		own[s][nown[s]++] = sorted[i];
	}
	mismatch list[LIST_MAX];
	size_t found = 0;
	bool down[DRILL_CENTRALS_MAX] = {false};
	uint64_t start = clock_mono_ms(), end = start + (uint64_t)timeout_s * 1000;
	smap agree;
	for (;;) {
		found = 0;
		smap_init(&agree);
		/* Each count at every running central of its item's shard; at
		 * the shard's primary when none runs (it will not answer). */
		for (unsigned s = 0; s < nshards; s++) {
			bool asked = false;
			for (unsigned j = s; j < d->centrals; j += nshards) {
				down[j] = !cluster_node_alive(&c->centrals[j]);
				if (down[j])
					continue;
				compare_node(&c->centrals[j], own[s], nown[s], &agree, list,
				             LIST_MAX, &found);
				asked = true;
			}
			if (!asked)
				compare_node(&c->centrals[s], own[s], nown[s], &agree, list,
				             LIST_MAX, &found);
		}
		/* Every edge; with standbys, every instance that runs (one taken
		 * over from exits), edgeN when none does. */
		for (unsigned i = 0; i < d->regions; i++) {
			bool asked = false;
			for (unsigned k = 0; d->standby && k < cluster_instances(c); k++) {
				cluster_node *e = cluster_instance(c, i, k);
				if (!cluster_node_alive(e))
					continue;
				compare_node(e, sorted, n, &agree, list, LIST_MAX, &found);
				asked = true;
			}
			if (!asked)
				compare_node(&c->edges[i], sorted, n, &agree, list, LIST_MAX,
				             &found);
		}
		smap_free(&agree);
		if (!found || clock_mono_ms() > end)
			break;
		usleep(250 * 1000);
	}
	*seconds = (double)(clock_mono_ms() - start) / 1000.0;
	for (unsigned j = 0; j < d->centrals; j++)
		if (down[j])
			report_violation(r, "%s was not running for the final checks",
			                 c->centrals[j].name);
	for (size_t i = 0; i < found && i < LIST_MAX; i++) {
		const load_truth_entry *t = list[i].t;
		if (t->lo == t->hi)
			report_violation(r, "%s %s at %s: expected %" PRIu64 ", seen %lld", t->item,
			                 t->counter, list[i].where, t->count, list[i].seen);
		else
			report_violation(r,
			                 "%s %s at %s: expected one value in %" PRIu64 "..%" PRIu64
			                 " everywhere (ops given up leave it open), seen %lld, "
			                 "elsewhere %lld",
			                 t->item, t->counter, list[i].where, t->lo, t->hi,
			                 list[i].seen, list[i].other);
	}
	if (found > LIST_MAX)
		report_violation(r, "%zu more counts disagree with the truth", found - LIST_MAX);
	for (unsigned s = 0; s < nshards; s++)
		free(own[s]);
	free(sorted);
	return found;
}

/* One partition's state as a central's /v1/digest gives it. */
typedef struct part_digest {
	bool have;
	char digest[24];
	uint64_t keys, offset;
} part_digest;

/* GET /v1/digest of n: the JSON, NULL when it does not answer. */
static json_t *digest_json(const cluster_node *n)
{
	hclient_answer a;
	json_t *root = NULL;
	if (cluster_node_get(n, "/v1/digest", CLUSTER_TOKEN, REQ_TIMEOUT_MS, &a) == 0 &&
	    a.status == 200)
		root = json_loadb(a.body, a.len, 0, NULL);
	free(a.body);
	return root;
}

/* Fills out[p] (nparts entries) for each partition in root's list. */
static void parts_of(json_t *root, part_digest *out, unsigned nparts)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(root, "partitions"), i, e)
	{
		json_t *jp = json_object_get(e, "partition");
		const char *dg = json_string_value(json_object_get(e, "digest"));
		if (!json_is_integer(jp) || !dg || json_integer_value(jp) < 0 ||
		    json_integer_value(jp) >= (json_int_t)nparts)
			continue;
		part_digest *pd = &out[json_integer_value(jp)];
		pd->have = true;
		snprintf(pd->digest, sizeof pd->digest, "%s", dg);
		pd->keys = (uint64_t)json_integer_value(json_object_get(e, "keys"));
		pd->offset = (uint64_t)json_integer_value(json_object_get(e, "offset"));
	}
}

/* "pF=digest@offset ..." for partitions first..last of d. */
static void parts_text(sbuf *b, const part_digest *d, unsigned first, unsigned last)
{
	for (unsigned p = first; p <= last; p++) {
		if (d[p].have)
			sbuf_addf(b, "%sp%u=%s@%" PRIu64, p == first ? "" : " ", p, d[p].digest,
			          d[p].offset);
		else
			sbuf_addf(b, "%sp%u=(none)", p == first ? "" : " ", p);
	}
}

/* The state of one central as text to compare replicas by: the whole
 * store's digest and every offset; with shards also each owned
 * partition's digest and offset. NULL when it does not answer. */
static char *digest_of(const cluster *c, const cluster_node *n)
{
	json_t *root = digest_json(n);
	char *out = NULL;
	const char *d = json_string_value(json_object_get(root, "digest"));
	char *offs = json_dumps(json_object_get(root, "offsets"), JSON_COMPACT);
	if (d && offs && !c->d->shards && asprintf(&out, "%s offsets %s", d, offs) < 0)
		out = NULL;
	if (d && offs && c->d->shards) {
		unsigned first, last;
		drill_shard_range(c->d, drill_shard_of_central(c->d, (unsigned)n->index), &first,
		                  &last);
		part_digest *pd = xcalloc(c->d->partitions, sizeof *pd);
		parts_of(root, pd, c->d->partitions);
		sbuf b;
		sbuf_init(&b);
		parts_text(&b, pd, first, last);
		sbuf_addf(&b, " (whole store %s)", d);
		out = xstrdup(b.p);
		sbuf_free(&b);
		free(pd);
	}
	free(offs);
	json_decref(root);
	return out;
}

/* Every replica of shard s against its first: the same text in time? */
static bool shard_digests(cluster *c, unsigned s, uint64_t end, report *r)
{
	unsigned nshards = drill_shard_count(c->d);
	if (s + nshards >= c->d->centrals)
		return true; /* one instance: nothing to compare */
	char *first = NULL, *other = NULL;
	unsigned bad = s;
	for (;;) {
		free(first);
		first = digest_of(c, &c->centrals[s]);
		bad = s;
		for (unsigned j = s + nshards; first && j < c->d->centrals; j += nshards) {
			free(other);
			other = digest_of(c, &c->centrals[j]);
			if (!other || strcmp(first, other) != 0) {
				bad = j;
				break;
			}
		}
		if ((first && bad == s) || clock_mono_ms() > end)
			break;
		usleep(250 * 1000);
	}
	bool same = first && bad == s;
	char key[64];
	if (c->d->shards)
		snprintf(key, sizeof key, "replica_digest_shard%u", s);
	else
		snprintf(key, sizeof key, "replica_digest");
	if (same)
		report_text(r, key, first);
	else if (bad == s)
		report_violation(r, "central replicas differ: %s gives no digest",
		                 c->centrals[s].name);
	else
		report_violation(r, "central replicas differ: %s %s, %s %s", c->centrals[s].name,
		                 first, c->centrals[bad].name, other ? other : "(no answer)");
	free(first);
	free(other);
	return same;
}

bool check_digests(cluster *c, unsigned timeout_s, report *r)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_s * 1000;
	bool ok = true;
	for (unsigned s = 0; s < drill_shard_count(c->d); s++)
		ok &= shard_digests(c, s, end, r);
	return ok;
}

/* --- the single instance against the shards ----------------------------------- */

/* Each partition's state at a running owner (want) and at the single
 * instance (got); who[p] names the owner. True when every partition
 * answered at both with the same offset. */
static bool both_sides(cluster *c, part_digest *want, part_digest *got, const char **who)
{
	unsigned nparts = c->d->partitions;
	memset(want, 0, nparts * sizeof *want);
	memset(got, 0, nparts * sizeof *got);
	for (unsigned s = 0; s < drill_shard_count(c->d); s++) {
		unsigned first, last;
		drill_shard_range(c->d, s, &first, &last);
		cluster_node *owner = cluster_owner(c, first);
		json_t *root = owner ? digest_json(owner) : NULL;
		parts_of(root, want, nparts);
		json_decref(root);
		for (unsigned p = first; p <= last; p++)
			who[p] = owner ? owner->name : "(no owner running)";
	}
	json_t *root = digest_json(&c->single);
	parts_of(root, got, nparts);
	json_decref(root);
	bool even = true;
	for (unsigned p = 0; p < nparts; p++)
		even &= want[p].have && got[p].have && want[p].offset == got[p].offset;
	return even;
}

/* The counts of items (comma list) at n: the JSON, NULL without one. */
static json_t *counts_json(const cluster_node *n, const char *items)
{
	char path[1024];
	snprintf(path, sizeof path, "/v1/counts?items=%s&counters=%s,%s", items, LOAD_SET_COUNTER,
	         LOAD_SUM_COUNTER);
	hclient_answer a;
	json_t *root = NULL;
	if (cluster_node_get(n, path, CLUSTER_TOKEN, REQ_TIMEOUT_MS, &a) == 0 && a.status == 200)
		root = json_loadb(a.body, a.len, 0, NULL);
	free(a.body);
	return root;
}

/* item's counts at a running owner and at the single instance, added
 * to b as "item likes X/Y views X/Y"; a violation for each difference. */
static bool sample_item(cluster *c, const char *item, sbuf *b, report *r)
{
	const char *counters[2] = {LOAD_SET_COUNTER, LOAD_SUM_COUNTER};
	cluster_node *owner = cluster_owner(c, partition_of(item, strlen(item), c->d->partitions));
	json_t *a = owner ? counts_json(owner, item) : NULL;
	json_t *g = counts_json(&c->single, item);
	bool ok = true;
	sbuf_addf(b, "%s%s", b->len ? "; " : "", item);
	for (int k = 0; k < 2; k++) {
		long long x = a ? count_in(a, true, counters[k], item) : -1;
		long long y = g ? count_in(g, true, counters[k], item) : -1;
		sbuf_addf(b, " %s %lld/%lld", counters[k], x, y);
		if (x != y) {
			report_violation(r,
			                 "%s %s: the shards (%s) count %lld, the single instance "
			                 "%lld",
			                 item, counters[k], owner ? owner->name : "no owner", x, y);
			ok = false;
		}
	}
	json_decref(a);
	json_decref(g);
	return ok;
}

/* A few items' counts side by side (shards/single): some spread over
 * the truth, and the viral item. */
static bool sample_counts(cluster *c, const load_truth_entry *truth, size_t n, report *r)
{
	sbuf b;
	sbuf_init(&b);
	bool ok = true, viral = false;
	size_t step = n / SAMPLE_ITEMS ? n / SAMPLE_ITEMS : 1;
	for (size_t i = 0; i < n; i += step) {
		ok &= sample_item(c, truth[i].item, &b, r);
		viral |= strcmp(truth[i].item, LOAD_VIRAL) == 0;
	}
	if (!viral)
		ok &= sample_item(c, LOAD_VIRAL, &b, r);
	report_text(r, "single_counts", b.p);
	sbuf_free(&b);
	return ok;
}

bool check_single(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                  report *r)
{
	if (!c->d->shards)
		return true;
	char err[256] = "";
	uint64_t start = clock_mono_ms();
	if (cluster_single_start(c, err, sizeof err)) {
		report_violation(r, "the single-instance central did not start: %s", err);
		return false;
	}
	unsigned nparts = c->d->partitions;
	part_digest *want = xcalloc(nparts, sizeof *want), *got = xcalloc(nparts, sizeof *got);
	const char **who = xcalloc(nparts, sizeof *who);
	uint64_t end = start + (uint64_t)timeout_s * 1000, settle = 0;
	bool even;
	for (;;) {
		even = both_sides(c, want, got, who);
		bool same = even;
		for (unsigned p = 0; same && p < nparts; p++)
			same = strcmp(want[p].digest, got[p].digest) == 0;
		if (same)
			break;
		uint64_t now = clock_mono_ms();
		if (even && !settle)
			settle = now + SETTLE_MS;
		if (now > end || (settle && now > settle))
			break;
		usleep(250 * 1000);
	}
	report_number(r, "single_catch_up_s", (double)(clock_mono_ms() - start) / 1000.0);
	sbuf b;
	sbuf_init(&b);
	parts_text(&b, want, 0, nparts - 1);
	report_text(r, "union_digests", b.p);
	sbuf_free(&b);
	sbuf_init(&b);
	parts_text(&b, got, 0, nparts - 1);
	report_text(r, "single_digests", b.p);
	sbuf_free(&b);
	bool ok = true;
	if (!even)
		report_violation(r,
		                 "the single-instance central did not reach the shards' offsets "
		                 "within %u s",
		                 timeout_s);
	for (unsigned p = 0; p < nparts; p++) {
		if (want[p].have && got[p].have && want[p].offset == got[p].offset &&
		    strcmp(want[p].digest, got[p].digest) == 0)
			continue;
		ok = false;
		report_violation(
		    r,
		    "partition %u: the shards (%s) have %s, %" PRIu64 " keys at offset %" PRIu64
		    "; the single instance %s, %" PRIu64 " keys at offset %" PRIu64,
		    p, who[p], want[p].have ? want[p].digest : "no digest", want[p].keys,
		    want[p].offset, got[p].have ? got[p].digest : "no digest", got[p].keys,
		    got[p].offset);
	}
	ok &= sample_counts(c, truth, n, r);
	free(want);
	free(got);
	free(who);
	return ok;
}

bool check_logs(cluster *c, report *r)
{
	bool ok = true;
	for (unsigned j = 0; j <= c->d->centrals; j++) {
		const cluster_node *n = j < c->d->centrals ? &c->centrals[j] : &c->single;
		if (j == c->d->centrals && !c->single_made)
			break;
		FILE *f = fopen(n->log, "r");
		if (!f)
			continue;
		char line[4096];
		while (fgets(line, sizeof line, f)) {
			if (strstr(line, "would go below zero")) {
				report_violation(r, "%s logged a count going below zero: %.200s",
				                 n->name, line);
				ok = false;
				break;
			}
		}
		fclose(f);
	}
	return ok;
}

/* Adds to *n the unclean elections node logs under dir (sim kafka's
 * --dir: node1/out.log, ...) report, and their partitions to b. */
static void unclean_in(const char *name, const char *dir, int nodes, unsigned *n, sbuf *b)
{
	static const char mark[] = "using an unclean election";
	for (int i = 1; i <= nodes; i++) {
		char path[1024], line[4096];
		snprintf(path, sizeof path, "%s/node%d/out.log", dir, i);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			const char *at = strstr(line, "Setting new leader for topicId ");
			if (!at || !strstr(line, mark))
				continue;
			(*n)++;
			/* "... topicId ID, partition P to L using ...": the
			 * topic's id, the partition and the new leader. */
			const char *end = strstr(at, mark);
			sbuf_addf(b, "%s%s node%d: %.*s", b->len ? "; " : "", name, i,
			          (int)(end - at - 31 < 120 ? end - at - 31 : 120), at + 31);
		}
		fclose(f);
	}
}

/* Changes named in the report's text (its texts hold 512 bytes); all
 * are counted. */
#define ELECTIONS_LISTED 8

/* What the clusters' leader changes add up to. */
typedef struct elections {
	unsigned all, changelog, leaderless, listed;
} elections;

/* The leader changes cluster k's metadata log holds, asked of its sim
 * kafka (the elections command: a file of "AT_MS TOPIC PARTITION FROM
 * TO" lines): counted into e, its likes.changelog's moves too when
 * regional (the log the regions' instances write: on their own clusters
 * with regional_kafka, else on central's); the first named in b, the
 * time in seconds from t0_wall_ms. False when the cluster could not say
 * (why in err). */
static bool elections_of(kproc *k, bool regional, uint64_t t0_wall_ms, elections *e, sbuf *b,
                         char *err, size_t errlen)
{
	char ans[1024], path[1024];
	long n;
	if (kproc_ask(k, "elections", ans, sizeof ans, err, errlen))
		return false;
	if (sscanf(ans, "%ld %1023s", &n, path) != 2) { /* service_ask took the "ok" */
		snprintf(err, errlen, "%s answered \"%.200s\"", k->name, ans);
		return false;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %.200s", path);
		return false;
	}
	char line[512], topic[256];
	long long at;
	int part, from, to;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lld %255s %d %d %d", &at, topic, &part, &from, &to) == 5) {
			e->all++;
			e->changelog += regional && strcmp(topic, CLUSTER_CHANGELOG_TOPIC) == 0;
			e->leaderless += to < 0;
			if (e->listed == ELECTIONS_LISTED)
				continue;
			e->listed++;
			sbuf_addf(b, "%s%s %s-%d ", b->len ? "; " : "", k->name, topic, part);
			sbuf_addf(b, from < 0 ? "none" : "%d", from);
			sbuf_addf(b, to < 0 ? "->none" : "->%d", to);
			sbuf_addf(b, " at %+.1f s", ((double)at - (double)t0_wall_ms) / 1000.0);
		}
	fclose(f);
	return true;
}

void check_kafka_elections(cluster *c, uint64_t t0_wall_ms, report *r)
{
	unsigned n = 0;
	sbuf b, moves, errs;
	sbuf_init(&b);
	sbuf_init(&moves);
	sbuf_init(&errs);
	kproc *every[1 + DRILL_REGIONS_MAX];
	size_t nk = 0;
	every[nk++] = &c->kafka;
	for (unsigned i = 0; c->d->regional_kafka && i < c->d->regions; i++)
		every[nk++] = &c->regional[i];
	bool real = false;
	elections e = {0};
	for (size_t i = 0; i < nk; i++) {
		kproc *k = every[i];
		size_t ln = strlen(k->log);
		if (!k->real || ln < 5 || strcmp(k->log + ln - 4, ".log") != 0)
			continue;
		real = true;
		char dir[512];
		snprintf(dir, sizeof dir, "%.*s", (int)(ln - 4), k->log);
		unclean_in(k->name, dir, k->nbrokers, &n, &b);
		char err[256];
		bool regional = c->d->regional_kafka ? i > 0 : true;
		if (!elections_of(k, regional, t0_wall_ms, &e, &moves, err, sizeof err))
			sbuf_addf(&errs, "%s%s: %s", errs.len ? "; " : "", k->name, err);
	}
	report_number(r, "kafka_unclean_elections", n);
	if (n)
		report_text(r, "kafka_unclean_elections_at", b.p);
	/* Figures, not checks: what the clusters' controllers did; none
	 * when a cluster could not say (a count of a part would read as
	 * the whole). */
	if (real && errs.len) {
		report_text(r, "kafka_leader_changes_unread", errs.p);
	} else if (real) {
		report_number(r, "kafka_leader_changes", e.all);
		report_number(r, "kafka_changelog_leader_changes", e.changelog);
		report_number(r, "kafka_leaderless_changes", e.leaderless);
		if (e.all > e.listed)
			sbuf_addf(&moves, "; %u more", e.all - e.listed);
		if (moves.len)
			report_text(r, "kafka_leader_changes_at", moves.p);
	}
	sbuf_free(&b);
	sbuf_free(&moves);
	sbuf_free(&errs);
}

long long check_edge_count(const cluster_node *edge, const char *counter, const char *item,
                           unsigned timeout_ms)
{
	char path[256];
	const char *colon = strchr(item, ':');
	if (!colon)
		return -1;
	snprintf(path, sizeof path, "/v1/items/%.*s/%s/%s", (int)(colon - item), item, colon + 1,
	         counter);
	hclient_answer a;
	long long n = -1;
	if (cluster_node_get(edge, path, NULL, timeout_ms, &a) == 0 && a.status == 200) {
		const char *p = strstr(a.body, "\"count\":");
		if (p)
			n = strtoll(p + 8, NULL, 10);
	}
	free(a.body);
	return n;
}

double check_metric_in(const char *body, const char *name)
{
	size_t nl = strlen(name);
	double sum = 0;
	bool found = false;
	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, nl) != 0 || (p[nl] != ' ' && p[nl] != '{'))
			continue;
		const char *end = strchr(p, '\n');
		const char *sp = p + nl;
		if (*sp == '{')
			sp = strchr(sp, '}');
		if (!sp || (end && sp > end))
			continue;
		sum += strtod(sp + 1, NULL);
		found = true;
	}
	return found ? sum : -1;
}

bool check_faulted_central(const drill *d)
{
	for (size_t i = 0; i < d->nsteps; i++)
		if (d->steps[i].node == DRILL_CENTRAL || d->steps[i].action == DRILL_BROKER_DOWN)
			return true;
	return false;
}
