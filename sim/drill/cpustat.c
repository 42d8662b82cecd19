/* cpustat.c - CPU time shares from /proc/stat (cpustat.h). */
#include "sim/drill/cpustat.h"

#include <stdio.h>
#include <string.h>

bool cpustat_parse(const char *text, cpustat *out)
{
	const char *line = text;
	while (line && strncmp(line, "cpu ", 4) != 0) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return false;
	/* user nice system idle iowait irq softirq steal (guest time is
	 * already inside user and nice). */
	unsigned long long v[8];
	if (sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]) != 8)
		return false;
	uint64_t total = 0;
	for (int i = 0; i < 8; i++)
		total += v[i];
	*out = (cpustat){.total = total, .idle = v[3] + v[4], .steal = v[7]};
	return true;
}

bool cpustat_read(cpustat *out)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return false;
	char buf[512];
	bool ok = fgets(buf, sizeof buf, f) && cpustat_parse(buf, out);
	fclose(f);
	return ok;
}

bool cpustat_shares(const cpustat *a, const cpustat *b, double *steal, double *busy)
{
	if (b->total <= a->total || b->idle < a->idle || b->steal < a->steal)
		return false;
	double dt = (double)(b->total - a->total);
	double ds = (double)(b->steal - a->steal), di = (double)(b->idle - a->idle);
	*steal = ds / dt;
	*busy = (dt - ds - di) / dt;
	return true;
}
