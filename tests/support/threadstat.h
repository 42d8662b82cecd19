/* threadstat.h - what /proc says of a process's threads: one field of a
 * thread's stat, and how many threads have a given value in it; and of
 * the test's own memory, its RssAnon. Header only, for tests; Criterion
 * assertions, so for a test's thread. */
#ifndef TESTS_SUPPORT_THREADSTAT_H
#define TESTS_SUPPORT_THREADSTAT_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Fields of /proc/PID/task/TID/stat, the pid being field 1 (proc(5)). */
#define STAT_NICE 19
#define STAT_POLICY 41

#define THREADSTAT_UTIL static __attribute__((unused))

/* Field n of thread tid of process pid, or -100 when its stat cannot be
 * read (the thread ended). */
THREADSTAT_UTIL int thread_stat(pid_t pid, const char *tid, int n)
{
	char path[128], line[1024];
	snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -100;
	size_t len = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[len] = '\0';
	/* The comm (field 2) may hold spaces: count from its ')'. */
	const char *p = strrchr(line, ')');
	for (int field = 2; p && field < n; field++)
		p = strchr(p + 1, ' ');
	return p ? atoi(p + 1) : -100;
}

/* How many of pid's threads have want in field n, as listed now. */
THREADSTAT_UTIL int threads_with_now(pid_t pid, int n, int want)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int k = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && thread_stat(pid, e->d_name, n) == want)
			k++;
	closedir(d);
	return k;
}

/* threads_with_now, asked again for up to a second while it exceeds
 * most: a joined thread can still be listed for a moment as it exits. */
THREADSTAT_UTIL int threads_with(pid_t pid, int n, int want, int most)
{
	int k = threads_with_now(pid, n, want);
	for (int i = 0; i < 100 && k > most; i++) {
		usleep(10000);
		k = threads_with_now(pid, n, want);
	}
	return k;
}

/* RssAnon of this process in kB (/proc/self/status). */
THREADSTAT_UTIL double self_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	cr_assert_not_null(f);
	char line[256];
	double kb = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssAnon: %lf", &kb) == 1)
			break;
	fclose(f);
	cr_assert_geq(kb, 0, "no RssAnon in /proc/self/status");
	return kb;
}

#endif
