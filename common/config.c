/* config.c - loads a daemon's option table from an INI file and overrides.
 *
 * inih does the INI syntax; this file feeds it one line at a time through
 * its stream reader, so it always knows the current line number and can
 * say "file:line: reason" for every bad section, key or value. Strings and
 * passthrough lists written into the caller's struct are owned by that
 * struct until cfg_free(). Start-up only: not thread-safe.
 *
 * File syntax, as accepted here:
 *   - "[section]" headers and "name = value" lines; ';' or '#' starts a
 *     comment line, and " ;" starts a comment after a value.
 *   - leading whitespace is ignored, so there are no continuation lines.
 *   - a line may hold at most 199 bytes (inih's fixed line buffer).
 *   - every key may appear once; a repeat is an error, not an override.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include <ini.h>

#include "log.h"
#include "xmem.h"

/* One load of one file: the state shared by the line reader and the key
 * handler that inih calls in turn. */
typedef struct parse {
	const cfg_opt *table;
	size_t n;
	void *out;
	const char *path;
	FILE *f;
	char *line; /* getline buffer */
	size_t linecap;
	int lineno; /* line most recently handed to inih */
	int *seen;  /* per option: line where it was set, 0 if not yet */
	bool failed;
	int fail_line;
	char *err;
	size_t errlen;
} parse;

static void *field(void *out, const cfg_opt *o)
{
	return (char *)out + o->offset;
}

static const void *cfield(const void *cfg, const cfg_opt *o)
{
	return (const char *)cfg + o->offset;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Decimal integer with an optional k/m/g suffix (powers of 1024). */
static int parse_int(const char *s, int64_t *v)
{
	bool neg = false;
	uint64_t mag = 0;
	/* The largest magnitude that fits: INT64_MAX, or one more when
	 * negative. */
	uint64_t limit;

	if (*s == '-') {
		neg = true;
		s++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*s < '0' || *s > '9')
		return ERR_INVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (mag > (limit - d) / 10)
			return ERR_INVAL;
		mag = mag * 10 + d;
	}
	unsigned shift = 0;
	switch (*s) {
	case 'k':
	case 'K':
		shift = 10;
		s++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		s++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		s++;
		break;
	}
	if (*s != '\0')
		return ERR_INVAL;
	if (shift && mag > (limit >> shift))
		return ERR_INVAL;
	mag <<= shift;
	if (neg)
		*v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*v = (int64_t)mag;
	return 0;
}

static int parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return 0;
		}
	}
	return ERR_INVAL;
}

/* Parses value for a non-passthrough option and stores it; on a bad value
 * nothing is stored and reason says why. */
static int apply(const cfg_opt *o, void *out, const char *value, char *reason, size_t rlen)
{
	switch (o->type) {
	case CFG_STR: {
		char **p = field(out, o);
		free(*p);
		*p = xstrdup(value);
		return 0;
	}
	case CFG_INT: {
		int64_t v;
		if (parse_int(value, &v) != 0 || v < o->min || v > o->max) {
			snprintf(reason, rlen,
			         "'%s.%s' must be an integer in [%" PRId64 ", %" PRId64
			         "]%s%.64s%s",
			         o->section, o->name, o->min, o->max, o->secret ? "" : ", not '",
			         o->secret ? "" : value, o->secret ? "" : "'");
			return ERR_CONFIG;
		}
		*(int64_t *)field(out, o) = v;
		return 0;
	}
	case CFG_BOOL: {
		bool v;
		if (parse_bool(value, &v) != 0) {
			snprintf(
			    reason, rlen,
			    "'%s.%s' must be a boolean (true/false, yes/no, on/off, 1/0)%s%.64s%s",
			    o->section, o->name, o->secret ? "" : ", not '", o->secret ? "" : value,
			    o->secret ? "" : "'");
			return ERR_CONFIG;
		}
		*(bool *)field(out, o) = v;
		return 0;
	}
	case CFG_PASSTHROUGH: break;
	}
	snprintf(reason, rlen, "'%s' has no settable type", o->section);
	return ERR_CONFIG;
}

