/* feedev.c - the change feed's events as JSON (event.h; docs/events.md). */
#include "feedev.h"

#include <string.h>

#include <jansson.h>

#include "hlc.h"

static const char *const type_names[] = {
    [FEEDEV_SET] = "set",
    [FEEDEV_SUM] = "sum",
    [FEEDEV_MILESTONE] = "milestone",
    [FEEDEV_HOME] = "home",
};

size_t feedev_id_format(const feedev_id *id, char out[FEEDEV_ID_MAX])
{
	/* Three 32-bit decimals (10 digits each), a 64-bit one (20) and
	 * three dashes before the last number, which sbuf_fmt_u64 writes
	 * with SBUF_U64_MAX bytes of room; then the NUL. */
	_Static_assert(FEEDEV_ID_MAX >= 10 + 1 + 10 + 1 + 20 + 1 + SBUF_U64_MAX, "an id fits");
	size_t n = sbuf_fmt_u64(out, id->epoch);
	out[n++] = '-';
	n += sbuf_fmt_u64(out + n, id->partition);
	out[n++] = '-';
	n += sbuf_fmt_u64(out + n, id->offset);
	out[n++] = '-';
	n += sbuf_fmt_u64(out + n, id->index);
	out[n] = '\0';
	return n;
}

/* A decimal without sign or leading zero (but "0") at *s, up to the
 * next '-' or the end; advances *s past it. */
static bool parse_dec(const char **s, const char *end, uint64_t max, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;
	if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] != '-'))
		return false;
	for (; p < end && *p != '-'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*s = p;
	*v = x;
	return true;
}

int feedev_id_parse(const char *s, size_t n, feedev_id *id)
{
	const char *p = s, *end = s + n;
	uint64_t f[4];
	const uint64_t max[4] = {UINT32_MAX, UINT32_MAX, INT64_MAX, UINT32_MAX};
	for (int i = 0; i < 4; i++) {
		if (i && (p == end || *p++ != '-'))
			return ERR_CORRUPT;
		if (!parse_dec(&p, end, max[i], &f[i]))
			return ERR_CORRUPT;
	}
	if (p != end)
		return ERR_CORRUPT;
	*id = (feedev_id){(uint32_t)f[0], (uint32_t)f[1], f[2], (uint32_t)f[3]};
	return 0;
}

int feedev_id_find(const void *buf, size_t len, feedev_id *id)
{
	static const char tag[] = "\"id\":\"";
	const char *s = buf;
	size_t look = len < 64 ? len : 64;
	const char *at = memmem(s, look, tag, sizeof tag - 1);
	if (!at)
		return ERR_CORRUPT;
	const char *from = at + sizeof tag - 1, *end = s + len;
	const char *q = memchr(from, '"', (size_t)(end - from));
	if (!q)
		return ERR_CORRUPT;
	return feedev_id_parse(from, (size_t)(q - from), id);
}

int feedev_id_cmp(const feedev_id *a, const feedev_id *b)
{
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

/* The encoder writes each member's name as a literal (sbuf_putl: a
 * copy of known length) and its numbers with sbuf_put_u64: no format
 * string is parsed per event. The publisher makes one of these per
 * message, so this is the feed's hot path (docs/performance.md). */
#define PUT_NAME(out, name) sbuf_putl((out), ",\"" name "\":")

void feedev_encode(const feedev *e, sbuf *out)
{
	char id[FEEDEV_ID_MAX];
	size_t idn = feedev_id_format(&e->id, id);
	_Static_assert(FEEDEV_VERSION == 1, "the literal below names the version");
	sbuf_putl(out, "{\"v\":1");
	PUT_NAME(out, "id");
	sbuf_putl(out, "\""); /* digits and dashes: nothing to escape */
	sbuf_put(out, id, idn);
	sbuf_putl(out, "\"");
	PUT_NAME(out, "type");
	sbuf_putl(out, "\"");
	sbuf_put(out, type_names[e->type], strlen(type_names[e->type]));
	sbuf_putl(out, "\"");
	if (e->type == FEEDEV_HOME) {
		PUT_NAME(out, "user");
		sbuf_addjstr(out, e->user, e->user_n);
		PUT_NAME(out, "region");
		sbuf_addjstr(out, e->region, e->region_n);
		PUT_NAME(out, "since_ms");
		sbuf_put_u64(out, e->n);
		sbuf_putl(out, "}");
		return;
	}
	PUT_NAME(out, "counter");
	sbuf_addjstr(out, e->counter, e->counter_n);
	PUT_NAME(out, "item");
	sbuf_addjstr(out, e->item, e->item_n);
	switch (e->type) {
	case FEEDEV_SET:
		PUT_NAME(out, "user");
		sbuf_addjstr(out, e->user, e->user_n);
		if (e->member)
			sbuf_putl(out, ",\"member\":true");
		else
			sbuf_putl(out, ",\"member\":false");
		break;
	case FEEDEV_SUM:
		PUT_NAME(out, "n");
		sbuf_put_u64(out, e->n);
		break;
	case FEEDEV_MILESTONE:
		PUT_NAME(out, "threshold");
		sbuf_put_u64(out, e->threshold);
		break;
	case FEEDEV_HOME: break; /* above */
	}
	PUT_NAME(out, "count");
	sbuf_put_u64(out, e->count);
	PUT_NAME(out, "region");
	sbuf_addjstr(out, e->region, e->region_n);
	/* The clock is a string: it is past 2^53, where many JSON readers
	 * round; ms is its wall-clock part, a number. */
	PUT_NAME(out, "hlc");
	sbuf_putl(out, "\"");
	sbuf_put_u64(out, e->hlc);
	sbuf_putl(out, "\"");
	PUT_NAME(out, "ms");
	sbuf_put_u64(out, hlc_ms(e->hlc));
	sbuf_putl(out, "}");
}

/* ---- decoding ------------------------------------------------------------ */

/* A string member into dst (cap bytes with its NUL); *n its length. */
static bool get_str(json_t *o, const char *name, char *dst, size_t cap, size_t *n, bool empty_ok)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_string(v))
		return false;
	size_t len = json_string_length(v);
	if (len >= cap || (!len && !empty_ok))
		return false;
	memcpy(dst, json_string_value(v), len);
	dst[len] = '\0';
	*n = len;
	return true;
}

