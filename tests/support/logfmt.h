/* logfmt.h - a strict reader of the lines log.h writes, for tests.
 * Compiled once into the test support library (tests/support/logfmt.c);
 * test processes only, any thread.
 *
 * A line is fields separated by one space, each key=value:
 *   key    [A-Za-z0-9_./-]+
 *   value  bare: one or more bytes, none a space, '"', '=', '\', a
 *          control byte or 0x7f
 *          or quoted: '"', then bytes other than '"', '\' and control
 *          bytes, or the escapes \" \\ \n \r \t, or \u00XX (lower-case
 *          hex) for another control byte or 0x7f, then '"'
 * and the first fields are ts (2026-11-21T06:00:00.123Z), level (error,
 * warn, info or debug), component (optional) and msg (quoted). Anything
 * looser than what log.c writes is refused, so a change there that
 * breaks a reader fails the tests.
 */
#ifndef TESTS_SUPPORT_LOGFMT_H
#define TESTS_SUPPORT_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct logfmt_field {
	const char *key, *val; /* into the line; val is raw (quotes, escapes) */
	size_t klen, vlen;
	bool quoted;
} logfmt_field;

/* Splits line (len bytes, no newline) into at most cap fields, *n of
 * them, pointing into line. 0, or -1 with the reason and where in why. */
int logfmt_split(const char *line, size_t len, logfmt_field *f, size_t cap, size_t *n, char *why,
                 size_t whylen);

/* Is field x named key? */
bool logfmt_is(const logfmt_field *x, const char *key);

/* The value of x with quotes and escapes undone into out (cap >= 1,
 * NUL-terminated, cut to fit); its length, which may count NUL bytes
 * from \u0000. */
size_t logfmt_decode(const logfmt_field *x, char *out, size_t cap);

/* 0 when line (len bytes, no newline) is a whole log.h line: strict
 * logfmt that begins ts= level= [component=] msg="...". With journal,
 * the line must start with the priority prefix of its level (<3> ...).
 * Else -1 with the reason in why. */
int logfmt_check_line(const char *line, size_t len, bool journal, char *why, size_t whylen);

/* Checks every line of the file at path. Returns how many are bad (a
 * last line without its newline counts) and describes up to the first
 * five in report (cap >= 1); -1 when the file cannot be read. */
long logfmt_check_file(const char *path, bool journal, char *report, size_t cap);

/* A test's log lines captured in a temp file: from logfmt_capture_start
 * (lines at level or more severe) to logfmt_capture_end. */
typedef struct logfmt_capture {
	int fd;        /* the temp file, removed at once, read back at the end */
	int threshold; /* the one to go back to */
} logfmt_capture;

/* Sends every log line from now on to a new temp file, whose name is
 * removed at once (nothing is left behind, even when the test fails
 * before the end); a failure fails the test. Test thread, with no
 * other thread logging. */
void logfmt_capture_start(logfmt_capture *c, int level);
/* Ends the capture (lines go to /dev/null from then on, the threshold
 * back to what it was) and returns how many of its lines have the msg
 * field msg; -1 when the file could not be read or a line is not a
 * whole log.h line (logfmt_check_line). Asserts nothing, so a test may
 * first clean up. */
int logfmt_capture_end(logfmt_capture *c, const char *msg);

#endif