static cfg_kv *kv_find(cfg_kv *head, const char *key)
{
	for (; head; head = head->next)
		if (strcmp(head->key, key) == 0)
			return head;
	return NULL;
}

static void kv_append(cfg_kv **head, const char *key, const char *value, const char *where)
{
	cfg_kv *kv = xcalloc(1, sizeof *kv);
	kv->key = xstrdup(key);
	kv->value = xstrdup(value);
	kv->where = xstrdup(where);
	while (*head)
		head = &(*head)->next;
	*head = kv;
}

static bool section_known(const cfg_opt *table, size_t n, const char *section)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].section, section) == 0)
			return true;
	return false;
}

/* The option for section.name: the named option, or the section's
 * passthrough entry. NULL when neither exists. */
static const cfg_opt *lookup(const cfg_opt *table, size_t n, const char *section, const char *name,
                             size_t *idx)
{
	for (size_t i = 0; i < n; i++) {
		const cfg_opt *o = &table[i];
		if (strcmp(o->section, section) != 0)
			continue;
		if (o->type == CFG_PASSTHROUGH || (o->name && strcmp(o->name, name) == 0)) {
			*idx = i;
			return o;
		}
	}
	return NULL;
}

void cfg_defaults(const cfg_opt *table, size_t n, void *out)
{
	char reason[256];
	for (size_t i = 0; i < n; i++) {
		const cfg_opt *o = &table[i];
		const char *def = o->def;
		switch (o->type) {
		case CFG_STR:
			*(char **)field(out, o) = NULL;
			def = def ? def : "";
			break;
		case CFG_INT: def = def ? def : "0"; break;
		case CFG_BOOL: def = def ? def : "false"; break;
		case CFG_PASSTHROUGH: *(cfg_kv **)field(out, o) = NULL; continue;
		}
		if (apply(o, out, def, reason, sizeof reason) != 0) {
			/* The table itself is wrong: a bug, not bad input. */
			log_error("config table default does not parse", "reason=\"%s\"", reason);
			abort();
		}
	}
}

static void fail(parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(parse *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	p->fail_line = p->lineno;
	if (!p->err || p->errlen == 0)
		return;
	int k = snprintf(p->err, p->errlen, "%s:%d: ", p->path, p->lineno);
	if (k < 0 || (size_t)k >= p->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

/* inih's reader: one call, one line of the file. Strips the newline and the
 * leading whitespace, rejects lines that would not fit inih's buffer, and
 * checks section headers against the table (inih does not report them). */
static char *read_line(char *str, int num, void *stream)
{
	parse *p = stream;
	if (p->failed)
		return NULL;
	errno = 0;
	ssize_t len = getline(&p->line, &p->linecap, p->f);
	if (len < 0) {
		if (ferror(p->f)) {
			p->lineno++;
			fail(p, "read error: %s", strerror(errno ? errno : EIO));
		}
		return NULL;
	}
	p->lineno++;
	if (memchr(p->line, '\0', (size_t)len)) {
		fail(p, "NUL byte in line");
		return NULL;
	}
	while (len > 0 && (p->line[len - 1] == '\n' || p->line[len - 1] == '\r'))
		p->line[--len] = '\0';
	const char *s = p->line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == ';' || *s == '#')
		s = ""; /* a comment may be of any length */
	size_t slen = strlen(s);
	if (num < 1 || slen > (size_t)num - 1) {
		fail(p, "line longer than %d bytes", num - 1);
		return NULL;
	}
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end) {
			const char *a = s + 1;
			while (a < end && (*a == ' ' || *a == '\t'))
				a++;
			const char *b = end;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			char *name = xstrndup(a, (size_t)(b - a));
			bool known = section_known(p->table, p->n, name);
			if (known) /* hand inih the name exactly as checked */
				snprintf(str, (size_t)num, "[%s]", name);
			else
				fail(p, "unknown section [%s]", name);
			free(name);
			return known ? str : NULL;
		}
	}
	memcpy(str, s, slen + 1);
	return str;
}

/* inih's handler: one name = value pair of the current line. Returns 0 to
 * mark the line bad; the reader then stops the parse. */
