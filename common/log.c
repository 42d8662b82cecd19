/* log.c - logfmt lines on stderr or a file, one write(2) each, any thread.
 *
 * Owns the log file descriptor. Before log_set_file lines go to stderr;
 * after it, to one descriptor number kept for the life of the process:
 * log_reopen opens the file again and dup3()s it onto that number, which
 * replaces the open file atomically (a write in flight completes on the
 * old one), then closes the temporary descriptor. Writers only read the
 * number, so they need no lock.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

int log_threshold = LOG_INFO;
static char component[64] = "";
static _Atomic int log_fd = STDERR_FILENO;
static char log_path[4096]; /* "" = stderr; set at start-up only */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_set_level(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			log_threshold = i;
			return 0;
		}
	}
	return ERR_INVAL;
}

void log_set_component(const char *name)
{
	snprintf(component, sizeof component, "%s", name);
}

void log_emit(int level, const char *msg, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);

	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERROR;
	int n = snprintf(line, sizeof line,
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s%s%s msg=\"%s\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
			 level_names[level], component[0] ? " component=" : "",
			 component, msg);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
	if (fmt && fmt[0] && len < sizeof line - 2) {
		line[len++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
		va_end(ap);
		if (m > 0)
			len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
	}
	if (len >= sizeof line - 1)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(atomic_load_explicit(&log_fd, memory_order_acquire), line, len);
	(void)w;
}

static int open_log(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 && err && errlen)
		snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
	return fd;
}

int log_set_file(const char *path, char *err, size_t errlen)
{
	if (!path || !path[0])
		return 0;
	if (strlen(path) >= sizeof log_path) {
		snprintf(err, errlen, "log file name too long");
		return ERR_IO;
	}
	int fd = open_log(path, err, errlen);
	if (fd < 0)
		return ERR_IO;
	snprintf(log_path, sizeof log_path, "%s", path);
	int old = atomic_exchange(&log_fd, fd);
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

int log_reopen(char *err, size_t errlen)
{
	if (!log_path[0])
		return 0;
	int fd = open_log(log_path, err, errlen);
	if (fd < 0)
		return ERR_IO;
	int cur = atomic_load(&log_fd);
	int rc = 0;
	if (dup3(fd, cur, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "dup2 of the log file: %s", strerror(errno));
		rc = ERR_IO;
	}
	close(fd);
	return rc;
}

bool log_every(log_limit *l, uint64_t interval_ms, uint64_t *skipped)
{
	uint64_t now = clock_mono_ms();
	uint64_t next = atomic_load(&l->next_ms);
	if (now < next || !atomic_compare_exchange_strong(&l->next_ms, &next, now + interval_ms)) {
		atomic_fetch_add(&l->skipped, 1);
		return false;
	}
	*skipped = atomic_exchange(&l->skipped, 0);
	return true;
}
