/* nemesis_run.c - `sim nemesis` (nemesis_run.h): draw or read a fault
 * schedule, check it with the drill parser, print it and its coverage,
 * save both in the report dir, and hand the file to run_drill. The
 * drawing and the coverage are nemesis.c's and nemesis_cover.c's (pure);
 * this file does the I/O. Main thread.
 */
#include "sim/drill/nemesis_run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "sim/drill/drill.h"
#include "xmem.h"

#define SHRINK_RUNS_DEFAULT 2
#define SHRINK_BUDGET_DEFAULT_S 1800
#define SHRINK_FILE_MAX (1u << 20)

#define PATH_BYTES 512

/* Makes dir and its parents (mkdir -p); 0 or ERR_IO. */
static int make_dirs(const char *dir)
{
	char p[PATH_BYTES];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
		return ERR_IO;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			return ERR_IO;
		*q = '/';
	}
	return mkdir(p, 0755) && errno != EEXIST ? ERR_IO : 0;
}

/* Writes text to path whole (a temp file renamed over it). */
static int write_file(const char *path, const char *text)
{
	char tmp[PATH_BYTES + 8];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return ERR_IO;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return ERR_IO;
	size_t n = strlen(text);
	bool ok = fwrite(text, 1, n, f) == n;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path)) {
		(void)remove(tmp);
		return ERR_IO;
	}
	return 0;
}

/* The schedule as the runner will apply it, one step a line. */
static void print_schedule(FILE *f, const drill *d)
{
	fprintf(f, "schedule of %s (%zu steps over %.0f s):\n", d->name, d->nsteps, d->duration_s);
	for (size_t i = 0; i < d->nsteps; i++)
		fprintf(f, "  %s\n", d->steps[i].text);
}

/* The report dir sim drill would use for a drill named name. */
static void default_out(char *dst, size_t len, const char *name, const run_opts *r)
{
	snprintf(dst, len, "build/drills/%s%s%s", name, r->kafka == RUN_KAFKA_REAL ? "-real" : "",
	         r->short_run ? "-short" : "");
}

/* Draws the schedule and writes it to path (made from the report dir
 * when o->file is not set). 0, or 2 after saying why. */