/* A non-negative integer member. */
static bool get_u64(json_t *o, const char *name, uint64_t *out)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* A "home" event's members: user, region and since_ms, and none of the
 * others' (counter, item, count, hlc, ms, member, n, threshold). */
static int decode_home(json_t *o, feedev_decoded *d)
{
	feedev *e = &d->ev;
	static const char *const others[] = {"counter", "item",   "count", "hlc",
	                                     "ms",      "member", "n",     "threshold"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (json_object_get(o, others[i]))
			return ERR_CORRUPT;
	if (!get_str(o, "user", d->user, sizeof d->user, &e->user_n, false) ||
	    !get_str(o, "region", d->region, sizeof d->region, &e->region_n, false) ||
	    !get_u64(o, "since_ms", &e->n) || !e->n)
		return ERR_CORRUPT;
	e->user = d->user;
	e->region = d->region;
	e->counter = d->counter;
	e->item = d->item;
	return 0;
}

static int decode_obj(json_t *o, feedev_decoded *d)
{
	feedev *e = &d->ev;
	uint64_t v;
	if (!json_is_object(o) || !get_u64(o, "v", &v))
		return ERR_CORRUPT;
	if (v != FEEDEV_VERSION)
		return ERR_VERSION;
	size_t idn, tn;
	char type[16];
	if (!get_str(o, "id", d->id_text, sizeof d->id_text, &idn, false) ||
	    feedev_id_parse(d->id_text, idn, &e->id) ||
	    !get_str(o, "type", type, sizeof type, &tn, false))
		return ERR_CORRUPT;
	e->type = 0;
	for (int t = FEEDEV_SET; t <= FEEDEV_HOME; t++)
		if (!strcmp(type, type_names[t]))
			e->type = (enum feedev_type)t;
	if (!e->type)
		return ERR_CORRUPT;
	if (e->type == FEEDEV_HOME)
		return decode_home(o, d);
	if (!get_str(o, "counter", d->counter, sizeof d->counter, &e->counter_n, false) ||
	    !get_str(o, "item", d->item, sizeof d->item, &e->item_n, false) ||
	    !get_str(o, "region", d->region, sizeof d->region, &e->region_n, false) ||
	    !get_u64(o, "count", &e->count) || !get_u64(o, "ms", &v))
		return ERR_CORRUPT;
	e->counter = d->counter;
	e->item = d->item;
	e->region = d->region;
	e->user = d->user;
	char clock[24];
	size_t cn;
	const char *cp = clock;
	if (!get_str(o, "hlc", clock, sizeof clock, &cn, false) ||
	    !parse_dec(&cp, clock + cn, UINT64_MAX, &e->hlc) || cp != clock + cn ||
	    hlc_ms(e->hlc) != v)
		return ERR_CORRUPT;
	bool has_user = json_object_get(o, "user") != NULL;
	bool has_member = json_object_get(o, "member") != NULL;
	bool has_n = json_object_get(o, "n") != NULL;
	bool has_threshold = json_object_get(o, "threshold") != NULL;
	switch (e->type) {
	case FEEDEV_SET: {
		json_t *m = json_object_get(o, "member");
		if (!get_str(o, "user", d->user, sizeof d->user, &e->user_n, false) ||
		    !json_is_boolean(m) || has_n || has_threshold)
			return ERR_CORRUPT;
		e->member = json_is_true(m);
		break;
	}
	case FEEDEV_SUM:
		if (!get_u64(o, "n", &e->n) || !e->n || has_user || has_member || has_threshold)
			return ERR_CORRUPT;
		break;
	case FEEDEV_MILESTONE:
		if (!get_u64(o, "threshold", &e->threshold) || !e->threshold || has_user ||
		    has_member || has_n)
			return ERR_CORRUPT;
		break;
	case FEEDEV_HOME: return ERR_CORRUPT; /* decode_home's */
	}
	return 0;
}

int feedev_decode(const void *buf, size_t len, feedev_decoded *out)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return ERR_CORRUPT;
	int rc = decode_obj(o, out);
	json_decref(o);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}
