/* h1strict.h - the strict reading of HTTP/1.1 framing (RFC 9112) that the
 * edge holds every request to before http-parser sees its bytes.
 *
 * Debian's http-parser is built lenient and is no longer maintained: it
 * takes a space before a header's colon, folded lines, bare LF, junk
 * after a chunk size, and repeated or coded Transfer-Encoding. Where the
 * edge and a proxy in front of it could read one byte stream as different
 * messages, the edge must refuse instead, so every request's head and
 * every chunked body's framing pass through here first:
 *
 *   - h1strict_head checks a whole head (request line, fields, the empty
 *     line) and says how the body is framed; h1strict_head_step does the
 *     same as the head arrives, checking each line once;
 *   - h1strict_chunks checks a chunked body as its bytes arrive and says
 *     where the message ends, so that the next request's head is checked
 *     before the parser reads it.
 *
 * Pure functions over caller-owned bytes; any thread.
 */
#ifndef EDGE_H1STRICT_H
#define EDGE_H1STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum h1s_result {
	H1S_MORE = 0, /* the head is not complete yet */
	H1S_OK = 1,
	H1S_BAD = -1, /* refuse with *status and *why, then close */
} h1s_result;

/* How a checked request's body is framed. */
typedef struct h1_head_info {
	size_t head_len; /* bytes of the head, its empty line included */
	bool chunked;    /* Transfer-Encoding: chunked */
	uint64_t length; /* Content-Length (0 when absent and not chunked) */
} h1_head_info;

/* Checks the request head at the start of buf[0..len). H1S_OK fills
 * *info; H1S_BAD sets *status (400; 414 for a target longer than
 * target_max; 501 for an unknown method or transfer coding; 505 for a
 * version other than 1.0 and 1.1) and *why (static text). A head that
 * cannot become valid however it goes on is refused as soon as that is
 * clear, without waiting for its end. */
h1s_result h1strict_head(const char *buf, size_t len, size_t target_max, h1_head_info *info,
                         int *status, const char **why);

/* The state of a head checked as it arrives: the lines before at have
 * passed, and what they said. */
typedef struct h1_head {
	size_t at; /* 0: the request line has not passed yet */
	bool v11, chunked, host_bad;
	unsigned hosts, lengths, codings, auths, ctypes, idems;
	uint64_t length;
} h1_head;

void h1strict_head_init(h1_head *s);
/* h1strict_head over a head that grows: buf[0..len) is the same head as
 * in the last call on s, with more bytes after it (the caller keeps them
 * in place). Lines already passed are not read again, so a head that
 * arrives a line at a time costs linear work in all. After H1S_BAD or
 * H1S_OK, init s again for the next head. */
h1s_result h1strict_head_step(h1_head *s, const char *buf, size_t len, size_t target_max,
                              h1_head_info *info, int *status, const char **why);

/* The state of a chunked body being checked. */
typedef struct h1_chunks {
	int state;
	uint64_t left;   /* data bytes of the current chunk still to come */
	unsigned digits; /* hex digits of the size read so far */
	char line[256];  /* the extension or trailer line being read */
	size_t line_len;
	bool line_long; /* it did not fit: refused once it ends */
} h1_chunks;

void h1strict_chunks_init(h1_chunks *s);
/* Checks the next n bytes of a chunked body. Returns how many belong to
 * it (all n, or up to its last byte, *done then true), or -1 with *why
 * for a framing error. */
ssize_t h1strict_chunks(h1_chunks *s, const char *p, size_t n, bool *done, const char **why);

#endif
