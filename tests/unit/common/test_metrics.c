/* test_metrics.c - the Prometheus registry (common/metrics.c): series
 * and families, the text format, histograms, hooks, and updates from
 * several threads.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

static metrics *M;
static sbuf out;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	M = metrics_new("t_");
	sbuf_init(&out);
}

static void teardown(void)
{
	metrics_free(M);
	sbuf_free(&out);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 30);

static const char *render(void)
{
	sbuf_free(&out);
	sbuf_init(&out);
	metrics_render(M, &out);
	return out.p;
}

Test(metrics, counters_and_gauges_render_in_the_text_format)
{
	metric *a = metrics_counter(M, "reqs_total", "Requests.", "route=\"count\"");
	metric *b = metrics_counter(M, "reqs_total", "Requests.", "route=\"ops\"");
	metric *g = metrics_gauge(M, "pending", "Pending ops.", NULL);
	metric_add(a, 3);
	metric_add(b, 1);
	metric_add(a, 2);
	metric_set(g, 7);
	metric_gauge_add(g, -9);
	cr_assert_str_eq(render(), "# HELP t_reqs_total Requests.\n"
	                           "# TYPE t_reqs_total counter\n"
	                           "t_reqs_total{route=\"count\"} 5\n"
	                           "t_reqs_total{route=\"ops\"} 1\n"
	                           "# HELP t_pending Pending ops.\n"
	                           "# TYPE t_pending gauge\n"
	                           "t_pending -2\n");
	cr_assert_eq(metrics_counter(M, "reqs_total", "Requests.", "route=\"ops\""), b,
	             "the same series twice is one metric");
	cr_assert_eq(metric_value(a), 5);
}

/* Contract changed on purpose (issue 18): a labelled series used to be
 * left out until it moved, so increase() never saw its first burst. */
Test(metrics, every_registered_series_shows_from_the_start_at_zero)
{
	metrics_counter(M, "x_total", "X.", "code=\"429\"");
	metrics_counter(M, "x_total", "X.", "code=\"503\"");
	metrics_counter(M, "y_total", "Y.", NULL);
	const double b[] = {0.1};
	metrics_histogram(M, "h_seconds", "H.", "route=\"ops\"", b, 1);
	const char *s = render();
	cr_assert(strstr(s, "t_x_total{code=\"429\"} 0\nt_x_total{code=\"503\"} 0\n"), "%s", s);
	cr_assert(strstr(s, "t_y_total 0\n"), "%s", s);
	cr_assert(strstr(s, "t_h_seconds_bucket{route=\"ops\",le=\"0.1\"} 0\n"), "%s", s);
	cr_assert(strstr(s, "t_h_seconds_bucket{route=\"ops\",le=\"+Inf\"} 0\n"), "%s", s);
	cr_assert(strstr(s, "t_h_seconds_count{route=\"ops\"} 0\n"), "%s", s);
}

Test(metrics, histograms_have_cumulative_buckets_a_sum_and_a_count)
{
	const double b[] = {0.001, 0.01, 0.1};
	metric *h = metrics_histogram(M, "lat_seconds", "Latency.", "route=\"count\"", b, 3);
	metric_observe(h, 0.0005);
	metric_observe(h, 0.001); /* on a bound: that bucket (le) */
	metric_observe(h, 0.05);
	metric_observe(h, 3);
	cr_assert_eq(metric_count(h), 4);
	const char *s = render();
	cr_assert(strstr(s, "# TYPE t_lat_seconds histogram\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_bucket{route=\"count\",le=\"0.001\"} 2\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_bucket{route=\"count\",le=\"0.01\"} 2\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_bucket{route=\"count\",le=\"0.1\"} 3\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_bucket{route=\"count\",le=\"+Inf\"} 4\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_sum{route=\"count\"} 3.0515\n"), "%s", s);
	cr_assert(strstr(s, "t_lat_seconds_count{route=\"count\"} 4\n"), "%s", s);
}

static void hook(void *ctx, sbuf *o)
{
	metrics_family(M, o, "lag", METRIC_GAUGE, (const char *)ctx);
	metrics_sample(M, o, "lag", "partition=\"0\"", 12);
	metrics_sample(M, o, "lag", "partition=\"1\"", 0.5);
}

Test(metrics, hooks_append_their_families_after_the_series)
{
	metric_add(metrics_counter(M, "a_total", "A.", NULL), 1);
	metrics_add_hook(M, hook, "Consumer lag.");
	cr_assert_str_eq(render(), "# HELP t_a_total A.\n# TYPE t_a_total counter\n"
	                           "t_a_total 1\n"
	                           "# HELP t_lag Consumer lag.\n# TYPE t_lag gauge\n"
	                           "t_lag{partition=\"0\"} 12\n"
	                           "t_lag{partition=\"1\"} 0.5\n");
}

/* An owner's object whose figure a hook reads at each render. */
struct owner {
	int reads;
	double depth;
};

static void owner_hook(const metrics *m, void *obj, sbuf *o)
{
	struct owner *w = obj;
	w->reads++;
	metrics_single(m, o, "queue_depth", METRIC_GAUGE, "Items queued.", w->depth);
}

Test(metrics, an_object_hook_reads_its_owners_object_at_each_render)
{
	struct owner w = {0, 3};
	metrics_add_object_hook(M, owner_hook, &w);
	cr_assert_str_eq(render(),
	                 "# HELP t_queue_depth Items queued.\n# TYPE t_queue_depth gauge\n"
	                 "t_queue_depth 3\n");
	w.depth = 7;
	cr_assert_str_eq(render(),
	                 "# HELP t_queue_depth Items queued.\n# TYPE t_queue_depth gauge\n"
	                 "t_queue_depth 7\n");
	cr_assert_eq(w.reads, 2, "read at each render, not kept");
}

static metric *shared_c, *shared_h;

static void *bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++) {
		metric_add(shared_c, 1);
		metric_observe(shared_h, 0.002);
	}
	return NULL;
}

Test(metrics, updates_from_many_threads_are_all_counted)
{
	shared_c = metrics_counter(M, "n_total", "N.", NULL);
	shared_h = metrics_histogram(M, "h_seconds", "H.", NULL, metrics_latency_bounds,
	                             metrics_latency_nbounds);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, bump, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(metric_value(shared_c), 400000);
	cr_assert_eq(metric_count(shared_h), 400000);
	const char *s = render();
	cr_assert(strstr(s, "t_h_seconds_bucket{le=\"0.0025\"} 400000\n"), "%s", s);
	cr_assert(strstr(s, "t_h_seconds_bucket{le=\"0.001\"} 0\n"), "%s", s);
	cr_assert(strstr(s, "t_h_seconds_sum 800\n"), "%s", s);
}
