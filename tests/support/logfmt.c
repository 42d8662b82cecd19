/* logfmt.c - the strict reader of log.h's lines, for tests (logfmt.h). */
#include "tests/support/logfmt.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '/';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Is p "u00XX" for a byte that has no shorter escape: below 0x20 but
 * not \n \r \t, or 0x7f? (p has 5 bytes.) */
static bool control_escape(const char *p)
{
	if (memcmp(p, "u00", 3) != 0 || !is_hex(p[3]) || !is_hex(p[4]))
		return false;
	int b = (int)strtol((char[]){p[3], p[4], 0}, NULL, 16);
	return (b < 0x20 && b != '\n' && b != '\r' && b != '\t') || b == 0x7f;
}

int logfmt_split(const char *line, size_t len, logfmt_field *f, size_t cap, size_t *n, char *why,
                 size_t whylen)
{
	size_t i = 0;
	*n = 0;
#define LOGFMT_BAD(...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)
	if (len == 0)
		LOGFMT_BAD("empty line");
	while (i < len) {
		if (*n == cap)
			LOGFMT_BAD("more than %zu fields", cap);
		logfmt_field *x = &f[(*n)++];
		x->key = line + i;
		while (i < len && key_char(line[i]))
			i++;
		x->klen = (size_t)(line + i - x->key);
		if (x->klen == 0)
			LOGFMT_BAD("no key at byte %zu", i);
		if (i == len || line[i] != '=')
			LOGFMT_BAD("key %.*s without '=' at byte %zu", (int)x->klen, x->key, i);
		i++;
		x->val = line + i;
		x->quoted = i < len && line[i] == '"';
		if (x->quoted) {
			i++;
			for (;;) {
				if (i == len)
					LOGFMT_BAD("quote of %.*s never closed", (int)x->klen,
					           x->key);
				unsigned char c = (unsigned char)line[i];
				if (c == '"')
					break;
				if (c < 0x20 || c == 0x7f)
					LOGFMT_BAD("control byte 0x%02x in %.*s at byte %zu", c,
					           (int)x->klen, x->key, i);
				if (c != '\\') {
					i++;
					continue;
				}
				if (i + 1 < len && line[i + 1] && strchr("\"\\nrt", line[i + 1])) {
					i += 2;
				} else if (i + 5 < len && control_escape(line + i + 1)) {
					i += 6;
				} else {
					LOGFMT_BAD("bad escape in %.*s at byte %zu", (int)x->klen,
					           x->key, i);
				}
			}
			i++; /* the closing quote */
		} else {
			while (i < len && line[i] != ' ') {
				unsigned char c = (unsigned char)line[i];
				if (c < 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\')
					LOGFMT_BAD(
					    "byte 0x%02x in the bare value of %.*s at byte %zu", c,
					    (int)x->klen, x->key, i);
				i++;
			}
			if (line + i == x->val)
				LOGFMT_BAD("empty bare value of %.*s", (int)x->klen, x->key);
		}
		x->vlen = (size_t)(line + i - x->val);
		if (i == len)
			break;
		if (line[i] != ' ')
			LOGFMT_BAD("no space after %.*s at byte %zu", (int)x->klen, x->key, i);
		i++;
		if (i == len)
			LOGFMT_BAD("a space at the end");
	}
	return 0;
#undef LOGFMT_BAD
}

bool logfmt_is(const logfmt_field *x, const char *key)
{
	return x->klen == strlen(key) && memcmp(x->key, key, x->klen) == 0;
}

size_t logfmt_decode(const logfmt_field *x, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = x->val, *end = x->val + x->vlen;
	if (x->quoted) {
		p++;
		end--;
	}
	while (p < end && n + 1 < cap) {
		char c = *p++;
		if (x->quoted && c == '\\') {
			char e = *p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				c = (char)strtol((char[]){p[2], p[3], 0}, NULL, 16);
				p += 4;
				break;
			default: c = e; break;
			}
		}
		out[n++] = c;
	}
	out[n] = 0;
	return n;
}

