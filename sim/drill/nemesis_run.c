/* nemesis_run.c - `sim nemesis` (nemesis_run.h): draw or read a fault
 * schedule, check it with the drill parser, print it and its coverage,
 * save both in the report dir, and hand the file to run_drill. The
 * drawing and the coverage are nemesis.c's and nemesis_cover.c's (pure);
 * this file does the I/O. Main thread.
 */
#include "sim/drill/nemesis_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/drill/drill.h"

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
	printf("nemesis %s: exit %d; seed %s\n", path, rc,
	       c.counts ? "counts" : "does not count (see coverage.txt)");
	return rc;
}