static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	parse *p = user;
	if (p->failed)
		return 0;
	if (name[0] == '\0') {
		fail(p, "empty key");
		return 0;
	}
	size_t idx;
	const cfg_opt *o = lookup(p->table, p->n, section, name, &idx);
	if (!o) {
		if (section[0] == '\0')
			fail(p, "unknown key '%s' (before any [section])", name);
		else
			fail(p, "unknown key '%s.%s'", section, name);
		return 0;
	}
	if (o->type == CFG_PASSTHROUGH) {
		cfg_kv **head = field(p->out, o);
		if (kv_find(*head, name)) {
			fail(p, "'%s.%s' is set twice", section, name);
			return 0;
		}
		char where[PATH_MAX + 16];
		snprintf(where, sizeof where, "%s:%d", p->path, p->lineno);
		kv_append(head, name, value, where);
		return 1;
	}
	if (p->seen[idx]) {
		fail(p, "'%s.%s' is set twice (first on line %d)", section, name, p->seen[idx]);
		return 0;
	}
	char reason[256];
	if (apply(o, p->out, value, reason, sizeof reason) != 0) {
		fail(p, "%s", reason);
		return 0;
	}
	p->seen[idx] = p->lineno;
	return 1;
}

int cfg_load(const cfg_opt *table, size_t n, void *out, const char *path, char *err, size_t errlen)
{
	cfg_defaults(table, n, out);

	FILE *f = fopen(path, "r");
	if (!f) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		cfg_free(table, n, out);
		return ERR_CONFIG;
	}
	parse p = {
	    .table = table,
	    .n = n,
	    .out = out,
	    .path = path,
	    .f = f,
	    .seen = xcalloc(n ? n : 1, sizeof(int)),
	    .err = err,
	    .errlen = errlen,
	};
	int ret = ini_parse_stream(read_line, &p, on_pair, &p);
	fclose(f);
	free(p.line);
	free(p.seen);

	/* inih keeps going after a line it cannot parse and reports only the
	 * first such line at the end; it wins if it comes before ours. */
	if (ret > 0 && (!p.failed || ret < p.fail_line)) {
		set_err(err, errlen, "%s:%d: expected '[section]' or 'name = value'", path, ret);
		p.failed = true;
	} else if (ret < 0 && !p.failed) {
		set_err(err, errlen, "%s: parse failed (inih error %d)", path, ret);
		p.failed = true;
	}
	if (p.failed) {
		cfg_free(table, n, out);
		return ERR_CONFIG;
	}
	return 0;
}

static const char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

int cfg_set(const cfg_opt *table, size_t n, void *out, const char *assignment, char *err,
            size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	if (!eq) {
		set_err(err, errlen, "override: expected section.name=value");
		return ERR_CONFIG;
	}
	char *keybuf = xstrndup(assignment, (size_t)(eq - assignment));
	char *valbuf = xstrdup(eq + 1);
	const char *key = trim(keybuf);
	const char *value = trim(valbuf);
	int rc = ERR_CONFIG;

	/* The longest section of the table that the key starts with (then a
	 * dot): "kafka.producer.linger.ms" is key "linger.ms" of
	 * [kafka.producer], "kafka.bootstrap.servers" key "bootstrap.servers"
	 * of [kafka]. With none, the first dot ends the section (an unknown
	 * one, reported below). */
	char *dot = NULL;
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(table[i].section);
		if (sl > best && strncmp(key, table[i].section, sl) == 0 && key[sl] == '.') {
			best = sl;
			dot = (char *)key + sl;
		}
	}
	if (!dot)
		dot = strchr(key, '.');
	if (!dot || dot == key || dot[1] == '\0') {
		set_err(err, errlen, "override: expected section.name=value, not '%.64s'", key);
		goto out;
	}
	*dot = '\0';
	const char *section = key;
	const char *name = dot + 1;
	size_t idx;
	const cfg_opt *o = lookup(table, n, section, name, &idx);
	if (!o) {
		set_err(err, errlen, "override: unknown key '%s.%s'", section, name);
		goto out;
	}
	if (o->type == CFG_PASSTHROUGH) {
		cfg_kv **head = field(out, o);
		cfg_kv *kv = kv_find(*head, name);
		if (kv) {
			free(kv->value);
			kv->value = xstrdup(value);
			free(kv->where);
			kv->where = xstrdup("-s");
		} else {
			kv_append(head, name, value, "-s");
		}
		rc = 0;
		goto out;
	}
	char reason[256];
	rc = apply(o, out, value, reason, sizeof reason);
	if (rc != 0)
		set_err(err, errlen, "override: %s", reason);
