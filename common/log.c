/* log.c - logfmt lines on stderr or a file, one write(2) each, any thread.
 *
 * Owns the log file descriptor. Before log_set_file lines go to stderr;
 * after it, to one descriptor number kept for the life of the process:
 * log_reopen opens the file again and dup3()s it onto that number, which
 * replaces the open file atomically (a write in flight completes on the
 * old one), then closes the temporary descriptor. Writers only read the
 * number, so they need no lock.
 *
 * log_emit formats the fields itself rather than with vsnprintf: values
 * come from the network, from the store and from librdkafka, and a quote
 * or a space in one of them must not break the line for whoever parses
 * it (log.h has the rules). Each line is built on the caller's stack.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

int log_threshold = LOG_INFO;
static char component[64] = "";
static _Atomic int log_fd = STDERR_FILENO;
static char log_path[4096]; /* "" = stderr; set at start-up only */
static bool journal;        /* prefix <N>; set at start-up only */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* sd-daemon(3) priorities of our levels: err, warning, info, debug. */
static const char *const journal_prefix[] = {"<3>", "<4>", "<6>", "<7>"};

/* Written when a line had to be cut, so nobody takes it for whole. */
static const char truncated_mark[] = " truncated=true";

/* Widths and precisions above this are refused by being clamped: no log
 * field needs them, and they keep one conversion within its buffer. */
#define CONV_MAX 512

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

/* --- the line being built ------------------------------------------------ */

/* Fields go up to cap; the bytes after it are kept for what always ends
 * a line: one closing quote, the truncation mark and the newline. */
typedef struct out {
	char *buf;
	size_t len;
	size_t cap;
	bool cut; /* something did not fit; nothing more is added */
} out;

static size_t room(const out *o)
{
	return o->len < o->cap ? o->cap - o->len : 0;
}

static void put(out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* The escape for byte c inside quotes into e; its length (1 when c
 * stands for itself). */
static size_t escape_byte(unsigned char c, char e[6])
{
	static const char hex[] = "0123456789abcdef";
	char short_form = 0;
	switch (c) {
	case '"': short_form = '"'; break;
	case '\\': short_form = '\\'; break;
	case '\n': short_form = 'n'; break;
	case '\r': short_form = 'r'; break;
	case '\t': short_form = 't'; break;
	default: break;
	}
	if (short_form) {
		e[0] = '\\';
		e[1] = short_form;
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		memcpy(e, "\\u00", 4);
		e[4] = hex[c >> 4];
		e[5] = hex[c & 0xf];
		return 6;
	}
	e[0] = (char)c;
	return 1;
}

static bool bare_ok(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return false;
	}
	return true;
}

/* Appends " key=value": bare when allowed and it fits, else quoted and
 * escaped, cut before the first escape that does not fit (the closing
 * quote has its byte kept after cap). A field whose key does not fit is
 * left out whole. */
static void put_field(out *o, const char *key, size_t klen, const char *v, size_t n, bool quote)
{
	if (o->cut)
		return;
	if (room(o) < klen + 3) { /* ' ', key, '=', the opening quote */
		o->cut = true;
		return;
	}
	put(o, " ", 1);
	put(o, key, klen);
	put(o, "=", 1);
	if (!quote && bare_ok(v, n) && n <= room(o)) {
		put(o, v, n);
		return;
	}
	put(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		char e[6];
		size_t en = escape_byte((unsigned char)v[i], e);
		if (en > room(o)) {
			o->cut = true;
			break;
		}
		put(o, e, en);
	}
	o->buf[o->len++] = '"';
}

/* --- one value of fmt, formatted ------------------------------------------ */

/* What a value holds before it is written: the text between the quotes
 * of fmt (unescaped) and what the conversions made of their arguments. */
typedef struct vbuf {
	char b[LOG_LINE_MAX];
	size_t n;
	bool over; /* more than fits in a line; the line will be cut */
} vbuf;

