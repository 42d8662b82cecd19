/* guard.c - admission limits shared by the edge's workers (guard.h).
 *
 * Owns two tables (users, addresses), each STRIPES stripes of sets of
 * WAYS entries, one mutex per stripe, and the refusal counters (atomics).
 * An entry is named by a 64-bit hash of its key; 0 marks a free slot,
 * and a set whose first slot was never named was never written (the
 * count of those named, per table, says how much of the tables is
 * resident). Any thread.
 */
#include "edge/auth/guard.h"

#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "clock.h"
#include "memacct.h"
#include "tsa.h"
#include "xmem.h"

#define STRIPES 64
#define WAYS 8
#define WINDOW_MS 60000ULL

typedef struct user_slot {
	uint64_t key;
	uint64_t win_start;           /* start of the current minute */
	uint32_t prev, cur;           /* writes in the previous and the current minute */
	uint32_t prev_last, cur_last; /* ms into its minute of each one's
	                                 latest write */
} user_slot;

typedef struct addr_slot {
	uint64_t key;
	uint64_t last_ms; /* when tokens was last brought up to date */
	double tokens;
	uint32_t conns;
} addr_slot;

typedef struct stripe {
	tsa_mutex mu;
	void *slots; /* nsets * WAYS of user_slot or addr_slot */
} stripe;

struct guard {
	guard_config cfg;
	double addr_rate, addr_burst;
	size_t user_sets, addr_sets; /* per stripe */
	stripe users[STRIPES];
	stripe addrs[STRIPES];
	_Atomic uint64_t refusals[GUARD_NREASONS];
	_Atomic uint64_t evictions;
	_Atomic uint64_t user_sets_used, addr_sets_used; /* sets ever written */
};

static const char *const reason_names[GUARD_NREASONS] = {
    [GUARD_USER_RATE] = "user_rate",       [GUARD_ADDR_RATE] = "addr_rate",
    [GUARD_CONNS] = "conns_per_addr",      [GUARD_STREAMS] = "streams",
    [GUARD_SLOW] = "slow_request",         [GUARD_RESETS] = "rapid_reset",
    [GUARD_HEADERS] = "headers_too_large", [GUARD_BODY] = "body_too_large",
    [GUARD_MALFORMED] = "malformed",       [GUARD_UNAUTH] = "unauthenticated",
    [GUARD_BATCH] = "batch_too_large",
};

static size_t sets_for(size_t entries)
{
	size_t per = (entries + STRIPES * WAYS - 1) / (STRIPES * WAYS);
	return per ? per : 1;
}

guard *guard_new(const guard_config *cfg)
{
	guard *g = xcalloc(1, sizeof *g);
	g->cfg = *cfg;
	g->addr_rate = cfg->addr_per_s;
	g->addr_burst = cfg->addr_burst ? cfg->addr_burst : 2.0 * cfg->addr_per_s;
	if (g->addr_burst < 1)
		g->addr_burst = 1;
	g->user_sets = sets_for(cfg->users);
	g->addr_sets = sets_for(cfg->addrs);
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&g->users[i].mu, NULL);
		pthread_mutex_init(&g->addrs[i].mu, NULL);
		g->users[i].slots = xcalloc(g->user_sets * WAYS, sizeof(user_slot));
		g->addrs[i].slots = xcalloc(g->addr_sets * WAYS, sizeof(addr_slot));
	}
	return g;
}

void guard_free(guard *g)
{
	if (!g)
		return;
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_destroy(&g->users[i].mu);
		pthread_mutex_destroy(&g->addrs[i].mu);
		free(g->users[i].slots);
		free(g->addrs[i].slots);
	}
	free(g);
}

void guard_count(guard *g, guard_reason why)
{
	if (g && why < GUARD_NREASONS)
		atomic_fetch_add_explicit(&g->refusals[why], 1, memory_order_relaxed);
}

uint64_t guard_refusals(const guard *g, guard_reason why)
{
	if (!g || why >= GUARD_NREASONS)
		return 0;
	return atomic_load_explicit(&g->refusals[why], memory_order_relaxed);
}

const char *guard_reason_name(guard_reason why)
{
	return why < GUARD_NREASONS ? reason_names[why] : "unknown";
}

