/* test_soak.c - the soak's watch on processes (sim/drill/soak.c): reading
 * /proc, the bound from a daemon's logged config, and the verdict: a flat
 * series passes; a leak, a descriptor leak, a peak over the bound and a
 * run too short to judge fail. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/testdir.h"
#include "sim/drill/soak.h"

#define RUN_S 1800.0
#define EVERY_S 30.0
#define SAMPLES 61 /* 0, 30, ..., 1800 */

static char tmpdir[64];

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_soak");
}

static void teardown(void)
{
	testdir_remove(tmpdir);
}

TestSuite(soak, .init = setup, .fini = teardown, .timeout = 20);

/* A bound well above every series here. */
static soak_bound roomy(void)
{
	soak_bound b = {.total_mb = 400, .max_open_files = 1000};
	return b;
}

/* 30 minutes of readings: anonymous RSS rises to 80 MB over the first 3
 * minutes (caches filling), then sits there with a 3 MB saw-tooth
 * (memtables filling and flushing) and +-1 MB of noise; 10 MB of
 * libraries mapped besides; 40 descriptors, +-2 as connections come and
 * go; 10 to 30 store files as tables are made. */
static void flat_series(soak_sample *s)
{
	for (int i = 0; i < SAMPLES; i++) {
		double t = i * EVERY_S;
		double rss = t < 180 ? 40 + 40 * t / 180 : 80 + (i % 6) * 0.6 + ((i * 7) % 3 - 1);
		double files = 10 + 20 * t / RUN_S;
		s[i] = (soak_sample){.t_s = t,
		                     .rss_mb = rss + 10,
		                     .anon_mb = rss,
		                     .hwm_mb = 94,
		                     .fds = 40 + ((i * 5) % 5 - 2) + files,
		                     .store_fds = files};
	}
}

static soak_verdict judge(const soak_sample *s, size_t n, const soak_bound *b, bool *ok)
{
	soak_rules r;
	soak_rules_default(RUN_S, &r);
	soak_verdict v;
	*ok = soak_judge(s, n, &r, b, &v);
	return v;
}

Test(soak, a_flat_series_passes)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert(ok, "%s", v.why);
	cr_assert(v.judged && v.anon_flat && v.fds_flat && v.under_bound);
	cr_assert_str_empty(v.why);
	cr_assert_eq(v.npost, 51, "the first sixth (300 s) is the warm-up");
	cr_assert_float_eq(v.rss_start, 50, 1e-9);
	cr_assert_float_eq(v.anon_start, 40, 1e-9);
	cr_assert(fabs(v.anon_settled - 81.5) < 1.5, "settled at %g", v.anon_settled);
	cr_assert(fabs(v.anon_growth) < 2, "grew %g", v.anon_growth);
	cr_assert_float_eq(v.rss_peak, 94, 1e-9);
	cr_assert(fabs(v.fds_settled - 40) <= 2, "fds settled at %g", v.fds_settled);
	cr_assert_float_eq(v.store_fds_max, 30, 1e-9);
}

Test(soak, a_slow_leak_fails_though_each_step_is_small)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	/* 1 MB a minute after the warm-up: 25 MB by the end. */
	for (int i = 0; i < SAMPLES; i++)
		if (s[i].t_s >= 300) {
			s[i].anon_mb += (s[i].t_s - 300) / 60;
			s[i].rss_mb += (s[i].t_s - 300) / 60;
		}
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert(v.judged && !v.anon_flat && v.fds_flat && v.under_bound);
	cr_assert_gt(v.anon_growth, v.anon_allowed);
	cr_assert_gt(v.anon_trend, 20);
	cr_assert_not_null(strstr(v.why, "RSS grew"), "%s", v.why);
}

