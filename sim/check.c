/* check.c - does every count agree with the truth everywhere (check.h)? */
#include "check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "httpget.h"
#include "log.h"
#include "sbuf.h"

#define CHUNK 100          /* items per /v1/counts request */
#define REQ_TIMEOUT_MS 3000
#define LIST_MAX 20        /* mismatches named one by one */

typedef struct mismatch {
	const load_truth_entry *t;
	const char *where;
	long long seen; /* -1: no answer */
} mismatch;

/* The count of (counter, item) in an answer: central's
 * {"items":{item:{"counts":{counter:n}}}} or the edge's
 * {"counts":{item:{counter:n}}}; -1 when absent. */
static long long count_in(json_t *root, bool central, const char *counter, const char *item)
{
	json_t *o;
	if (central)
		o = json_object_get(json_object_get(json_object_get(root, "items"), item), "counts");
	else
		o = json_object_get(json_object_get(root, "counts"), item);
	json_t *v = json_object_get(o, counter);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Compares truth[from, to) with one node's answers; counts mismatches in
 * *found and keeps the first cap of them. */
static void compare_chunk(const cluster_node *node, const load_truth_entry *truth, size_t from,
			    size_t to, mismatch *out, size_t cap, size_t *found)
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
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	json_t *root = NULL;
	if (httpget(node->port, path.p, central ? CLUSTER_TOKEN : NULL, REQ_TIMEOUT_MS,
		    &status, &body, &len) == 0 &&
	    status == 200)
		root = json_loadb(body, len, 0, NULL);
	for (size_t i = from; i < to; i++) {
		long long got = root ? count_in(root, central, truth[i].counter, truth[i].item) : -1;
		if (got == (long long)truth[i].count)
			continue;
		if (*found < cap)
			out[*found] = (mismatch){&truth[i], node->name, got};
		(*found)++;
	}
	json_decref(root);
	free(body);
	sbuf_free(&path);
}

/* Chunks of at most CHUNK distinct items (truth is sorted by item). */
static void compare_node(const cluster_node *node, const load_truth_entry *truth, size_t n,
			 mismatch *out, size_t cap, size_t *found)
{
	size_t from = 0;
	while (from < n) {
		size_t to = from, items = 0;
		while (to < n) {
			bool new_item = to == from || strcmp(truth[to].item, truth[to - 1].item) != 0;
			if (new_item && items == CHUNK)
				break;
			items += new_item;
			to++;
		}
		compare_chunk(node, truth, from, to, out, cap, found);
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
	load_truth_entry *sorted = malloc((n ? n : 1) * sizeof *sorted);
	if (!sorted)
		abort();
	memcpy(sorted, truth, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, by_item);
	mismatch list[LIST_MAX];
	size_t found = 0;
	uint64_t start = clock_mono_ms(), end = start + (uint64_t)timeout_s * 1000;
	for (;;) {
		found = 0;
		for (unsigned j = 0; j < c->d->centrals; j++)
			compare_node(&c->centrals[j], sorted, n, list, LIST_MAX, &found);
		for (unsigned i = 0; i < c->d->regions; i++)
			compare_node(&c->edges[i], sorted, n, list, LIST_MAX, &found);
		if (!found || clock_mono_ms() > end)
			break;
		usleep(250 * 1000);
	}
	*seconds = (double)(clock_mono_ms() - start) / 1000.0;
	for (size_t i = 0; i < found && i < LIST_MAX; i++)
		report_violation(r, "%s %s at %s: expected %" PRIu64 ", seen %lld", list[i].t->item,
				 list[i].t->counter, list[i].where, list[i].t->count, list[i].seen);
	if (found > LIST_MAX)
		report_violation(r, "%zu more counts disagree with the truth", found - LIST_MAX);
	free(sorted);
	return found == 0;
}

/* The digest and offsets of one central, as text; NULL when it does not
 * answer. */
static char *digest_of(const cluster_node *n)
{
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	if (httpget(n->port, "/v1/digest", CLUSTER_TOKEN, REQ_TIMEOUT_MS, &status, &body,
		    &len) ||
	    status != 200) {
		free(body);
		return NULL;
	}
	json_t *root = json_loadb(body, len, 0, NULL);
	free(body);
	char *out = NULL;
	const char *d = json_string_value(json_object_get(root, "digest"));
	char *offs = json_dumps(json_object_get(root, "offsets"), JSON_COMPACT);
	if (d && offs && asprintf(&out, "%s offsets %s", d, offs) < 0)
		out = NULL;
	free(offs);
	json_decref(root);
	return out;
}

bool check_digests(cluster *c, unsigned timeout_s, report *r)
{
	if (c->d->centrals < 2)
		return true;
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_s * 1000;
	char *a = NULL, *b = NULL;
	for (;;) {
		free(a);
		free(b);
		a = digest_of(&c->centrals[0]);
		b = digest_of(&c->centrals[1]);
		if ((a && b && strcmp(a, b) == 0) || clock_mono_ms() > end)
			break;
		usleep(250 * 1000);
	}
	bool same = a && b && strcmp(a, b) == 0;
	if (same)
		report_text(r, "replica_digest", a);
	else
		report_violation(r, "central replicas differ: central0 %s, central1 %s",
				 a ? a : "(no answer)", b ? b : "(no answer)");
	free(a);
	free(b);
	return same;
}

bool check_logs(cluster *c, report *r)
{
	bool ok = true;
	for (unsigned j = 0; j < c->d->centrals; j++) {
		FILE *f = fopen(c->centrals[j].log, "r");
		if (!f)
			continue;
		char line[4096];
		while (fgets(line, sizeof line, f)) {
			if (strstr(line, "would go below zero")) {
				report_violation(r, "%s logged a count going below zero: %.200s",
						 c->centrals[j].name, line);
				ok = false;
				break;
			}
		}
		fclose(f);
	}
	return ok;
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
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	long long n = -1;
	if (httpget(edge->port, path, NULL, timeout_ms, &status, &body, &len) == 0 &&
	    status == 200) {
		const char *p = strstr(body, "\"count\":");
		if (p)
			n = strtoll(p + 8, NULL, 10);
	}
	free(body);
	return n;
}
