/* log.h - structured logging, one logfmt line per event.
 *
 *   log_info("batch sealed", "partition=%u seq=%" PRIu64, p, seq);
 *
 * prints
 *
 *   ts=2026-11-21T06:00:00.123Z level=info component=edge/mumbai msg="batch sealed" partition=3
 * seq=17
 *
 * to stderr, or to the file log_set_file names. The level is checked
 * before anything is formatted. Safe to call from any thread: each line
 * is written with one write(2) to one file descriptor whose number never
 * changes once a file is set (log_reopen swaps the file under it with
 * dup2, which the kernel does atomically), so a line goes whole to the
 * old file or whole to the new one. The descriptor and the component
 * live as long as the process, so a thread of a library (librdkafka's)
 * may log until the very end.
 *
 * Every line is valid logfmt whatever the values hold. fmt is read as
 * space-separated key=value fields and log_emit formats it itself (the
 * format attribute still has the compiler check the arguments):
 *
 *  - A value written in quotes in fmt (err=\"%s\") is always quoted, and
 *    what the conversions put in it is escaped.
 *  - A bare value (peer=%s, old=%lu%s) is written as it is when the
 *    result is a non-empty run of printable bytes other than space, '=',
 *    '"' and '\'; anything else is quoted and escaped, so a value of
 *    "a b" becomes peer="a b" and an empty one peer="".
 *  - Text without a key (fmt "%s" with "") is dropped when empty and
 *    otherwise written as text="...".
 *  - msg is always quoted; component follows the bare rule.
 *
 * Inside quotes '"' is written \", '\' is \\, newline, CR and tab are \n,
 * \r and \t, and every other byte below 0x20, and 0x7f, is \u00XX (two
 * lower-case hex digits), the JSON escapes that logfmt readers such as
 * go-logfmt and Loki decode. Bytes from 0x80 up are copied unchanged.
 *
 * Conversions: %s and %.*s, %c, d i u o x X with hh h l ll z j t, the
 * floating ones with L, %p and %%, with flags, width and precision (also
 * *). Anything else (%n, %1$d, %ls) is copied literally, and so is the
 * rest of fmt, because the type of its argument is unknown.
 *
 * A line longer than LOG_LINE_MAX bytes is cut at a field or, inside a
 * quoted value, before an escape that does not fit; the quote is closed
 * and the line ends with truncated=true.
 *
 * Under systemd (JOURNAL_STREAM names the device and inode of stderr and
 * no log file is set) each line starts with its syslog priority as
 * sd-daemon(3) describes: <3> error, <4> warn, <6> info, <7> debug, which
 * the journal strips and keeps as the priority (journalctl -p warning).
 */
#ifndef LIKES_LOG_H
#define LIKES_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The longest line written, its newline included. */
#define LOG_LINE_MAX 2048

extern int log_threshold;

/* Sets the threshold from "error", "warn", "info" or "debug"; returns
 * ERR_INVAL for anything else. */
int log_set_level(const char *name);
/* Names every line with component=NAME (e.g. "edge/mumbai"). */
void log_set_component(const char *name);

/* Appends every line from now on to path (created 0640 if absent)
 * instead of stderr. NULL or "" keeps stderr, and then decides whether
 * lines carry the journal's priority prefix (see above). Start-up only,
 * before other threads log. 0, or ERR_IO (the reason in err) when it
 * cannot be opened. */
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

#define LOG_AT(lvl, msg, ...)                                                                      \
	do {                                                                                       \
		if ((lvl) <= log_threshold)                                                        \
			log_emit((lvl), (msg), __VA_ARGS__);                                       \
	} while (0)
#define log_error(msg, ...) LOG_AT(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_AT(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_AT(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) LOG_AT(LOG_DEBUG, msg, __VA_ARGS__)

#endif