int logfmt_check_line(const char *line, size_t len, bool journal, char *why, size_t whylen)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const char prio[] = {'3', '4', '6', '7'};
	char prefix = 0;
	if (journal) {
		if (len < 3 || line[0] != '<' || line[2] != '>') {
			snprintf(why, whylen, "no <N> priority prefix");
			return -1;
		}
		prefix = line[1];
		line += 3;
		len -= 3;
	}
	logfmt_field f[64];
	size_t n;
	if (logfmt_split(line, len, f, 64, &n, why, whylen))
		return -1;
	if (n < 3 || !logfmt_is(&f[0], "ts") || !logfmt_is(&f[1], "level")) {
		snprintf(why, whylen, "does not begin with ts= level=");
		return -1;
	}
	/* 2026-11-21T06:00:00.123Z */
	const char *ts = f[0].val;
	bool ts_ok = f[0].vlen == 24 && !f[0].quoted;
	for (size_t i = 0; ts_ok && i < 24; i++) {
		char want = "dddd-dd-ddTdd:dd:dd.dddZ"[i];
		ts_ok = want == 'd' ? ts[i] >= '0' && ts[i] <= '9' : ts[i] == want;
	}
	if (!ts_ok) {
		snprintf(why, whylen, "ts=%.*s is not UTC with milliseconds", (int)f[0].vlen, ts);
		return -1;
	}
	int lv = -1;
	for (int i = 0; i < 4; i++)
		if (!f[1].quoted && f[1].vlen == strlen(levels[i]) &&
		    memcmp(f[1].val, levels[i], f[1].vlen) == 0)
			lv = i;
	if (lv < 0) {
		snprintf(why, whylen, "unknown level=%.*s", (int)f[1].vlen, f[1].val);
		return -1;
	}
	if (journal && prefix != prio[lv]) {
		snprintf(why, whylen, "prefix <%c> for level=%s", prefix, levels[lv]);
		return -1;
	}
	size_t m = logfmt_is(&f[2], "component") ? 3 : 2;
	if (m >= n || !logfmt_is(&f[m], "msg") || !f[m].quoted) {
		snprintf(why, whylen, "no quoted msg after level%s",
		         m == 3 ? " and component" : "");
		return -1;
	}
	return 0;
}

long logfmt_check_file(const char *path, bool journal, char *report, size_t cap)
{
	FILE *f = fopen(path, "r");
	report[0] = 0;
	if (!f)
		return -1;
	char *line = NULL;
	size_t lcap = 0, used = 0;
	ssize_t got;
	long bad = 0, no = 0;
	while ((got = getline(&line, &lcap, f)) > 0) {
		no++;
		size_t len = (size_t)got;
		char why[256];
		bool whole = line[len - 1] == '\n';
		if (whole)
			len--;
		int rc = whole ? logfmt_check_line(line, len, journal, why, sizeof why) : -1;
		if (!whole)
			snprintf(why, sizeof why, "the last line has no newline");
		if (rc == 0)
			continue;
		if (bad++ < 5 && used < cap) {
			int w = snprintf(report + used, cap - used, "%s:%ld: %s: %.*s\n", path, no,
			                 why, (int)(len > 300 ? 300 : len), line);
			if (w > 0)
				used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
		}
	}
	free(line);
	fclose(f);
	return bad;
}

void logfmt_capture_start(logfmt_capture *c, int level)
{
	char path[] = "/tmp/likes-test-log.XXXXXX";
	c->fd = mkstemp(path);
	cr_assert_geq(c->fd, 0, "cannot make a temp file for the log");
	char err[256];
	int rc = log_set_file(path, err, sizeof err);
	unlink(path); /* the log's descriptor and c->fd keep the file */
	if (rc) {
		close(c->fd);
		c->fd = -1;
	}
	cr_assert_eq(rc, 0, "%s", err);
	c->threshold = log_threshold;
	log_threshold = level;
}

int logfmt_capture_end(logfmt_capture *c, const char *msg)
{
	log_threshold = c->threshold;
	char err[256];
	int rc = log_set_file("/dev/null", err, sizeof err) == 0 ? 0 : -1;
	FILE *f = NULL;
	if (c->fd >= 0 && lseek(c->fd, 0, SEEK_SET) == 0)
		f = fdopen(c->fd, "r");
	if (!f) {
		rc = -1;
		if (c->fd >= 0)
			close(c->fd);
	}
	c->fd = -1;
	int found = 0;
	char line[LOG_LINE_MAX + 1], val[LOG_LINE_MAX], why[128];
	while (f && fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\n");
		logfmt_field fs[64];
		size_t n;
		/* A line cut short (no newline) or not log.h's makes the count
		 * worthless. */
		if (line[len] != '\n' ||
		    logfmt_check_line(line, len, false, why, sizeof why) != 0 ||
		    logfmt_split(line, len, fs, 64, &n, why, sizeof why) != 0) {
			rc = -1;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (logfmt_is(&fs[i], "msg")) {
				size_t vl = logfmt_decode(&fs[i], val, sizeof val);
				found += vl == strlen(msg) && memcmp(val, msg, vl) == 0;
				break;
			}
	}
	if (f)
		fclose(f);
	return rc ? rc : found;
}
