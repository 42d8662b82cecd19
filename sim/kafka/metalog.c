/* metalog.c - the leader changes a running sim_kafka cluster's metadata
 * log holds (kafka.h's sim_kafka_elections): the log's segment files
 * handed to Kafka's own DumpLogSegments, one JVM, and its text read by
 * elections.c. One thread, as kafka.c.
 */
#include "sim/kafka/kafka.h"
#include "sim/kafka/kafka_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/proc/child.h"
#include "xmem.h"

/* One JVM reading a few MB: a second at rest, tens of seconds on a
 * loaded machine; under the drill's wait for a control answer
 * (kproc.c's CONTROL_MS, 90 s). */
#define DUMP_MS 60000
#define DUMP_HEAP "-Xmx256m"
#define SEGMENTS_MAX 64

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment files of node nd's metadata log, oldest first, joined by
 * commas into files (as DumpLogSegments --files takes them); their
 * bytes, or -1 when there is none. */
static long long metadata_segments(const knode *nd, char *files, size_t cap)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/__cluster_metadata-0", nd->meta);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char *names[SEGMENTS_MAX];
	size_t n = 0;
	long long bytes = 0;
	struct dirent *e;
	bool past = false; /* more segments than names: say none rather than a part */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
			continue;
		if (n == SEGMENTS_MAX) {
			past = true;
			break;
		}
		char path[PATH_MAX + 256];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		bytes += st.st_size;
		names[n++] = xstrdup(path);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	size_t used = 0;
	files[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int m = snprintf(files + used, cap - used, "%s%s", i ? "," : "", names[i]);
		if (m < 0 || (size_t)m >= cap - used)
			past = true;
		else
			used += (size_t)m;
		free(names[i]);
	}
	return n && !past ? bytes : -1;
}

long sim_kafka_elections(sim_kafka *k, kelection *out, size_t cap, char *err, size_t errlen)
{
	/* The committed log is the same on every voter; the longest copy
	 * holds the most of it (a node down missed the end). */
	static char files[SEGMENTS_MAX * PATH_MAX / 4], best[sizeof files];
	long long most = -1;
	for (int i = 0; i < k->n; i++) {
		long long b = metadata_segments(&k->nodes[i], files, sizeof files);
		if (b > most) {
			most = b;
			snprintf(best, sizeof best, "%s", files);
		}
	}
	if (most < 0) {
		snprintf(err, errlen, "no node has a metadata log of %d segments or fewer under %s",
		         SEGMENTS_MAX, k->dir);
		return ERR_NOTFOUND;
	}
	char dump[PATH_MAX];
	snprintf(dump, sizeof dump, "%s/elections.dump", k->dir);
	if (unlink(dump) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", dump, strerror(errno));
		return ERR_IO;
	}
	const char *args[] = {"org.apache.kafka.tools.DumpLogSegments",
	                      "--cluster-metadata-decoder", "--files", best, NULL};
	pid_t pid = kafka_spawn_java(k, DUMP_HEAP, dump, args, NULL);
	int st = pid > 0 ? child_wait(pid, DUMP_MS, k->interrupted) : -1;
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "DumpLogSegments failed (status %d; see %s)", st, dump);
		return ERR_IO;
	}
	FILE *f = fopen(dump, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", dump, strerror(errno));
		return ERR_IO;
	}
	size_t n = kelections_read(f, out, cap);
	fclose(f);
	return (long)n;
}