static void vadd(vbuf *v, const char *s, size_t n)
{
	if (n > sizeof v->b - v->n) {
		n = sizeof v->b - v->n;
		v->over = true;
	}
	memcpy(v->b + v->n, s, n);
	v->n += n;
}

static void vpad(vbuf *v, size_t n)
{
	for (size_t i = 0; i < n && !v->over; i++)
		vadd(v, " ", 1);
}

enum len_mod { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T, LEN_BIG_L };

/* A conversion as parsed: what it needs to be formatted again alone. */
typedef struct conv {
	char flags[8];
	int width; /* -1: none */
	int prec;  /* -1: none */
	enum len_mod len;
	char type;
} conv;

static int clamp_conv(long n)
{
	return n > CONV_MAX ? CONV_MAX : (int)n;
}

/* The digits at *p as a width or precision, clamped to CONV_MAX. */
static int parse_size(const char **p)
{
	long n = 0;
	for (; **p >= '0' && **p <= '9'; (*p)++)
		if (n <= CONV_MAX)
			n = n * 10 + (**p - '0');
	return clamp_conv(n);
}

/* Reads "[flags][width][.prec][length]type" after a '%'; the type is
 * '\0' when fmt ends first. Width and precision given as '*' take their
 * int from ap, as printf does. */
static const char *parse_conv(const char *p, va_list *ap, conv *c)
{
	size_t nf = 0;
	while (*p && strchr("-+ #0'", *p)) {
		if (nf < sizeof c->flags - 2) /* room for a '-' from a negative '*' */
			c->flags[nf++] = *p;
		p++;
	}
	c->flags[nf] = '\0';
	c->width = -1;
	if (*p == '*') {
		int w = va_arg(*ap, int);
		if (w < 0) { /* printf reads a negative width as '-' and its size */
			c->flags[nf++] = '-';
			c->flags[nf] = '\0';
			w = w < -CONV_MAX ? CONV_MAX : -w;
		}
		c->width = clamp_conv(w);
		p++;
	} else if (*p >= '0' && *p <= '9') {
		c->width = parse_size(&p);
	}
	c->prec = -1;
	if (*p == '.') {
		p++;
		if (*p == '*') {
			int pr = va_arg(*ap, int);
			c->prec = pr < 0 ? -1 : clamp_conv(pr); /* negative: as if none */
			p++;
		} else {
			c->prec = parse_size(&p); /* "%.f": no digits, precision 0 */
		}
	}
	c->len = LEN_NONE;
	switch (*p) {
	case 'h':
		c->len = p[1] == 'h' ? LEN_HH : LEN_H;
		p += c->len == LEN_HH ? 2 : 1;
		break;
	case 'l':
		c->len = p[1] == 'l' ? LEN_LL : LEN_L;
		p += c->len == LEN_LL ? 2 : 1;
		break;
	case 'z':
		c->len = LEN_Z;
		p++;
		break;
	case 'j':
		c->len = LEN_J;
		p++;
		break;
	case 't':
		c->len = LEN_T;
		p++;
		break;
	case 'L':
		c->len = LEN_BIG_L;
		p++;
		break;
	default: break;
	}
	c->type = *p;
	return *p ? p + 1 : p;
}

/* "%<flags><width>.<prec><length><type>" for snprintf, the '*'s already
 * replaced by their numbers, so that it takes the value alone. */
static void sub_format(const conv *c, char *f, size_t cap)
{
	static const char *const lens[] = {"", "hh", "h", "l", "ll", "z", "j", "t", "L"};
	char w[16] = "", pr[16] = "";
	if (c->width >= 0)
		snprintf(w, sizeof w, "%d", c->width);
	if (c->prec >= 0)
		snprintf(pr, sizeof pr, ".%d", c->prec);
	snprintf(f, cap, "%%%s%s%s%s%c", c->flags, w, pr, lens[c->len], c->type);
}