out:
	free(keybuf);
	free(valbuf);
	return rc;
}

/* Passthrough keys that name a credential are masked even when the
 * section is not marked secret (sasl.password, ssl.key.password, ...). */
static bool key_is_secret(const char *key)
{
	return strstr(key, "password") || strstr(key, "secret");
}

/* log.h quotes the value when it has to (an empty one, a list with
 * spaces). */
static void log_one(const char *section, const char *name, const char *value, bool secret)
{
	log_info("config", "key=%s.%s value=%s", section, name, secret ? "***" : value);
}

void cfg_log(const cfg_opt *table, size_t n, const void *cfg)
{
	char num[32];
	for (size_t i = 0; i < n; i++) {
		const cfg_opt *o = &table[i];
		switch (o->type) {
		case CFG_STR: {
			const char *s = *(char *const *)cfield(cfg, o);
			log_one(o->section, o->name, s ? s : "", o->secret);
			break;
		}
		case CFG_INT:
			snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)cfield(cfg, o));
			log_one(o->section, o->name, num, o->secret);
			break;
		case CFG_BOOL:
			log_one(o->section, o->name,
			        *(const bool *)cfield(cfg, o) ? "true" : "false", o->secret);
			break;
		case CFG_PASSTHROUGH:
			for (const cfg_kv *kv = *(cfg_kv *const *)cfield(cfg, o); kv; kv = kv->next)
				log_one(o->section, kv->key, kv->value,
				        o->secret || key_is_secret(kv->key));
			break;
		}
	}
}

void cfg_free(const cfg_opt *table, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		const cfg_opt *o = &table[i];
		if (o->type == CFG_STR) {
			char **p = field(out, o);
			free(*p);
			*p = NULL;
		} else if (o->type == CFG_PASSTHROUGH) {
			cfg_kv **head = field(out, o);
			cfg_kv *kv = *head;
			while (kv) {
				cfg_kv *next = kv->next;
				free(kv->key);
				free(kv->value);
				free(kv->where);
				free(kv);
				kv = next;
			}
			*head = NULL;
		}
	}
}

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool is_v6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '.';
}

int cfg_parse_hostport(const char *s, char *host, size_t hostcap, int *port)
{
	const char *h, *hend, *p;

	if (s[0] == '[') {
		h = s + 1;
		hend = strchr(h, ']');
		if (!hend || hend == h || hend[1] != ':')
			return ERR_INVAL;
		/* An address of hex digits, colons and dots, then an optional
		 * %zone of host characters. */
		const char *c = h;
		while (c < hend && is_v6_char(*c))
			c++;
		if (c < hend && *c == '%' && c + 1 < hend) {
			for (c++; c < hend && is_host_char(*c); c++)
				;
		}
		if (c != hend || !memchr(h, ':', (size_t)(hend - h)))
			return ERR_INVAL;
		p = hend + 2;
	} else {
		const char *colon = strchr(s, ':');
		if (!colon)
			return ERR_INVAL;
		h = s;
		hend = colon;
		for (const char *c = h; c < hend; c++)
			if (!is_host_char(*c))
				return ERR_INVAL;
		p = colon + 1;
	}

	/* 1 to 5 digits, at most 65535; 0 asks for an ephemeral port. */
	long v = 0;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 5)
			return ERR_INVAL;
		v = v * 10 + (*p - '0');
	}
	if (digits == 0 || *p != '\0' || v > 65535)
		return ERR_INVAL;

	size_t hlen = (size_t)(hend - h);
	if (hlen + 1 > hostcap)
		return ERR_TOOBIG;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)v;
	return 0;
}