uint64_t guard_evictions(const guard *g)
{
	return atomic_load_explicit(&g->evictions, memory_order_relaxed);
}

static uint64_t hash_of(const void *key, size_t len)
{
	uint64_t h = XXH3_64bits(key, len);
	return h ? h : 1; /* 0 marks a free slot */
}

static void evicted(guard *g)
{
	atomic_fetch_add_explicit(&g->evictions, 1, memory_order_relaxed);
}

/* Slot e of a set starting at first is about to be named: the set's
 * first write, when e is its first slot and was never named. */
static void count_set(_Atomic uint64_t *used, const void *first, const void *e, uint64_t key)
{
	if (e == first && !key)
		atomic_fetch_add_explicit(used, 1, memory_order_relaxed);
}

uint64_t guard_bytes(const guard *g)
{
	uint64_t users = (uint64_t)STRIPES * g->user_sets * WAYS * sizeof(user_slot);
	uint64_t addrs = (uint64_t)STRIPES * g->addr_sets * WAYS * sizeof(addr_slot);
	return memacct_chunk(sizeof *g) +
	       memacct_touched(users,
	                       atomic_load_explicit(&g->user_sets_used, memory_order_relaxed)) +
	       memacct_touched(addrs,
	                       atomic_load_explicit(&g->addr_sets_used, memory_order_relaxed));
}

/* ---- users: a sliding minute ---------------------------------------------- */

/* Brings e's two windows up to now. */
static void user_roll(user_slot *e, uint64_t now)
{
	uint64_t start = now - now % WINDOW_MS;
	if (start == e->win_start)
		return;
	bool next = start == e->win_start + WINDOW_MS;
	e->prev = next ? e->cur : 0;
	e->prev_last = next ? e->cur_last : 0;
	e->cur = 0;
	e->cur_last = 0;
	e->win_start = start;
}

/* The writes counted in the minute that ends at now: this minute's, and
 * the last minute's weighted by how much of it the window still covers,
 * as if they were spread evenly; but none of them once the latest is a
 * minute old (they all left the window then). */
static double user_estimate(const user_slot *e, uint64_t now)
{
	uint64_t into = now - e->win_start;
	if (into >= e->prev_last)
		return (double)e->cur;
	double left = (double)(WINDOW_MS - into) / (double)WINDOW_MS;
	return (double)e->prev * left + (double)e->cur;
}

/* When, in ms into a minute, the previous minute's count (prev, latest
 * write at prev_last) has slid out enough to leave room. */
static double slid_out_at(uint32_t prev, uint32_t prev_last, double room)
{
	double w = (double)WINDOW_MS;
	double at = prev ? w - room * w / (double)prev : 0;
	if (at < 0)
		at = 0;
	return at < prev_last ? at : prev_last;
}

/* Milliseconds from now until n more writes fit limit (n <= limit): at
 * most a minute, since by then every write counted now has left. */
static uint64_t user_wait_ms(const user_slot *e, uint64_t now, unsigned n, unsigned limit)
{
	double into = (double)(now - e->win_start);
	double room = (double)limit - (double)e->cur - (double)n;
	if (room >= 0) {
		/* still in this minute, once enough of prev has slid out */
		double at = slid_out_at(e->prev, e->prev_last, room);
		return at > into ? (uint64_t)ceil(at - into) : 1;
	}
	/* the next minute, where this one's count is the previous one's;
	 * cur_last <= into, so this is never more than WINDOW_MS */
	double at = slid_out_at(e->cur, e->cur_last, (double)limit - (double)n);
	uint64_t wait = (uint64_t)ceil((double)WINDOW_MS - into + at);
	return wait ? wait : 1;
}

static user_slot *user_find(guard *g, user_slot *set, uint64_t key, uint64_t now)
{
	user_slot *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < WAYS; i++) {
		user_slot *e = &set[i];
		if (e->key == key)
			return e;
		if (!e->key || now >= e->win_start + 2 * WINDOW_MS) {
			if (!free_slot)
				free_slot = e;
		} else if (!oldest || e->win_start < oldest->win_start ||
		           (e->win_start == oldest->win_start && e->cur < oldest->cur)) {
			oldest = e;
		}
	}
	user_slot *e = free_slot;
	if (!e) {
		e = oldest;
		evicted(g);
	}
	count_set(&g->user_sets_used, set, e, e->key);
	*e = (user_slot){.key = key, .win_start = now - now % WINDOW_MS};
	/* prev_last 0: no previous minute to count */
	return e;
}