/* The sub-format is made here from a parsed conversion, never from
 * outside input, and takes exactly the one argument passed. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* Formats one argument of c's type into v. false when the conversion is
 * not one log.h lists, before any argument of its own is read. */
static bool format_arg(const conv *c, va_list *ap, vbuf *v)
{
	char f[48], num[CONV_MAX + 64];
	int n = -1;
	sub_format(c, f, sizeof f);
	switch (c->type) {
	case 's': {
		if (c->len != LEN_NONE)
			return false;
		const char *s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)"; /* as glibc prints it */
		size_t sn = c->prec >= 0 ? strnlen(s, (size_t)c->prec) : strlen(s);
		size_t pad = c->width > 0 && (size_t)c->width > sn ? (size_t)c->width - sn : 0;
		bool left = strchr(c->flags, '-') != NULL;
		if (!left)
			vpad(v, pad);
		vadd(v, s, sn);
		if (left)
			vpad(v, pad);
		return true;
	}
	case 'd':
	case 'i':
		switch (c->len) {
		case LEN_NONE:
		case LEN_HH:
		case LEN_H: n = snprintf(num, sizeof num, f, va_arg(*ap, int)); break;
		case LEN_L: n = snprintf(num, sizeof num, f, va_arg(*ap, long)); break;
		case LEN_LL: n = snprintf(num, sizeof num, f, va_arg(*ap, long long)); break;
		case LEN_Z: n = snprintf(num, sizeof num, f, va_arg(*ap, ssize_t)); break;
		case LEN_J: n = snprintf(num, sizeof num, f, va_arg(*ap, intmax_t)); break;
		case LEN_T: n = snprintf(num, sizeof num, f, va_arg(*ap, ptrdiff_t)); break;
		case LEN_BIG_L: return false;
		}
		break;
	case 'u':
	case 'o':
	case 'x':
	case 'X':
		switch (c->len) {
		case LEN_NONE:
		case LEN_HH:
		case LEN_H: n = snprintf(num, sizeof num, f, va_arg(*ap, unsigned)); break;
		case LEN_L: n = snprintf(num, sizeof num, f, va_arg(*ap, unsigned long)); break;
		case LEN_LL:
			n = snprintf(num, sizeof num, f, va_arg(*ap, unsigned long long));
			break;
		case LEN_Z: n = snprintf(num, sizeof num, f, va_arg(*ap, size_t)); break;
		case LEN_J: n = snprintf(num, sizeof num, f, va_arg(*ap, uintmax_t)); break;
		case LEN_T: n = snprintf(num, sizeof num, f, va_arg(*ap, ptrdiff_t)); break;
		case LEN_BIG_L: return false;
		}
		break;
	case 'c':
		if (c->len != LEN_NONE)
			return false; /* %lc takes a wint_t and writes a multibyte char */
		n = snprintf(num, sizeof num, f, va_arg(*ap, int));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (c->len == LEN_BIG_L)
			n = snprintf(num, sizeof num, f, va_arg(*ap, long double));
		else if (c->len == LEN_NONE || c->len == LEN_L) /* %lf is %f */
			n = snprintf(num, sizeof num, f, va_arg(*ap, double));
		else
			return false;
		break;
	case 'p':
		if (c->len != LEN_NONE)
			return false;
		n = snprintf(num, sizeof num, f, va_arg(*ap, void *));
		break;
	default: return false;
	}
	/* snprintf counts what did not fit; %c of 0 writes a NUL that counts. */
	if (n > 0)
		vadd(v, num, (size_t)n < sizeof num ? (size_t)n : sizeof num - 1);
	return true;
}

#pragma GCC diagnostic pop

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '/';
}

/* The byte an escape in fmt's quoted text stands for. */
static char unescape_fmt(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return c;
	}
}

/* Walks fmt field by field (fields end at a space outside quotes) and
 * appends each to the line, as log.h describes. */
