/* check_indet.c - the ops the load gave up without an answer, judged one
 * way everywhere (check.h, check_indeterminate): central says whether
 * each pair ended in, the load's truth takes that, and every count of
 * their items must then be exactly the truth at central and at every
 * edge, so that a given-up op counts once or not at all, the same
 * everywhere. Runner thread, after check_converge.
 */
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
#include "xmem.h"

#define ASK_TIMEOUT_MS 3000
#define ASK_TRIES 5

/* The pair's membership at central: 1, 0, or -1 when no owner of the
 * item's partition says it. */
static int member_at_central(cluster *c, const load_indet *e)
{
	const drill *d = c->d;
	const char *id = strchr(e->item, ':');
	if (!id)
		return -1;
	char path[256];
	snprintf(path, sizeof path, "/v1/items/post/%s/" LOAD_SET_COUNTER "/users/%s", id + 1,
	         e->user);
	unsigned p = partition_of(e->item, strlen(e->item), d->partitions);
	for (int t = 0; t < ASK_TRIES; t++) {
		cluster_node *n = cluster_owner(c, p);
		hclient_answer a;
		int said = -1;
		if (n && cluster_node_get(n, path, CLUSTER_TOKEN, ASK_TIMEOUT_MS, &a) == 0) {
			json_t *root = a.status == 200 ? json_loadb(a.body, a.len, 0, NULL) : NULL;
			json_t *m = json_object_get(root, "member");
			if (json_is_boolean(m))
				said = json_is_true(m);
			json_decref(root);
			free(a.body);
		}
		if (said >= 0)
			return said;
		usleep(500 * 1000);
	}
	return -1;
}

/* The truth's entries of the items in e[0..n), the resolved truth. */
static size_t items_of(load *l, const load_indet *e, size_t n, load_truth_entry **out)
{
	load_truth_entry *all = NULL;
	size_t na = load_truth(l, &all), k = 0;
	load_truth_entry *sub = xcalloc(na ? na : 1, sizeof *sub);
	for (size_t i = 0; i < na; i++) {
		if (strcmp(all[i].counter, LOAD_SET_COUNTER) != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcmp(all[i].item, e[j].item) == 0) {
				sub[k++] = all[i];
				break;
			}
	}
	free(all);
	*out = sub;
	return k;
}

bool check_indeterminate(cluster *c, load *l, unsigned timeout_s, report *r)
{
	load_indet *e = NULL;
	size_t n = load_indeterminate(l, &e);
	report_number(r, "indeterminate", (double)n);
	if (!n) {
		report_number(r, "indeterminate_counted", 0);
		report_number(r, "indeterminate_not_counted", 0);
		report_number(r, "indeterminate_disagreeing", 0);
		return true;
	}
	size_t counted = 0, not_counted = 0, unknown = 0;
	for (size_t i = 0; i < n; i++) {
		int m = member_at_central(c, &e[i]);
		if (m < 0) {
			unknown++;
			report_violation(r, "%s's given-up %s of %s: central did not say the pair",
			                 e[i].user, e[i].like ? "like" : "unlike", e[i].item);
			continue;
		}
		load_resolve(l, i, m == 1);
		bool as_op = (m == 1) == e[i].like;
		counted += as_op;
		not_counted += !as_op;
		log_info("an op given up, resolved at central",
		         "user=%s item=%s op=%s at_ms=%" PRIu64 " region=%u instance=%u member=%d "
		         "counted=%d",
		         e[i].user, e[i].item, e[i].like ? "like" : "unlike", e[i].at_ms,
		         e[i].region, e[i].inst, m, as_op);
	}
	load_truth_entry *sub = NULL;
	size_t ns = items_of(l, e, n, &sub);
	double secs = 0;
	size_t off = check_counts_off(c, sub, ns, timeout_s, r, &secs);
	free(sub);
	free(e);
	report_number(r, "indeterminate_counted", (double)counted);
	report_number(r, "indeterminate_not_counted", (double)not_counted);
	report_number(r, "indeterminate_disagreeing", (double)(unknown + off));
	char text[256];
	snprintf(text, sizeof text,
	         "%zu given up without an answer: %zu counted, %zu not, %zu disagreeing "
	         "(central and every edge, each count of their items exact)",
	         n, counted, not_counted, unknown + off);
	report_text(r, "indeterminate_ops", text);
	return unknown + off == 0;
}