int cfg_load_args(const cfg_opt *table, size_t n, void *out, int argc, char **argv, char *err,
                  size_t errlen)
{
	const char *path = NULL;
	char **sets = xcalloc((size_t)argc + 1, sizeof *sets);
	int nsets = 0, opt, rc = 0;
	bool check = false;
	cfg_defaults(table, n, out);
	optind = 1;
	while (rc == 0 && (opt = getopt(argc, argv, "c:s:ht")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 's': sets[nsets++] = optarg; break;
		case 't': check = true; break;
		case 'h': rc = CFG_ARGS_USAGE; break;
		default: snprintf(err, errlen, "unknown option"); rc = ERR_CONFIG;
		}
	}
	if (rc == 0 && (!path || optind != argc)) {
		snprintf(err, errlen, "-c CONFIG is required and takes no other arguments");
		rc = ERR_CONFIG;
	}
	if (rc == 0)
		rc = cfg_load(table, n, out, path, err, errlen);
	for (int i = 0; rc == 0 && i < nsets; i++)
		rc = cfg_set(table, n, out, sets[i], err, errlen);
	free(sets);
	return rc == 0 && check ? CFG_ARGS_CHECK : rc;
}

int cfg_cmdline_take(cfg_cmdline *cl, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	bool c = strcmp(a, "-c") == 0, s = strcmp(a, "-s") == 0;
	if (!c && !s)
		return 0;
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", a);
		return ERR_CONFIG;
	}
	const char *v = argv[++*i];
	if (c) {
		cl->file = v;
	} else if (cl->nsets == CFG_CMDLINE_SETS) {
		snprintf(err, errlen, "too many -s");
		return ERR_CONFIG;
	} else {
		cl->sets[cl->nsets++] = v;
	}
	return 1;
}

int cfg_cmdline_load(const cfg_opt *table, size_t n, void *out, const cfg_cmdline *cl, char *err,
                     size_t errlen)
{
	if (!cl->file) {
		cfg_defaults(table, n, out);
		cfg_free(table, n, out);
		snprintf(err, errlen, "-c FILE is needed");
		return ERR_CONFIG;
	}
	int rc = cfg_load(table, n, out, cl->file, err, errlen);
	if (rc)
		return ERR_CONFIG; /* cfg_load released out */
	for (int i = 0; i < cl->nsets; i++) {
		if (cfg_set(table, n, out, cl->sets[i], err, errlen)) {
			cfg_free(table, n, out);
			return ERR_CONFIG;
		}
	}
	return 0;
}

/* A cell of a Markdown table: | would end it. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++)
		fputs(*s == '|' ? "\\|" : (char[2]){*s, 0}, f);
}

void cfg_write_markdown(const cfg_opt *table, size_t n, FILE *f)
{
	fputs("| key | default | values | meaning |\n|---|---|---|---|\n", f);
	for (size_t i = 0; i < n; i++) {
		const cfg_opt *o = &table[i];
		fputs("| `", f);
		if (o->type == CFG_PASSTHROUGH) {
			fprintf(f, "[%s]` | | any librdkafka property | ", o->section);
		} else {
			fprintf(f, "%s.%s` | ", o->section, o->name);
			if (o->secret)
				fputs("(secret) ", f);
			if (o->def && o->def[0]) {
				fputs("`", f);
				md_cell(f, o->def);
				fputs("`", f);
			} else {
				fputs(o->type == CFG_BOOL  ? "`false`"
				      : o->type == CFG_INT ? "`0`"
				                           : "empty",
				      f);
			}
			fputs(" | ", f);
			if (o->type == CFG_INT)
				fprintf(f, "%" PRId64 " .. %" PRId64, o->min, o->max);
			else if (o->type == CFG_BOOL)
				fputs("true, false", f);
			else
				fputs("text", f);
			fputs(" | ", f);
		}
		md_cell(f, o->help ? o->help : "");
		fputs(" |\n", f);
	}
}