static int draw(nemesis_run_opts *o, char *out, size_t outlen, char *path, size_t pathlen)
{
	char err[256], name[64];
	char *text = NULL;
	if (nemesis_draw(&o->knobs, &text, err, sizeof err)) {
		fprintf(stderr, "sim nemesis: %s\n", err);
		return 2;
	}
	snprintf(name, sizeof name, "nemesis-%" PRIu64, o->knobs.seed);
	if (!o->run.out_dir) {
		default_out(out, outlen, name, &o->run);
		o->run.out_dir = out;
	}
	int rc = make_dirs(o->run.out_dir);
	if (o->file)
		snprintf(path, pathlen, "%s", o->file);
	else
		snprintf(path, pathlen, "%s/%s.drill", o->run.out_dir, name);
	if (rc == 0)
		rc = write_file(path, text);
	free(text);
	if (rc) {
		fprintf(stderr, "sim nemesis: cannot write %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

/* On real Kafka, how many times the regional changelogs' leaders moved
 * by the run's report at path (kafka_changelog_leader_changes, read from
 * the clusters' metadata logs); -1 when it has none (the embedded
 * cluster, whose leaders nemesis_cover follows by its rule). */
static long observed_changelog_moves(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL);
	json_t *n =
	    json_object_get(json_object_get(root, "numbers"), "kafka_changelog_leader_changes");
	long v = json_is_number(n) ? (long)json_number_value(n) : -1;
	json_decref(root);
	return v;
}

int nemesis_run(nemesis_run_opts *o)
{
	char out[PATH_BYTES], path[PATH_BYTES], err[512];
	if (o->replay) {
		snprintf(path, sizeof path, "%s", o->replay);
	} else {
		int rc = draw(o, out, sizeof out, path, sizeof path);
		if (rc)
			return rc;
	}
	/* The parser the runner uses: a drawn file it refuses is a bug of
	 * the nemesis, said before anything starts. */
	drill d;
	if (drill_parse_file(path, &d, err, sizeof err)) {
		fprintf(stderr, "sim nemesis: %s\n", err);
		return 2;
	}
	if (!o->run.out_dir) {
		default_out(out, sizeof out, d.name, &o->run);
		o->run.out_dir = out;
	}
	if (make_dirs(o->run.out_dir)) {
		fprintf(stderr, "sim nemesis: cannot make %s: %s\n", o->run.out_dir,
		        strerror(errno));
		drill_free(&d);
		return 2;
	}
	nemesis_coverage c;
	nemesis_cover(&d, &c);
	char table[4096], cpath[PATH_BYTES + 16];
	nemesis_cover_format(&c, table, sizeof table);
	print_schedule(stdout, &d);
	printf("%s", table);
	printf("drill file: %s\n", path);
	fflush(stdout);
	snprintf(cpath, sizeof cpath, "%s/coverage.txt", o->run.out_dir);
	FILE *f = fopen(cpath, "w");
	bool ok = f != NULL;
	if (f) {
		fprintf(f, "drill file: %s\n", path);
		print_schedule(f, &d);
		fprintf(f, "%s", table);
		ok &= fclose(f) == 0;
	}
	drill_free(&d);
	if (!ok) {
		fprintf(stderr, "sim nemesis: cannot write %s: %s\n", cpath, strerror(errno));
		return 2;
	}
	if (o->dry_run)
		return 0;
	o->run.drill_path = path;
	int rc = run_drill(&o->run);
	char rpath[PATH_BYTES + 16];
	snprintf(rpath, sizeof rpath, "%s/report.json", o->run.out_dir);
	long moved = c.regional_kafka ? observed_changelog_moves(rpath) : -1;
	if (moved >= 0)
		printf("observed: the changelog's leader moved %ld times (the clusters' metadata "
		       "logs)\n",
		       moved);
	else if (c.regional_kafka && o->knobs.real_kafka)
		printf("observed: the changelog's leader moves could not be read (the report's "
		       "kafka_leader_changes_unread)\n");
	printf("nemesis %s: exit %d; seed %s\n", path, rc,
	       !c.counts    ? "does not count (see coverage.txt)"
	       : moved == 0 ? "does not count (no changelog leader lost on the real cluster)"
	                    : "counts");
	if (rc == 1 && o->shrink_failing) {
		fflush(stdout);
		char shrink_dir[PATH_BYTES + 16];
		snprintf(shrink_dir, sizeof shrink_dir, "%s-shrink", o->run.out_dir);
		char report[PATH_BYTES + 16];
		snprintf(report, sizeof report, "%s/report.json", o->run.out_dir);
		o->run.out_dir = shrink_dir;
		o->shrink_report = report;
		(void)nemesis_shrink(o, path);
	}
	return rc;
}

/* --- shrinking ------------------------------------------------------------------ */

/* The whole file into a malloc'ed string; NULL when it cannot be read. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = xmalloc(SHRINK_FILE_MAX + 1);
	size_t n = fread(buf, 1, SHRINK_FILE_MAX, f);
	bool ok = !ferror(f) && feof(f);
	fclose(f);
	if (!ok) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Did the run whose report.json is at path fail its checks for a
 * reason of the system's: not passed, with more violations than the one
 * that says a drill step could not be carried out (steps_failed, which a
 * candidate may cause by itself; but a bug may cause it too, as an
 * instance that should have exited fenced and is still there when a step
 * starts it again, so it does not rule a failure out when something else
 * failed with it)? false for a report that cannot be read. */
bool nemesis_report_failed(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL);
	json_t *pass = json_object_get(root, "pass");
	json_t *total = json_object_get(root, "violations_total");
	json_t *steps = json_object_get(json_object_get(root, "numbers"), "steps_failed");
	bool failed = json_is_false(pass) && json_is_integer(total) && json_is_number(steps) &&
	              (double)json_integer_value(total) > json_number_value(steps);
	json_decref(root);
	return failed;
}

#define STEP_VIOLATION "a drill step could not be carried out" /* run.c's */

/* A violation's text as a kind: numbers N, items ITEM. */
static void kind_of(const char *text, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = text; *p && n + 5 < cap;) {
		if (*p >= '0' && *p <= '9') {
			out[n++] = 'N';
			while ((*p >= '0' && *p <= '9') ||
			       ((*p == '.' || *p == ',') && p[1] >= '0' && p[1] <= '9'))
				p++;
		} else if (strncmp(p, "post:", 5) == 0) {
			memcpy(out + n, "ITEM", 4);
			n += 4;
			for (p += 5; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			             (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '-';)
				p++;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

size_t nemesis_report_kinds(const char *path, char (*kinds)[NEMESIS_KIND_BYTES], size_t max)
{
	json_t *root = json_load_file(path, 0, NULL);
	json_t *v = json_object_get(root, "violations");
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		const char *text = json_string_value(e);
		if (!text || strncmp(text, STEP_VIOLATION, strlen(STEP_VIOLATION)) == 0)
			continue;
		char k[NEMESIS_KIND_BYTES];
		kind_of(text, k, sizeof k);
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(kinds[j], k) == 0;
		if (!seen && n < max)
			memcpy(kinds[n++], k, sizeof k);
	}
	json_decref(root);
	return n;
}

/* What a failing run's report names, for a candidate to match. */
typedef struct kindset {
	char k[NEMESIS_KINDS_MAX][NEMESIS_KIND_BYTES];
	size_t n;
} kindset;

static bool kinds_meet(const kindset *a, const kindset *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (strcmp(a->k[i], b->k[j]) == 0)
				return true;
	return false;
}

typedef enum run_verdict { RUN_PASSED, RUN_FAILED, RUN_FAILED_OTHERWISE } run_verdict;

/* Runs `sim drill` on path in a process of its own (this binary), its
 * report in out and its output in out.out: RUN_FAILED when it failed as a
 * schedule fails, by its checks (exit 1, nemesis_report_failed), not only
 * for a step it could not carry out or a cluster that did not start, with
 * a failure kind of want's (any, when want has none: then the run's
 * kinds go into want); RUN_FAILED_OTHERWISE when it failed with none of
 * them. */
static run_verdict run_fails(const nemesis_run_opts *o, const char *path, const char *out,
                             kindset *want)
{
	char log[PATH_BYTES + 40];
	snprintf(log, sizeof log, "%s.out", out);
	const char *argv[16];
	int n = 0;
	argv[n++] = "sim";
	argv[n++] = "drill";
	if (o->run.short_run)
		argv[n++] = "--short";
	argv[n++] = "--bin";
	argv[n++] = o->run.bin_dir;
	argv[n++] = "--run-root";
	argv[n++] = o->run.run_root;
	argv[n++] = "--out";
	argv[n++] = out;
	if (o->run.kafka != RUN_KAFKA_DRILL) {
		argv[n++] = "--kafka";
		argv[n++] = o->run.kafka == RUN_KAFKA_REAL ? "real" : "embedded";
	}
	argv[n++] = path;
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	char report[PATH_BYTES + 48];
	snprintf(report, sizeof report, "%s/report.json", out);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 1 && nemesis_report_failed(report)))
		return RUN_PASSED;
	kindset got;
	got.n = nemesis_report_kinds(report, got.k, NEMESIS_KINDS_MAX);
	if (!want->n) {
		*want = got;
		return RUN_FAILED;
	}
	return kinds_meet(want, &got) ? RUN_FAILED : RUN_FAILED_OTHERWISE;
}

/* Faults and steps of a schedule's text, for the lines printed. */
static void sizes(const char *text, size_t *faults, size_t *steps, double *dur)
{
	drill d;
	char err[256];
	*faults = *steps = 0;
	*dur = 0;
	if (drill_parse("shrink", text, &d, err, sizeof err))
		return;
	nemesis_fault f[DRILL_STEPS_MAX];
	*faults = nemesis_faults(&d, f, DRILL_STEPS_MAX);
	*steps = d.nsteps;
	*dur = d.duration_s;
	drill_free(&d);
}

/* Runs candidate cand (try number t) up to k times: RUN_FAILED on its
 * first failure the same way as want (or any, want empty: then its kinds
 * go there), RUN_FAILED_OTHERWISE when a run failed but none that way.
 * *last_s is how long the last run took. */
static run_verdict try_candidate(const nemesis_run_opts *o, const char *dir, unsigned t,
                                 const char *cand, unsigned k, uint64_t deadline_ms, double *last_s,
                                 bool *out_of_time, unsigned *runs, kindset *want)
{
	run_verdict v = RUN_PASSED;
	char path[PATH_BYTES + 32], out[PATH_BYTES + 32];
	snprintf(path, sizeof path, "%s/try-%u.drill", dir, t);
	*runs = 0;
	if (write_file(path, cand)) {
		fprintf(stderr, "sim nemesis: cannot write %s: %s\n", path, strerror(errno));
		return RUN_PASSED;
	}
	for (unsigned r = 0; r < k; r++) {
		if (clock_mono_ms() + (uint64_t)(*last_s * 1000) > deadline_ms) {
			*out_of_time = true;
			return v;
		}
		snprintf(out, sizeof out, "%s/try-%u-run-%u", dir, t, r + 1);
		uint64_t t0 = clock_mono_ms();
		run_verdict got = run_fails(o, path, out, want);
		*last_s = (double)(clock_mono_ms() - t0) / 1000.0;
		(*runs)++;
		if (got == RUN_FAILED)
			return RUN_FAILED;
		if (got == RUN_FAILED_OTHERWISE)
			v = got;
	}
	return v;
}

int nemesis_shrink(nemesis_run_opts *o, const char *file)
{
	char *best = read_text(file);
	if (!best) {
		fprintf(stderr, "sim nemesis: cannot read %s: %s\n", file, strerror(errno));
		return 2;
	}
	drill d;
	char err[512], dir[PATH_BYTES], small[PATH_BYTES + 16];
	if (drill_parse_file(file, &d, err, sizeof err)) {
		fprintf(stderr, "sim nemesis: %s\n", err);
		free(best);
		return 2;
	}
	if (o->run.out_dir)
		snprintf(dir, sizeof dir, "%s", o->run.out_dir);
	else
		snprintf(dir, sizeof dir, "build/drills/%s%s-shrink", d.name,
		         o->run.short_run ? "-short" : "");
	drill_free(&d);
	unsigned k = o->shrink_runs ? o->shrink_runs : SHRINK_RUNS_DEFAULT;
	unsigned budget = o->shrink_budget_s ? o->shrink_budget_s : SHRINK_BUDGET_DEFAULT_S;
	snprintf(small, sizeof small, "%s/smallest.drill", dir);
	if (make_dirs(dir) || write_file(small, best)) {
		fprintf(stderr, "sim nemesis: cannot write %s: %s\n", small, strerror(errno));
		free(best);
		return 2;
	}
	size_t f0, s0, f1, s1;
	double d0, d1, last_s = 0;
	sizes(best, &f0, &s0, &d0);
	printf("shrinking %s: %zu faults, %zu steps, %.0f s; a candidate is kept when it fails "
	       "in 1 of %u runs; budget %u s; tries in %s\n",
	       file, f0, s0, d0, k, budget, dir);
	fflush(stdout);
	uint64_t deadline = clock_mono_ms() + (uint64_t)budget * 1000;
	unsigned t = 0, kept = 0;
	bool out_of_time = false, improved = true;
	/* The failure's kinds: the failing run's, or try 0's (the schedule
	 * as given, up to k runs: how often it fails is worth knowing too). */
	kindset want = {.n = 0};
	if (o->shrink_report)
		want.n = nemesis_report_kinds(o->shrink_report, want.k, NEMESIS_KINDS_MAX);
	if (!want.n) {
		unsigned runs = 0;
		run_verdict v = try_candidate(o, dir, 0, best, k, deadline, &last_s, &out_of_time,
		                              &runs, &want);
		if (v == RUN_FAILED)
			printf("try 0: the schedule as given: fails (run %u of up to %u)\n", runs,
			       k);
		else
			printf("try 0: the schedule as given: %s in %u runs\n",
			       v == RUN_FAILED_OTHERWISE ? "fails only another way" : "no failure",
			       runs);
		fflush(stdout);
		if (v != RUN_FAILED) {
			printf("nothing to shrink: %s did not fail\n", file);
			free(best);
			return 1;
		}
	}
	for (size_t i = 0; i < want.n; i++)
		printf("failure kind: %s\n", want.k[i]);
	fflush(stdout);
	while (improved && !out_of_time) {
		improved = false;
		for (size_t i = 0; !out_of_time; i++) {
			char *cand = NULL, what[300];
			int rc = nemesis_shrink_candidate(best, i, &cand, what, sizeof what);
			if (rc == -1 || rc == -2)
				break;
			if (rc == 0)
				continue;
			unsigned runs = 0;
			run_verdict v = try_candidate(o, dir, ++t, cand, k, deadline, &last_s,
			                              &out_of_time, &runs, &want);
			bool failed = v == RUN_FAILED;
			printf("try %u: %s: %s\n", t, what,
			       failed                      ? "still fails: kept"
			       : v == RUN_FAILED_OTHERWISE ? "fails another way: dropped"
			       : out_of_time && runs == 0  ? "not run: out of time"
			                                   : "passed: dropped");
			fflush(stdout);
			if (!failed) {
				free(cand);
				continue;
			}
			free(best);
			best = cand;
			kept++;
			if (write_file(small, best))
				fprintf(stderr, "sim nemesis: cannot write %s\n", small);
			improved = true;
			break;
		}
	}
	sizes(best, &f1, &s1, &d1);
	printf("smallest failing schedule: %s (%zu faults, %zu steps, %.0f s; from %zu, %zu, "
	       "%.0f s; %u of %u tries kept%s)\nreproduce: sim drill%s %s\n",
	       small, f1, s1, d1, f0, s0, d0, kept, t, out_of_time ? "; the budget ran out" : "",
	       o->run.short_run ? " --short" : "", small);
	free(best);
	return 0;
}