bool guard_user_write(guard *g, const char *user, unsigned n, uint64_t now_ms,
                      unsigned *retry_after_s)
{
	unsigned limit = g->cfg.user_writes_per_min;
	if (!limit || n == 0)
		return true;
	uint64_t key = hash_of(user, strlen(user));
	stripe *s = &g->users[key % STRIPES];
	user_slot *set = (user_slot *)s->slots + ((key / STRIPES) % g->user_sets) * WAYS;
	tsa_lock(&s->mu);
	user_slot *e = user_find(g, set, key, now_ms);
	user_roll(e, now_ms);
	bool ok = n <= limit && user_estimate(e, now_ms) + n <= (double)limit;
	uint64_t wait = 0;
	if (ok) {
		e->cur += n;
		e->cur_last = (uint32_t)(now_ms - e->win_start);
	} else
		wait = n > limit ? WINDOW_MS : user_wait_ms(e, now_ms, n, limit);
	tsa_unlock(&s->mu);
	if (!ok) {
		guard_count(g, GUARD_USER_RATE);
		*retry_after_s = (unsigned)((wait + 999) / 1000);
		if (*retry_after_s == 0)
			*retry_after_s = 1;
	}
	return ok;
}

/* ---- addresses: a token bucket and a connection count ------------------- */

static void addr_refill(const guard *g, addr_slot *e, uint64_t now)
{
	if (now > e->last_ms) {
		e->tokens += (double)(now - e->last_ms) * g->addr_rate / 1000.0;
		if (e->tokens > g->addr_burst)
			e->tokens = g->addr_burst;
	}
	e->last_ms = now;
}

/* Free to reuse: no connection, and a bucket that would be full by now. */
static bool addr_idle(const guard *g, const addr_slot *e, uint64_t now)
{
	if (!e->key)
		return true;
	if (e->conns)
		return false;
	if (g->addr_rate <= 0)
		return true;
	double refill = now > e->last_ms ? (double)(now - e->last_ms) * g->addr_rate / 1000.0 : 0;
	return e->tokens + refill >= g->addr_burst;
}

/* The entry of key, made if absent; NULL when every way holds a
 * connection. create false: NULL when absent. */
static addr_slot *addr_find(guard *g, addr_slot *set, uint64_t key, uint64_t now, bool create)
{
	addr_slot *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < WAYS; i++) {
		addr_slot *e = &set[i];
		if (e->key == key)
			return e;
		if (addr_idle(g, e, now)) {
			if (!free_slot)
				free_slot = e;
		} else if (!e->conns && (!oldest || e->last_ms < oldest->last_ms)) {
			oldest = e;
		}
	}
	if (!create)
		return NULL;
	addr_slot *e = free_slot;
	if (!e) {
		e = oldest;
		evicted(g);
		if (!e)
			return NULL;
	}
	count_set(&g->addr_sets_used, set, e, e->key);
	*e = (addr_slot){.key = key, .last_ms = now, .tokens = g->addr_burst};
	return e;
}

static stripe *addr_stripe(guard *g, const uint8_t *ip, uint64_t *key, addr_slot **set)
{
	*key = hash_of(ip, GUARD_IP_LEN);
	stripe *s = &g->addrs[*key % STRIPES];
	*set = (addr_slot *)s->slots + ((*key / STRIPES) % g->addr_sets) * WAYS;
	return s;
}

bool guard_addr_limited(const guard *g)
{
	return g->cfg.addr_per_s != 0;
}

bool guard_addr_request(guard *g, const uint8_t *ip, uint64_t now_ms, unsigned *retry_after_s)
{
	if (!ip || g->cfg.addr_per_s == 0)
		return true;
	uint64_t key;
	addr_slot *set;
	stripe *s = addr_stripe(g, ip, &key, &set);
	tsa_lock(&s->mu);
	addr_slot *e = addr_find(g, set, key, now_ms, true);
	bool ok = true;
	double missing = 0;
	if (e) {
		addr_refill(g, e, now_ms);
		if (e->tokens >= 1)
			e->tokens -= 1;
		else
			ok = false, missing = 1 - e->tokens;
	}
	tsa_unlock(&s->mu);
	if (!ok) {
		guard_count(g, GUARD_ADDR_RATE);
		double secs = missing / g->addr_rate;
		unsigned whole = (unsigned)secs;
		*retry_after_s = whole + (whole < secs || whole == 0); /* rounded up, >= 1 */
	}
	return ok;
}