Test(soak, a_trend_hidden_in_noise_at_the_end_still_fails)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	/* Rising 1.5 MB a minute all along after the warm-up, but in the last
	 * fifth every other reading falls back (memory handed back, then
	 * taken again), so the median of the end looks settled. */
	for (int i = 0; i < SAMPLES; i++)
		if (s[i].t_s >= 300)
			s[i].anon_mb += 1.5 * (s[i].t_s - 300) / 60;
	for (int i = SAMPLES - 11; i < SAMPLES; i++)
		if (i % 2 == 0 || i == SAMPLES - 1)
			s[i].anon_mb = 82;
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert_leq(v.anon_growth, v.anon_allowed, "the end level alone passes");
	cr_assert_gt(v.anon_trend, v.anon_allowed);
	cr_assert_not_null(strstr(v.why, "trends up"), "%s", v.why);
}

Test(soak, a_descriptor_leak_fails)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	/* One socket more every minute, never closed. */
	for (int i = 0; i < SAMPLES; i++)
		s[i].fds += floor(s[i].t_s / 60);
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert(v.anon_flat && !v.fds_flat);
	cr_assert_gt(v.fds_growth, SOAK_FD_SLACK);
	cr_assert_not_null(strstr(v.why, "descriptors grew"), "%s", v.why);
}

Test(soak, store_files_opening_as_the_store_grows_are_not_a_leak_until_past_max_open_files)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	for (int i = 0; i < SAMPLES; i++) {
		double more = 2 * floor(s[i].t_s / 60); /* tables made as the store grows */
		s[i].fds += more;
		s[i].store_fds += more;
	}
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert(ok, "%s", v.why);
	b.max_open_files = 50;
	v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert(v.fds_flat && !v.under_bound);
	cr_assert_not_null(strstr(v.why, "store files"), "%s", v.why);
}

Test(soak, mapped_table_files_growing_with_the_store_are_held_by_the_bound_not_flatness)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	/* LevelDB's mapped tables: 1 MB more page cache in RSS a minute. */
	for (int i = 0; i < SAMPLES; i++) {
		s[i].rss_mb += s[i].t_s / 60;
		s[i].hwm_mb = s[i].rss_mb;
	}
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert(ok, "%s", v.why);
	cr_assert_gt(v.rss_end - v.rss_start, 40);
	b.total_mb = 110;
	v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok, "the peak, mapped pages included, is over the bound");
	cr_assert(v.anon_flat && !v.under_bound);
}

Test(soak, a_peak_over_the_bound_fails_even_when_flat)
{
	soak_sample s[SAMPLES];
	flat_series(s);
	soak_bound b = roomy();
	b.total_mb = 93;
	bool ok;
	soak_verdict v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert(v.anon_flat && v.fds_flat && !v.under_bound);
	cr_assert_not_null(strstr(v.why, "over the bound of 93.0 MB"), "%s", v.why);
	/* The high-water mark counts, not only what the readings caught. */
	b.total_mb = 100;
	s[10].hwm_mb = 105;
	v = judge(s, SAMPLES, &b, &ok);
	cr_assert_not(ok);
	cr_assert_float_eq(v.rss_peak, 105, 1e-9);
}

Test(soak, a_run_too_short_to_judge_fails)
{
	soak_sample s[5];
	for (int i = 0; i < 5; i++)
		s[i] = (soak_sample){
		    .t_s = i * EVERY_S, .rss_mb = 50, .anon_mb = 40, .hwm_mb = 50, .fds = 30};
	soak_rules r;
	soak_rules_default(100, &r); /* warm-up 16.7 s */
	soak_bound b = roomy();
	soak_verdict v;
	/* Four readings, at 0, 30, 60 and 90 s: three after the warm-up. */
	cr_assert_not(soak_judge(s, 4, &r, &b, &v));
	cr_assert_not(v.judged);
	cr_assert_eq(v.npost, 3);
	cr_assert_not_null(strstr(v.why, "too short"), "%s", v.why);
	cr_assert(soak_judge(s, 5, &r, &b, &v), "%s", v.why);
	cr_assert_not(soak_judge(s, 0, &r, &b, &v));
}

