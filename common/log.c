/* log.c - logfmt lines on stderr, one write(2) each, any thread. */
#include "log.h"

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
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
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