bool guard_conn_open(guard *g, const uint8_t *ip, bool *tracked)
{
	*tracked = false;
	if (!ip || g->cfg.conns_per_addr == 0)
		return true;
	uint64_t key;
	addr_slot *set;
	stripe *s = addr_stripe(g, ip, &key, &set);
	tsa_lock(&s->mu);
	addr_slot *e = addr_find(g, set, key, clock_mono_ms(), true);
	bool ok = true;
	if (e && e->conns >= g->cfg.conns_per_addr) {
		ok = false;
	} else if (e) {
		e->conns++;
		*tracked = true;
	}
	tsa_unlock(&s->mu);
	if (!ok)
		guard_count(g, GUARD_CONNS);
	return ok;
}

void guard_conn_close(guard *g, const uint8_t *ip)
{
	uint64_t key;
	addr_slot *set;
	stripe *s = addr_stripe(g, ip, &key, &set);
	tsa_lock(&s->mu);
	addr_slot *e = addr_find(g, set, key, clock_mono_ms(), false);
	if (e && e->conns)
		e->conns--;
	tsa_unlock(&s->mu);
}

unsigned guard_conns(guard *g, const uint8_t *ip)
{
	uint64_t key;
	addr_slot *set;
	stripe *s = addr_stripe(g, ip, &key, &set);
	tsa_lock(&s->mu);
	addr_slot *e = addr_find(g, set, key, clock_mono_ms(), false);
	unsigned n = e ? e->conns : 0;
	tsa_unlock(&s->mu);
	return n;
}

static bool admit_conn(void *ctx, const uint8_t ip[HTTP_IP_LEN], bool *tracked)
{
	return guard_conn_open(ctx, ip, tracked);
}

static void close_conn(void *ctx, const uint8_t ip[HTTP_IP_LEN])
{
	guard_conn_close(ctx, ip);
}

static void count_refusal(void *ctx, http_refusal why)
{
	static const guard_reason reasons[] = {
	    [HTTP_REFUSED_STREAMS] = GUARD_STREAMS, [HTTP_REFUSED_SLOW] = GUARD_SLOW,
	    [HTTP_REFUSED_RESETS] = GUARD_RESETS,   [HTTP_REFUSED_HEADERS] = GUARD_HEADERS,
	    [HTTP_REFUSED_BODY] = GUARD_BODY,       [HTTP_REFUSED_MALFORMED] = GUARD_MALFORMED,
	};
	if ((size_t)why < sizeof reasons / sizeof *reasons)
		guard_count(ctx, reasons[why]);
}

http_admission guard_http_admission(guard *g)
{
	if (!g)
		return (http_admission){0};
	return (http_admission){
	    .conn_open = admit_conn, .conn_close = close_conn, .refused = count_refusal, .ctx = g};
}

static void render(const metrics *m, void *obj, sbuf *out)
{
	const guard *g = obj;
	metrics_family(m, out, "refused_total", METRIC_COUNTER,
	               "Requests, streams and connections refused, by reason.");
	char labels[64];
	for (int r = 0; r < GUARD_NREASONS; r++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"",
		         guard_reason_name((guard_reason)r));
		metrics_sample(m, out, "refused_total", labels,
		               (double)guard_refusals(g, (guard_reason)r));
	}
	metrics_single(m, out, "guard_evictions_total", METRIC_COUNTER,
	               "Rate-limit entries pushed out while live (the tables are too small).",
	               (double)(g ? guard_evictions(g) : 0));
}

void guard_metrics_add(metrics *reg, guard *g)
{
	metrics_add_object_hook(reg, render, g);
}

bool guard_holds(void *ctx, uint64_t *out)
{
	if (!ctx)
		return false;
	*out = guard_bytes(ctx);
	return true;
}