Test(soak, parses_rss_and_peak_from_proc_status)
{
	const char *text = "Name:\tedge\nVmPeak:\t  900000 kB\nVmHWM:\t   81920 kB\n"
	                   "VmRSS:\t   65536 kB\nRssAnon:\t   51200 kB\nRssFile:\t   14336 kB\n"
	                   "Threads:\t9\n";
	double rss, anon, hwm;
	cr_assert(soak_parse_status(text, &rss, &anon, &hwm));
	cr_assert_float_eq(rss, 65536, 1e-9);
	cr_assert_float_eq(anon, 51200, 1e-9);
	cr_assert_float_eq(hwm, 81920, 1e-9);
	cr_assert_not(
	    soak_parse_status("Name:\tedge\nVmRSS:\t 1 kB\nRssAnon:\t 1 kB\n", &rss, &anon, &hwm),
	    "no VmHWM (a kernel thread)");
	cr_assert_not(soak_parse_status("", &rss, &anon, &hwm));
}

Test(soak, reads_this_process_and_counts_the_files_under_its_data_dir)
{
	soak_sample a, b;
	cr_assert(soak_read(getpid(), tmpdir, 1.5, &a));
	cr_assert_float_eq(a.t_s, 1.5, 1e-9);
	cr_assert_gt(a.rss_mb, 0);
	cr_assert_gt(a.anon_mb, 0);
	cr_assert_leq(a.anon_mb, a.rss_mb);
	cr_assert_geq(a.hwm_mb, a.rss_mb);
	cr_assert_geq(a.fds, 3);
	char path[128];
	snprintf(path, sizeof path, "%s/000005.ldb", tmpdir);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert(soak_read(getpid(), tmpdir, 2, &b));
	cr_assert_float_eq(b.store_fds, a.store_fds + 1, 1e-9);
	cr_assert_float_eq(b.fds, a.fds + 1, 1e-9);
	/* A dir whose name only starts the same is not the store. */
	char other[80];
	snprintf(other, sizeof other, "%.60s", tmpdir);
	other[strlen(other) - 1] = '\0';
	cr_assert(soak_read(getpid(), other, 2, &b));
	cr_assert_float_eq(b.store_fds, 0, 1e-9);
	close(fd);
	cr_assert_not(soak_read(0x7ffffff0, tmpdir, 0, &b), "no such process");
}

static const char edge_log[] =
    "ts=2026-11-23T10:00:00.000Z level=info component=edge/e0 msg=\"config\" key=edge.id value=e0\n"
    "ts=2026-11-23T10:00:00.000Z level=info component=edge/e0 msg=\"config\" key=store.cache_mb "
    "value=64\n"
    "ts=2026-11-23T10:00:00.000Z level=info component=edge/e0 msg=\"something\" key=store.cache_mb "
    "value=999\n"
    "ts=2026-11-23T10:00:00.000Z level=info component=edge/e0 msg=\"config\" key=cache.entries "
    "value=1000000\n";

Test(soak, reads_numbers_from_the_config_lines_a_daemon_logged)
{
	double v;
	cr_assert(soak_config_number(edge_log, "store.cache_mb", &v));
	cr_assert_float_eq(v, 64, 1e-9, "only msg=config lines count");
	cr_assert_not(soak_config_number(edge_log, "store.cache", &v), "whole keys only");
	cr_assert_not(soak_config_number(edge_log, "edge.id", &v), "not a number");
	cr_assert_not(soak_config_number("", "store.cache_mb", &v));
	/* Started again with another value: the last start counts. */
	char *twice = malloc(2 * sizeof edge_log + 128);
	snprintf(
	    twice, 2 * sizeof edge_log + 128,
	    "%sts=x level=info component=edge/e0 msg=\"config\" key=store.cache_mb value=\"8\"\n",
	    edge_log);
	cr_assert(soak_config_number(twice, "store.cache_mb", &v));
	cr_assert_float_eq(v, 8, 1e-9);
	free(twice);
}