static void put_fields(out *o, const char *fmt, va_list *ap)
{
	vbuf v;
	bool args_ok = true; /* false after a conversion that could not be read */
	const char *p = fmt;
	while (*p && !o->cut) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *key = p;
		while (is_key_char(*p))
			p++;
		size_t klen = 0;
		if (*p == '=' && p > key)
			klen = (size_t)(p++ - key);
		else
			p = key; /* no key: the whole field is text */
		v.n = 0;
		v.over = false;
		bool quoted = false, in_quotes = false;
		while (*p && (in_quotes || *p != ' ')) {
			if (*p == '"') {
				in_quotes = !in_quotes;
				quoted = true;
				p++;
			} else if (*p == '\\' && in_quotes && p[1]) {
				char c = unescape_fmt(p[1]);
				vadd(&v, &c, 1);
				p += 2;
			} else if (*p == '%' && args_ok && p[1] == '%') {
				vadd(&v, "%", 1);
				p += 2;
			} else if (*p == '%' && args_ok) {
				conv c;
				const char *end = parse_conv(p + 1, ap, &c);
				if (!format_arg(&c, ap, &v)) {
					/* Its argument's type is unknown, so no later
					 * argument can be found: the rest is text. */
					args_ok = false;
					vadd(&v, p, (size_t)(end - p));
				}
				p = end;
			} else {
				vadd(&v, p++, 1);
			}
		}
		if (klen)
			put_field(o, key, klen, v.b, v.n, quoted);
		else if (v.n)
			put_field(o, "text", 4, v.b, v.n, quoted);
		if (v.over)
			o->cut = true;
	}
}

void log_emit(int level, const char *msg, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);

	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERROR;
	out o = {.buf = line, .cap = sizeof line - 1 - (sizeof truncated_mark - 1) - 1};
	int n = snprintf(line, o.cap, "%sts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s",
	                 journal ? journal_prefix[level] : "", tm.tm_year + 1900, tm.tm_mon + 1,
	                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
	                 level_names[level]);
	if (n < 0 || (size_t)n >= o.cap)
		return; /* cannot happen: the head is a few dozen bytes */
	o.len = (size_t)n;
	if (component[0])
		put_field(&o, "component", 9, component, strlen(component), false);
	put_field(&o, "msg", 3, msg ? msg : "", msg ? strlen(msg) : 0, true);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		put_fields(&o, fmt, &ap);
		va_end(ap);
	}
	if (o.cut) {
		memcpy(line + o.len, truncated_mark, sizeof truncated_mark - 1);
		o.len += sizeof truncated_mark - 1;
	}
	line[o.len++] = '\n';
	ssize_t w = write(atomic_load_explicit(&log_fd, memory_order_acquire), line, o.len);
	(void)w; /* nowhere left to report a failed log write */
}

/* --- where lines go ------------------------------------------------------ */

/* A decimal number without sign or spaces, as systemd writes them. */
static bool parse_dec(const char **s, unsigned long long *v)
{
	const char *p = *s;
	unsigned long long n = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p++ - '0');
		if (n > (~0ULL - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	*s = p;
	return true;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal. The variable is inherited by children whose stderr may be
 * something else, so it counts only when it names our fd 2. */
static bool stderr_is_journal(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	if (!s || !parse_dec(&s, &dev) || *s++ != ':' || !parse_dec(&s, &ino) || *s)
		return false;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
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
	if (!path || !path[0]) {
		journal = atomic_load(&log_fd) == STDERR_FILENO && stderr_is_journal();
		return 0;
	}
	if (strlen(path) >= sizeof log_path) {
		snprintf(err, errlen, "log file name too long");
		return ERR_IO;
	}
	int fd = open_log(path, err, errlen);
	if (fd < 0)
		return ERR_IO;
	snprintf(log_path, sizeof log_path, "%s", path);
	journal = false; /* a file keeps plain lines for logrotate and grep */
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
