/* report_files.c - a report's files in the run directory (report.h,
 * report_write): report.json (report_json.c), summary.txt (report.c),
 * procs.csv and held.csv, and the SVG pictures (report_svg.c). The top
 * of the report's files: calls each renderer, none calls it.
 * Not thread-safe: the report's one owner.
 */
#include "sim/drill/report.h"
#include "sim/drill/report_svg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* Every reading of every sampled daemon, in the order taken. */
static void procs_csv(const report *r, FILE *f)
{
	fputs("t_s,node,pid,rss_mb,anon_mb,hwm_mb,fds,store_fds,cpu_s,runq_wait_s,slices\n", f);
	for (size_t i = 0; i < r->nprocs; i++) {
		const report_proc_row *p = &r->procs[i];
		fprintf(f, "%.1f,%s,%d,%.1f,%.1f,%.1f,%.0f,%.0f,%.3f,%.3f,%.0f\n", p->s.t_s,
		        r->proc_nodes[p->node].name, p->pid, p->s.rss_mb, p->s.anon_mb, p->s.hwm_mb,
		        p->s.fds, p->s.store_fds, p->s.cpu_s, p->s.wait_s, p->s.slices);
	}
}

/* What held each daemon's memory at each reading, by its own count. */
static void held_csv(const report *r, FILE *f)
{
	fputs("t_s,node,holder,mb\n", f);
	for (size_t i = 0; i < r->nprocs; i++) {
		const report_proc_row *p = &r->procs[i];
		for (size_t k = 0; k < p->s.nheld; k++)
			fprintf(f, "%.1f,%s,%s,%.2f\n", p->s.t_s, r->proc_nodes[p->node].name,
			        p->s.held[k].name, p->s.held[k].mb);
	}
}

/* Opens dir/name for writing, renders with fn, checks every step. */
static int write_file(const report *r, const char *dir, const char *name,
                      void (*fn)(const report *, FILE *))
{
	char path[4096];
	int k = snprintf(path, sizeof path, "%s/%s", dir, name);
	if (k < 0 || (size_t)k >= sizeof path) {
		log_error("report path too long", "dir=%s", dir);
		return ERR_IO;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		log_error("report open failed", "path=%s err=\"%s\"", path, strerror(errno));
		return ERR_IO;
	}
	fn(r, f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0)
		bad = true;
	if (bad) {
		log_error("report write failed", "path=%s", path);
		return ERR_IO;
	}
	return 0;
}

int report_write(report *r, const char *dir)
{
	char path[4096];
	int k = snprintf(path, sizeof path, "%s/report.json", dir);
	if (k < 0 || (size_t)k >= sizeof path) {
		log_error("report path too long", "dir=%s", dir);
		return ERR_IO;
	}
	int rc = report_write_json(r, path);
	if (rc)
		return rc;
	if ((rc = write_file(r, dir, "summary.txt", report_write_summary)))
		return rc;
	if (r->nproc_nodes && ((rc = write_file(r, dir, "procs.csv", procs_csv)) ||
	                       (rc = write_file(r, dir, "held.csv", held_csv)) ||
	                       (rc = write_file(r, dir, "procs.svg", report_svg_render_procs))))
		return rc;
	if (r->niv && (rc = write_file(r, dir, "latency.svg", report_svg_render_intervals)))
		return rc;
	return write_file(r, dir, "viral.svg", report_svg_render);
}