Test(soak, the_bound_follows_the_config_each_daemon_ran_with)
{
	soak_bound a, b, c;
	soak_bound_edge(edge_log, 0, &a);
	soak_bound_edge("ts=x msg=\"config\" key=store.cache_mb value=32\n"
	                "ts=x msg=\"config\" key=cache.entries value=1000000\n",
	                0, &b);
	cr_assert_float_eq(a.total_mb - b.total_mb, 32, 1e-6, "the block cache is a term");
	soak_bound_edge("ts=x msg=\"config\" key=cache.entries value=2000\n", 0, &c);
	cr_assert_gt(a.total_mb - c.total_mb, 70, "a million snapshot counts are about 78 MB");
	cr_assert_geq(a.nterms, 8);
	double sum = 0;
	for (size_t i = 0; i < a.nterms; i++)
		sum += a.terms[i].mb;
	cr_assert_float_eq(sum, a.total_mb, 1e-6, "the total is the sum of its terms");
	soak_bound_edge(edge_log, 100, &b);
	cr_assert_float_eq(b.total_mb - a.total_mb, 103, 1e-6,
	                   "3% of the store for open tables, and the mapped tables");

	soak_bound_central("", 0, &a);
	soak_bound_central("ts=x msg=\"config\" key=central.cache_counts value=0\n", 0, &b);
	cr_assert_float_eq(a.total_mb - b.total_mb, 500000 * 160 / 1048576.0, 1e-6);
	char text[1024];
	soak_bound_text(&a, text, sizeof text);
	cr_assert_not_null(strstr(text, "block cache"), "%s", text);
	cr_assert_not_null(strstr(text, " MB"), "%s", text);
}

Test(soak, the_holders_a_daemon_names_are_read_from_its_metrics)
{
	static const char body[] =
	    "# HELP likes_edge_memory_bytes what holds memory\n"
	    "# TYPE likes_edge_memory_bytes gauge\n"
	    "likes_edge_memory_bytes{holder=\"count_cache\"} 10485760\n"
	    "likes_edge_memory_bytes{holder=\"store\"} 2.5e+07\n"
	    "likes_edge_memory_bytes_other{holder=\"x\"} 1\n"
	    "likes_edge_memory_bytes{holder=\"Bad-Name\"} 1\n"
	    "likes_edge_memory_bytes{holder=\"neg\"} -1\n"
	    "likes_edge_memory_bytes{holder=\"nan\"} NaN\n"
	    "likes_edge_memory_bytes{holder=\"a_name_longer_than_the_field_keeps\"} 1048576\n"
	    "likes_central_memory_bytes{holder=\"member_cache\"} 1048576\n";
	soak_held h[SOAK_HELD_MAX];
	size_t n = soak_parse_held(body, SOAK_HELD_EDGE, h, SOAK_HELD_MAX);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(h[0].name, "count_cache");
	cr_assert_float_eq(h[0].mb, 10, 1e-9);
	cr_assert_str_eq(h[1].name, "store");
	cr_assert_float_eq(h[1].mb, 25e6 / 1048576.0, 1e-9);
	cr_assert_eq(strlen(h[2].name), SOAK_HELD_NAME_MAX, "cut to the field");
	cr_assert_eq(soak_parse_held(body, SOAK_HELD_EDGE, h, 1), 1, "at most max");
	cr_assert_eq(soak_parse_held(body, SOAK_HELD_CENTRAL, h, SOAK_HELD_MAX), 1);
	cr_assert_eq(soak_parse_held("", SOAK_HELD_EDGE, h, SOAK_HELD_MAX), 0);
}

/* A reading whose anonymous memory is a cache filling up to 40 MB plus
 * 30 MB nobody names, and the store. */
static soak_sample filling(double t, double cache_mb)
{
	soak_sample s = {.t_s = t, .rss_mb = 200, .hwm_mb = 200, .fds = 50, .store_fds = 5};
	s.held[0] = (soak_held){.name = "count_cache", .mb = cache_mb};
	s.held[1] = (soak_held){.name = "store", .mb = 20};
	s.nheld = 2;
	s.anon_mb = 30 + cache_mb + 20;
	return s;
}

/* n readings 30 s apart while the cache fills by 1 MB a reading up to
 * 40 MB. */
static void filling_series(soak_sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = filling(30.0 * (double)i, fmin(40, (double)i));
}

