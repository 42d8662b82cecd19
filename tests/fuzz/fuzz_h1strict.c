/* fuzz_h1strict.c - libFuzzer target for the edge's strict HTTP/1.1
 * framing checks (edge/http/h1strict.c). The input is a request (head and,
 * when it says chunked, body); its first byte picks how the body is cut
 * into pieces. Besides crashes and sanitizer reports, these are
 * findings (abort):
 *   - a head passed with a bare CR or LF in it, or not ending in an empty
 *     line, or with a head_len past the input;
 *   - a shorter prefix of a passed head passed too, or the passed head
 *     alone read differently from the head with bytes after it;
 *   - a chunked body checked in pieces ending elsewhere, or refused where
 *     the whole was not (or the other way round).
 * Single-threaded, no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/http/h1strict.h"

#define TARGET_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head_bytes(const uint8_t *p, size_t n)
{
	if (n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			abort();
	}
}

/* The chunk checker over p[0..n) in pieces of step (0: whole). */
static ssize_t chunks(const uint8_t *p, size_t n, size_t step, bool *done)
{
	h1_chunks s;
	h1strict_chunks_init(&s);
	size_t at = 0;
	*done = false;
	while (at < n && !*done) {
		size_t k = step && n - at > step ? step : n - at;
		const char *why;
		ssize_t r = h1strict_chunks(&s, (const char *)p + at, k, done, &why);
		if (r < 0)
			return -1;
		if ((size_t)r > k || (!*done && (size_t)r != k))
			abort(); /* used more than given, or stopped early */
		at += (size_t)r;
	}
	return (ssize_t)at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	h1_head_info in;
	int status;
	const char *why;
	h1s_result r = h1strict_head((const char *)p, n, TARGET_MAX, &in, &status, &why);
	if (r == H1S_BAD &&
	    (!why || (status != 400 && status != 414 && status != 501 && status != 505)))
		abort();
	/* Checked as it arrives, step bytes at a time, the head gets the
	 * same verdict at every prefix as when checked whole. */
	h1_head hs;
	h1strict_head_init(&hs);
	for (size_t k = step ? step : 1;; k += step ? step : 1) {
		if (k > n)
			k = n;
		h1_head_info a, b;
		int sa = 0, sb = 0;
		const char *wa = NULL, *wb = NULL;
		h1s_result ra =
		    h1strict_head_step(&hs, (const char *)p, k, TARGET_MAX, &a, &sa, &wa);
		h1s_result rb = h1strict_head((const char *)p, k, TARGET_MAX, &b, &sb, &wb);
		if (ra != rb || (ra == H1S_BAD && (sa != sb || wa != wb)) ||
		    (ra == H1S_OK &&
		     (a.head_len != b.head_len || a.chunked != b.chunked || a.length != b.length)))
			abort();
		if (ra != H1S_MORE || k == n)
			break;
	}
	if (r != H1S_OK)
		return 0;
	if (in.head_len > n)
		abort();
	check_head_bytes(p, in.head_len);
	h1_head_info again;
	if (h1strict_head((const char *)p, in.head_len, TARGET_MAX, &again, &status, &why) !=
	        H1S_OK ||
	    again.head_len != in.head_len || again.chunked != in.chunked ||
	    again.length != in.length)
		abort();
	for (size_t k = in.head_len > 64 ? in.head_len - 64 : 0; k < in.head_len; k++)
		if (h1strict_head((const char *)p, k, TARGET_MAX, &again, &status, &why) == H1S_OK)
			abort();
	if (!in.chunked)
		return 0;
	bool done_whole, done_pieces;
	ssize_t whole = chunks(p + in.head_len, n - in.head_len, 0, &done_whole);
	ssize_t pieces = chunks(p + in.head_len, n - in.head_len, step ? step : 1, &done_pieces);
	if (whole != pieces || done_whole != done_pieces)
		abort();
	return 0;
}
