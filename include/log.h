/* log.h - structured logging, one logfmt line per event.
 *
 *   log_info("batch sealed", "partition=%u seq=%" PRIu64, p, seq);
 *
 * prints
 *
 *   ts=2026-11-21T06:00:00.123Z level=info pid=42 msg="batch sealed" partition=3 seq=17
 *
 * to stderr, or to the file log_set_file names. The level is checked
 * before anything is formatted. Safe to call from any thread: each line
 * is written with one write(2) to one file descriptor whose number never
 * changes once a file is set (log_reopen swaps the file under it with
 * dup2, which the kernel does atomically), so a line goes whole to the
 * old file or whole to the new one.
 */
#ifndef LIKES_LOG_H
#define LIKES_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_threshold;

/* Sets the threshold from "error", "warn", "info" or "debug"; returns
 * ERR_INVAL for anything else. */
int log_set_level(const char *name);
/* Names every line with component=NAME (e.g. "edge/mumbai"). */
void log_set_component(const char *name);

/* Appends every line from now on to path (created 0640 if absent)
 * instead of stderr. NULL or "" keeps stderr. Start-up only, before other
 * threads log. 0, or ERR_IO (the reason in err) when it cannot be
 * opened. */
int log_set_file(const char *path, char *err, size_t errlen) WARN_UNUSED;
/* Opens the file of log_set_file again (for logrotate: the old one was
 * renamed) and makes it the one lines go to; lines being written
 * meanwhile finish in the old file, which is then closed. A no-op (0)
 * on stderr. ERR_IO with the reason in err when the file cannot be
 * opened: lines keep going to the old one. Any thread, but one at a
 * time (the daemons call it from their SIGHUP handling). */
int log_reopen(char *err, size_t errlen) WARN_UNUSED;

void log_emit(int level, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line a second for a repeated failure: log_every() is true for the
 * first call and then at most once per interval; *skipped is how many
 * calls it said no to since the last yes (put it in the line). Any
 * thread; a zeroed log_limit is ready. */
typedef struct log_limit {
	_Atomic uint64_t next_ms;
	_Atomic uint64_t skipped;
} log_limit;

bool log_every(log_limit *l, uint64_t interval_ms, uint64_t *skipped);

#define LOG_AT(lvl, msg, ...)                                                  \
	do {                                                                   \
		if ((lvl) <= log_threshold)                                    \
			log_emit((lvl), (msg), __VA_ARGS__);                   \
	} while (0)
#define log_error(msg, ...) LOG_AT(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_AT(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_AT(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) LOG_AT(LOG_DEBUG, msg, __VA_ARGS__)

#endif