Test(soak, the_verdict_says_what_held_the_memory_and_what_no_holder_accounts_for)
{
	soak_sample s[60];
	filling_series(s, 60);
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, 60, &b, &ok);
	cr_assert_eq(v.nheld, 2);
	cr_assert_str_eq(v.held_settled[0].name, "count_cache");
	cr_assert_lt(v.held_settled[0].mb, 25);
	cr_assert_float_eq(v.held_end[0].mb, 40, 1e-9);
	cr_assert_float_eq(v.held_end[1].mb, 20, 1e-9);
	cr_assert(v.have_unheld);
	cr_assert_float_eq(v.unheld_settled, 30, 1e-9);
	cr_assert_float_eq(v.unheld_end, 30, 1e-9);
	cr_assert_float_eq(v.unheld_trend, 0, 1e-9);
	/* A reading without holders: nothing said of the rest. */
	s[40].nheld = 0;
	v = judge(s, 60, &b, &ok);
	cr_assert_not(v.have_unheld);
	cr_assert(isnan(soak_unheld_mb(&s[40])));
}

Test(soak, a_cache_filling_after_the_warm_up_is_not_a_leak_when_the_daemon_names_it)
{
	soak_sample s[60];
	filling_series(s, 60);
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, 60, &b, &ok);
	cr_assert(ok, "%s", v.why);
	cr_assert_gt(v.anon_growth, v.anon_allowed, "all of RssAnon did grow");
	/* The same series without the holders: judged on RssAnon, a leak. */
	for (size_t i = 0; i < 60; i++)
		s[i].nheld = 0;
	v = judge(s, 60, &b, &ok);
	cr_assert_not(ok);
	cr_assert_not_null(strstr(v.why, "anonymous RSS grew"), "%s", v.why);
}

Test(soak, a_leak_beside_the_named_caches_still_fails)
{
	soak_sample s[60];
	filling_series(s, 60);
	for (size_t i = 0; i < 60; i++)
		s[i].anon_mb += 0.5 * (double)i; /* 0.5 MB a reading nobody holds */
	soak_bound b = roomy();
	bool ok;
	soak_verdict v = judge(s, 60, &b, &ok);
	cr_assert_not(ok);
	cr_assert_not_null(strstr(v.why, "no holder accounts for"), "%s", v.why);
	cr_assert_gt(v.unheld_growth, 10);
}

Test(soak, parses_cpu_wait_and_slices_from_a_schedstat)
{
	double run, wait, slices;
	cr_assert(soak_parse_schedstat("123456789 2000000 42\n", &run, &wait, &slices));
	cr_assert_float_eq(run, 123456789, 1e-9);
	cr_assert_float_eq(wait, 2000000, 1e-9);
	cr_assert_float_eq(slices, 42, 1e-9);
	cr_assert_not(soak_parse_schedstat("1 2\n", &run, &wait, &slices), "two numbers");
	cr_assert_not(soak_parse_schedstat("1 2 3 x\n", &run, &wait, &slices), "something after");
	cr_assert_not(soak_parse_schedstat("", &run, &wait, &slices));
}

Test(soak, reads_this_process_and_this_threads_cpu_from_proc)
{
	/* Spend some CPU, then read the process and this thread alone. */
	volatile uint64_t x = 0;
	for (uint64_t i = 0; i < 20000000; i++)
		x += i;
	double cpu, wait, slices, tcpu, twait, tslices;
	/* The thread first: it keeps running while the process is read, so
	 * the later reading of the whole can only be the larger. */
	cr_assert(soak_read_sched(getpid(), gettid(), &tcpu, &twait, &tslices));
	cr_assert(soak_read_sched(getpid(), 0, &cpu, &wait, &slices));
	cr_assert_gt(tcpu, 0);
	cr_assert_geq(cpu, tcpu, "the process's sum holds the thread's");
	cr_assert_geq(slices, tslices);
	cr_assert_gt(tslices, 0);
	soak_sample s;
	cr_assert(soak_read(getpid(), tmpdir, 1, &s));
	cr_assert_geq(s.cpu_s, tcpu);
	cr_assert_not(soak_read_sched(getpid(), 999999999, &cpu, &wait, &slices), "no such thread");
}
