/* nemesis.c - draws a fault schedule from a seed and writes it as a
 * drill file (nemesis.h): bursts of overlapping faults over the drill's
 * own steps, each burst's faults kept apart where together they would
 * leave a region nothing to write to, every one healed before the tail.
 * nemesis_cover.c reads the coverage of any drill back from its steps.
 *
 * Owns nothing past a call but the text it hands back. Pure: integers
 * only (times in tenths of a second, splitmix64), so that a seed gives
 * the same bytes on every machine. Any thread.
 */
#include "sim/drill/nemesis.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "xmem.h"

#define DS 10u                   /* tenths of a second in a second */
#define WARMUP_DS (10u * DS)     /* no fault before: the load settles first */
#define TAIL_MIN_DS (15u * DS)   /* no fault after the end less this (or a tenth) */
#define SLOT_MIN_DS (30u * DS)   /* a burst and its gap, at least */
#define GAP_MIN_DS (3u * DS)     /* fault-free time after each burst, at least */
#define SETTLE_DS (12u * DS)     /* a fence (the runner's 10 s), then start again */
#define OVERLAP_MIN_DS (2u * DS) /* a fault starts this long before the last ends */
#define SHORTEST_DS (5u * DS)    /* the shortest fault of any kind */
#define STEPS_PER_FAULT 3u
#define BURSTS_MAX (DRILL_STEPS_MAX / (STEPS_PER_FAULT * NEMESIS_OVERLAP_MAX))
#define FAULTS_MAX (BURSTS_MAX * NEMESIS_OVERLAP_MAX)
#define STEP_TEXT_MAX 96
#define BROKERS DRILL_REGIONAL_BROKERS

/* --- the kinds ------------------------------------------------------------------ */

typedef struct kind_def {
	const char *name;
	unsigned weight;     /* in the default mix */
	unsigned lo_s, hi_s; /* how long the fault is in force */
	bool standby_only;   /* names a standby instance */
	bool regional_only;  /* a region's own Kafka */
	bool edge_process;   /* the region's only instance without standby */
	bool real_only;      /* a real node's process (real_kafka) */
} kind_def;

static const kind_def kinds[NEMESIS_KINDS] = {
    [NEMESIS_KILL] = {"kill", 3, 8, 25, false, false, true, false},
    [NEMESIS_WIPE] = {"wipe", 1, 10, 25, false, false, true, false},
    [NEMESIS_STOP] = {"stop", 2, 8, 20, false, false, true, false},
    [NEMESIS_KILL_STANDBY] = {"kill_standby", 2, 8, 25, true, false, false, false},
    [NEMESIS_WIPE_STANDBY] = {"wipe_standby", 1, 10, 25, true, false, false, false},
    [NEMESIS_STOP_STANDBY] = {"stop_standby", 2, 5, 20, true, false, false, false},
    [NEMESIS_CENTRAL_KILL] = {"central_kill", 1, 5, 20, false, false, false, false},
    [NEMESIS_CENTRAL_STOP] = {"central_stop", 1, 5, 15, false, false, false, false},
    [NEMESIS_BROKER] = {"broker", 3, 8, 25, false, true, false, false},
    [NEMESIS_CUT] = {"cut", 3, 5, 20, false, false, false, false},
    [NEMESIS_CUT_REGIONAL] = {"cut_regional", 2, 8, 20, false, true, false, false},
    [NEMESIS_DELAY] = {"delay", 2, 5, 25, false, false, false, false},
    [NEMESIS_DISK] = {"disk", 1, 8, 20, false, false, false, false},
    [NEMESIS_REGION] = {"region", 1, 8, 25, false, false, false, false},
    /* 0 (these four): a weight in the default mix would redraw every
     * seed (and a clock's would run every nemesis's daemons under
     * libfaketime). --mix KIND=W, or --mix all. */
    [NEMESIS_CLOCK] = {"clock", 0, 5, 25, false, false, false, false},
    [NEMESIS_THROTTLE] = {"throttle", 0, 5, 20, false, false, false, false},
    [NEMESIS_BROKER_PAUSE] = {"broker_pause", 0, 5, 20, false, true, false, true},
    [NEMESIS_CENTRAL_BROKER] = {"central_broker", 0, 5, 20, false, false, false, false},
};
#define CENTRAL_EMBEDDED_BROKERS 3u /* central's embedded cluster (cluster.c) */
#define THROTTLE_MIN_BPS 1000u      /* a throttled path's bytes a second, at least */
#define THROTTLE_MAX_BPS 32000u     /* and at most */
#define CLOCK_JUMP_MIN_S 30u        /* a clock fault's step, at least (at most 10 minutes) */

/* Without a standby a region's edge down is the region down: short. */
#define LONE_EDGE_LO_S 5u
#define LONE_EDGE_HI_S 12u

const char *nemesis_kind_name(nemesis_kind k)
{
	return (unsigned)k < NEMESIS_KINDS ? kinds[k].name : "?";
}

void nemesis_opts_default(nemesis_opts *o)
{
	memset(o, 0, sizeof *o);
	o->duration_s = 180;
	o->regions = 3;
	o->centrals = 1;
	o->standby = true;
	o->regional_kafka = true;
	o->rate = 4;
	o->max_overlap = 3;
	o->roam_pct = 5;
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		o->weight[k] = kinds[k].weight;
}

/* Can the drill o describes hold a fault of kind k at all? */
static bool kind_possible(const nemesis_opts *o, nemesis_kind k)
{
	if (kinds[k].standby_only && !o->standby)
		return false;
	if (kinds[k].regional_only && !o->regional_kafka)
		return false;
	if (kinds[k].real_only && !o->real_kafka)
		return false;
	if (k == NEMESIS_REGION && o->regions < 2)
		return false; /* its users need another region to go to */
	return o->weight[k] > 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ERR_CONFIG;
}

int nemesis_opts_check(const nemesis_opts *o, char *err, size_t errlen)
{
	if (o->duration_s < NEMESIS_DURATION_MIN_S || o->duration_s > NEMESIS_DURATION_MAX_S)
		return fail(err, errlen, "duration %u s out of range %d..%d", o->duration_s,
		            NEMESIS_DURATION_MIN_S, NEMESIS_DURATION_MAX_S);
	if (o->regions < 1 || o->regions > DRILL_REGIONS_MAX)
		return fail(err, errlen, "regions %u out of range 1..%d", o->regions,
		            DRILL_REGIONS_MAX);
	if (o->centrals < 1 || o->centrals > DRILL_CENTRALS_MAX)
		return fail(err, errlen, "centrals %u out of range 1..%d", o->centrals,
		            DRILL_CENTRALS_MAX);
	if (o->rate < 1 || o->rate > NEMESIS_RATE_MAX)
		return fail(err, errlen, "rate %u out of range 1..%d", o->rate, NEMESIS_RATE_MAX);
	if (o->max_overlap < 1 || o->max_overlap > NEMESIS_OVERLAP_MAX)
		return fail(err, errlen, "max overlap %u out of range 1..%d", o->max_overlap,
		            NEMESIS_OVERLAP_MAX);
	if (o->roam_pct > 100)
		return fail(err, errlen, "roam %u%% out of range 0..100", o->roam_pct);
	if (o->undo_pct > 100)
		return fail(err, errlen, "undo %u%% out of range 0..100", o->undo_pct);
	bool any = false;
	for (unsigned k = 0; k < NEMESIS_KINDS; k++) {
		if (o->weight[k] > NEMESIS_WEIGHT_MAX)
			return fail(err, errlen, "weight %u of %s past %d", o->weight[k],
			            kinds[k].name, NEMESIS_WEIGHT_MAX);
		any |= kind_possible(o, (nemesis_kind)k);
	}
	if (!any)
		return fail(err, errlen, "the mix leaves no fault this deployment can take");
	return 0;
}

int nemesis_parse_mix(nemesis_opts *o, const char *spec, char *err, size_t errlen)
{
	unsigned w[NEMESIS_KINDS];
	memcpy(w, o->weight, sizeof w);
	const char *s = spec;
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n == 3 && strncmp(s, "all", 3) == 0) {
			for (unsigned k = 0; k < NEMESIS_KINDS; k++)
				if (!kinds[k].weight)
					w[k] = kinds[NEMESIS_BROKER].weight;
			s += s[n] ? n + 1 : n;
			continue;
		}
		const char *eq = memchr(s, '=', n);
		if (!eq)
			return fail(err, errlen, "bad mix item '%.*s' (KIND=WEIGHT)", (int)n, s);
		unsigned k = 0;
		while (k < NEMESIS_KINDS && !(strlen(kinds[k].name) == (size_t)(eq - s) &&
		                              strncmp(kinds[k].name, s, (size_t)(eq - s)) == 0))
			k++;
		if (k == NEMESIS_KINDS)
			return fail(err, errlen, "unknown fault kind '%.*s' in the mix",
			            (int)(eq - s), s);
		const char *num = eq + 1, *end = s + n;
		unsigned v = 0;
		if (num == end)
			return fail(err, errlen, "no weight for %s in the mix", kinds[k].name);
		for (const char *q = num; q < end; q++) {
			if (*q < '0' || *q > '9' || v > NEMESIS_WEIGHT_MAX)
				return fail(err, errlen, "bad weight '%.*s' for %s (0..%d)",
				            (int)(end - num), num, kinds[k].name,
				            NEMESIS_WEIGHT_MAX);
			v = v * 10 + (unsigned)(*q - '0');
		}
		if (v > NEMESIS_WEIGHT_MAX)
			return fail(err, errlen, "weight %u for %s past %d", v, kinds[k].name,
			            NEMESIS_WEIGHT_MAX);
		w[k] = v;
		s = *end ? end + 1 : end;
	}
	memcpy(o->weight, w, sizeof w);
	return 0;
}

/* --- the generator ------------------------------------------------------------- */

/* splitmix64 (Steele, Lea and Flood; the public-domain constants of
 * Vigna's version): one 64-bit add and two multiplies per number. */
typedef struct rng {
	uint64_t s;
} rng;

static uint64_t rng_next(rng *g)
{
	uint64_t z = (g->s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (lo when hi <= lo), without modulo bias. */
static unsigned pick(rng *g, unsigned lo, unsigned hi)
{
	if (hi <= lo)
		return lo;
	uint64_t n = (uint64_t)hi - lo + 1, lim = UINT64_MAX - UINT64_MAX % n, x;
	do
		x = rng_next(g);
	while (x >= lim);
	return lo + (unsigned)(x % n);
}

/* What a burst's faults must not share (one fault each at a time). */
enum {
	RES_INST = 0,                                  /* + region: its instances */
	RES_BROKERS = RES_INST + DRILL_REGIONS_MAX,    /* + region: its own Kafka */
	RES_USERS = RES_BROKERS + DRILL_REGIONS_MAX,   /* + region: its users */
	RES_USERS_ANY = RES_USERS + DRILL_REGIONS_MAX, /* one region down for users */
	RES_CENTRALS,                                  /* central's processes */
	RES_CENTRAL_KAFKA,                             /* central's own Kafka */
	RES_LONE_EDGE,                                 /* without standby: one region's edge down */
	RES_PATH_EDGE,                                 /* + region * 4 + link - 1 */
	RES_PATH_CENTRAL = RES_PATH_EDGE + DRILL_REGIONS_MAX * DRILL_LINK_LAST,
	RES_CLOCK = RES_PATH_CENTRAL + DRILL_CENTRALS_MAX * DRILL_LINK_LAST, /* + node's */
	RES_MAX = RES_CLOCK + DRILL_REGIONS_MAX + DRILL_CENTRALS_MAX
};

static unsigned res_path(drill_node_kind node, unsigned index, drill_link link)
{
	return (node == DRILL_EDGE ? RES_PATH_EDGE : RES_PATH_CENTRAL) + index * DRILL_LINK_LAST +
	       (unsigned)link - 1;
}

/* A fault as drawn. */
typedef struct fault {
	nemesis_kind kind;
	unsigned open_ds, close_ds, settle_ds; /* settle_ds: the start after a fence; 0: none */
	drill_node_kind node;
	unsigned index;
	bool standby; /* edgeN.standby */
	drill_link link;
	unsigned dir; /* 1 forward, 2 backward, 3 both */
	unsigned broker;
	bool leader;   /* the broker leads the region's changelog */
	bool takeover; /* loses the region's active instance */
	unsigned delay_ms, jitter_ms;
	unsigned bps; /* a throttle's */
	int clock_s;  /* the clock's step */
} fault;

/* Where a fault may go. */
typedef struct target {
	drill_node_kind node;
	unsigned index;
	drill_link link;
} target;

#define TARGETS_MAX (DRILL_REGIONS_MAX * 3 + DRILL_CENTRALS_MAX)

/* What a burst forces of its next fault. */
typedef enum force { FORCE_NONE, FORCE_TAKEOVER, FORCE_LEADER } force;

typedef struct gen {
	const nemesis_opts *o;
	rng g;
	bool busy[RES_MAX];                 /* in this burst */
	unsigned leader[DRILL_REGIONS_MAX]; /* of each region's changelog, by the rule */
	fault f[FAULTS_MAX];
	size_t nf;
} gen;

static bool free_all(const gen *s, const unsigned *res, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s->busy[res[i]])
			return false;
	return true;
}

/* The resources a fault of kind k on region (or central) i takes; a
 * takeover that must settle takes the region's brokers, users and
 * regional path too, so nothing slows the takeover or the fence. */
static size_t resources(const gen *s, nemesis_kind k, const target *t, bool settle, unsigned *res)
{
	size_t n = 0;
	unsigned i = t->index;
	switch (k) {
	case NEMESIS_KILL:
	case NEMESIS_WIPE:
	case NEMESIS_STOP:
		res[n++] = RES_INST + i;
		if (!s->o->standby)
			res[n++] = RES_LONE_EDGE;
		break;
	case NEMESIS_KILL_STANDBY:
	case NEMESIS_WIPE_STANDBY:
	case NEMESIS_STOP_STANDBY:
	case NEMESIS_DISK: res[n++] = RES_INST + i; break;
	case NEMESIS_CENTRAL_KILL:
	case NEMESIS_CENTRAL_STOP: res[n++] = RES_CENTRALS; break;
	case NEMESIS_BROKER:
	case NEMESIS_BROKER_PAUSE: res[n++] = RES_BROKERS + i; break;
	case NEMESIS_CENTRAL_BROKER: res[n++] = RES_CENTRAL_KAFKA; break;
	case NEMESIS_CUT:
	case NEMESIS_DELAY:
	case NEMESIS_THROTTLE: res[n++] = res_path(t->node, i, t->link); break;
	case NEMESIS_CUT_REGIONAL:
		res[n++] = RES_INST + i;
		res[n++] = res_path(DRILL_EDGE, i, DRILL_LINK_REGIONAL);
		break;
	case NEMESIS_REGION:
		res[n++] = RES_USERS + i;
		res[n++] = RES_USERS_ANY;
		break;
	case NEMESIS_CLOCK:
		res[n++] = RES_CLOCK + (t->node == DRILL_CENTRAL ? DRILL_REGIONS_MAX : 0) + i;
		break;
	case NEMESIS_KINDS: break;
	}
	if (settle) {
		res[n++] = RES_BROKERS + i;
		res[n++] = RES_USERS + i;
		if (k != NEMESIS_CUT_REGIONAL)
			res[n++] = res_path(DRILL_EDGE, i, DRILL_LINK_REGIONAL);
	}
	return n;
}

/* Does a fault of kind k settle with a fence and a start (strict: as a
 * takeover the burst forces, a regional cut of the active both ways)? */
static bool settles(const gen *s, nemesis_kind k, bool strict)
{
	if (!s->o->standby)
		return false;
	return k == NEMESIS_STOP || (k == NEMESIS_CUT_REGIONAL && strict);
}

static void add_target(target *t, size_t *n, drill_node_kind node, unsigned index, drill_link link)
{
	t[(*n)++] = (target){node, index, link};
}

/* Every free place for a fault of kind k; strict for a cut that must be
 * a takeover. */
static size_t targets(const gen *s, nemesis_kind k, bool strict, target *t)
{
	const nemesis_opts *o = s->o;
	size_t n = 0;
	unsigned res[8];
	if (k == NEMESIS_CENTRAL_BROKER) {
		add_target(t, &n, DRILL_CENTRAL, 0, 0);
	} else if (k == NEMESIS_CENTRAL_KILL || k == NEMESIS_CENTRAL_STOP || k == NEMESIS_CLOCK) {
		for (unsigned j = 0; j < o->centrals; j++)
			add_target(t, &n, DRILL_CENTRAL, j, 0);
		for (unsigned i = 0; k == NEMESIS_CLOCK && i < o->regions; i++)
			add_target(t, &n, DRILL_EDGE, i, 0);
	} else if (k == NEMESIS_CUT || k == NEMESIS_DELAY || k == NEMESIS_THROTTLE) {
		static const drill_link cut_links[] = {DRILL_LINK_KAFKA, DRILL_LINK_CENTRAL,
		                                       DRILL_LINK_CLIENTS};
		static const drill_link delay_links[] = {DRILL_LINK_KAFKA, DRILL_LINK_CENTRAL,
		                                         DRILL_LINK_REGIONAL};
		const drill_link *links = k == NEMESIS_CUT ? cut_links : delay_links;
		for (unsigned i = 0; i < o->regions; i++)
			for (unsigned l = 0; l < 3; l++)
				if (links[l] != DRILL_LINK_REGIONAL || o->regional_kafka)
					add_target(t, &n, DRILL_EDGE, i, links[l]);
		for (unsigned j = 0; j < o->centrals; j++)
			add_target(t, &n, DRILL_CENTRAL, j, DRILL_LINK_KAFKA);
	} else {
		for (unsigned i = 0; i < o->regions; i++)
			add_target(t, &n, DRILL_EDGE, i, 0);
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nr = resources(s, k, &t[i], settles(s, k, strict), res);
		if (free_all(s, res, nr))
			t[kept++] = t[i];
	}
	return kept;
}

static unsigned lo_ds(const gen *s, nemesis_kind k)
{
	return (kinds[k].edge_process && !s->o->standby ? LONE_EDGE_LO_S : kinds[k].lo_s) * DS;
}

static unsigned hi_ds(const gen *s, nemesis_kind k)
{
	return (kinds[k].edge_process && !s->o->standby ? LONE_EDGE_HI_S : kinds[k].hi_s) * DS;
}

static bool in_force(const gen *s, nemesis_kind k, force fo)
{
	if (fo == FORCE_TAKEOVER)
		return s->o->standby && (k == NEMESIS_KILL || k == NEMESIS_WIPE ||
		                         k == NEMESIS_STOP || k == NEMESIS_CUT_REGIONAL);
	if (fo == FORCE_LEADER)
		return k == NEMESIS_BROKER || k == NEMESIS_BROKER_PAUSE;
	return true;
}

/* Draws the next fault of a burst, starting at start and over by limit
 * (its settling too). False when no kind fits. */
static bool draw_fault(gen *s, force fo, unsigned start, unsigned limit)
{
	const nemesis_opts *o = s->o;
	target t[TARGETS_MAX];
	unsigned sum = 0, w[NEMESIS_KINDS];
	bool strict = fo == FORCE_TAKEOVER;
	for (unsigned k = 0; k < NEMESIS_KINDS; k++) {
		nemesis_kind kk = (nemesis_kind)k;
		unsigned need = lo_ds(s, kk) + (settles(s, kk, strict) ? SETTLE_DS : 0);
		bool fits = kind_possible(o, kk) && in_force(s, kk, fo) && start + need <= limit &&
		            targets(s, kk, strict, t) > 0;
		w[k] = fits ? o->weight[k] : 0;
		sum += w[k];
	}
	if (sum == 0 || s->nf == FAULTS_MAX)
		return false;
	unsigned r = pick(&s->g, 0, sum - 1), k = 0;
	while (r >= w[k])
		r -= w[k++];
	nemesis_kind kind = (nemesis_kind)k;
	size_t nt = targets(s, kind, strict, t);
	const target *tg = &t[pick(&s->g, 0, (unsigned)nt - 1)];

	fault *f = &s->f[s->nf];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->node = tg->node;
	f->index = tg->index;
	f->link = tg->link;
	f->open_ds = start;
	f->dir = 3;
	bool settle = settles(s, kind, strict);
	switch (kind) {
	case NEMESIS_KILL:
	case NEMESIS_WIPE:
	case NEMESIS_STOP: f->takeover = o->standby; break;
	case NEMESIS_KILL_STANDBY:
	case NEMESIS_WIPE_STANDBY:
	case NEMESIS_STOP_STANDBY: f->standby = true; break;
	case NEMESIS_BROKER:
	case NEMESIS_BROKER_PAUSE: {
		unsigned *lead = &s->leader[f->index];
		f->leader = fo == FORCE_LEADER || pick(&s->g, 0, 1) == 0;
		if (f->leader) {
			f->broker = *lead;
			*lead = *lead % BROKERS + 1; /* to the next broker up */
		} else {
			unsigned other = pick(&s->g, 1, BROKERS - 1); /* 1 or 2 past the leader */
			f->broker = (*lead - 1 + other) % BROKERS + 1;
		}
		break;
	}
	case NEMESIS_CUT:
		f->dir = pick(&s->g, 1, 3);
		f->standby = o->standby && f->node == DRILL_EDGE && pick(&s->g, 0, 2) == 0;
		break;
	case NEMESIS_CUT_REGIONAL: {
		f->link = DRILL_LINK_REGIONAL;
		/* The active's both ways or forward is a takeover (and a fence
		 * when healed); with its brokers or users busy, or no time to
		 * settle, the standby's path instead. */
		unsigned res[8];
		size_t nr = resources(s, kind, tg, true, res);
		bool can = o->standby && free_all(s, res, nr) &&
		           start + lo_ds(s, kind) + SETTLE_DS <= limit;
		bool take = strict || (can && pick(&s->g, 0, 2) > 0);
		if (take) {
			f->dir = pick(&s->g, 0, 1) ? 3 : 1;
			f->takeover = o->standby;
			settle = o->standby;
		} else {
			/* Not the active's backward path either: its appends still
			 * reach the log, but whether a takeover follows is a race,
			 * and the steps after it in the run assume which. */
			f->dir = pick(&s->g, 1, 3);
			f->standby = o->standby;
		}
		break;
	}
	case NEMESIS_DELAY:
		f->delay_ms = pick(&s->g, 20, 250);
		f->jitter_ms = pick(&s->g, 0, f->delay_ms / 2);
		break;
	case NEMESIS_THROTTLE: f->bps = pick(&s->g, THROTTLE_MIN_BPS, THROTTLE_MAX_BPS); break;
	case NEMESIS_CENTRAL_BROKER:
		f->broker = o->real_kafka ? 0 : pick(&s->g, 1, CENTRAL_EMBEDDED_BROKERS);
		break;
	case NEMESIS_CLOCK:
		f->standby = o->standby && f->node == DRILL_EDGE && pick(&s->g, 0, 1);
		f->clock_s = (int)pick(&s->g, CLOCK_JUMP_MIN_S, DRILL_CLOCK_JUMP_MAX_MS / 1000) *
		             (pick(&s->g, 0, 1) ? 1 : -1);
		break;
	default: break;
	}
	unsigned room = limit - start - (settle ? SETTLE_DS : 0);
	unsigned hi = hi_ds(s, kind) < room ? hi_ds(s, kind) : room;
	f->close_ds = start + pick(&s->g, lo_ds(s, kind), hi);
	if (settle)
		f->settle_ds = f->close_ds + SETTLE_DS;
	unsigned res[8];
	size_t nr = resources(s, kind, tg, settle, res);
	for (size_t i = 0; i < nr; i++)
		s->busy[res[i]] = true;
	s->nf++;
	return true;
}

/* One burst in [s0, s1): up to k faults, each starting while the one
 * before is in force; the forced ones first. */
static void draw_burst(gen *s, unsigned s0, unsigned s1, unsigned k, const force *forced,
                       size_t nforced)
{
	memset(s->busy, 0, sizeof s->busy);
	unsigned slot = s1 - s0;
	unsigned gap = pick(&s->g, GAP_MIN_DS, slot / 4 > GAP_MIN_DS ? slot / 4 : GAP_MIN_DS);
	unsigned limit = s1 - gap;
	unsigned start = s0 + pick(&s->g, 0, 3 * DS);
	for (unsigned i = 0; i < k; i++) {
		force fo = i < nforced ? forced[i] : FORCE_NONE;
		if (!draw_fault(s, fo, start, limit)) {
			if (fo != FORCE_NONE)
				continue; /* the next forced one may still fit */
			break;
		}
		/* The next one starts while this one is in force, early enough
		 * that the shortest fault still fits before the limit. */
		const fault *f = &s->f[s->nf - 1];
		unsigned len = f->close_ds - f->open_ds;
		unsigned most = len > OVERLAP_MIN_DS ? len - OVERLAP_MIN_DS : 0;
		unsigned room = limit > start + SHORTEST_DS ? limit - start - SHORTEST_DS : 0;
		if (most > room)
			most = room;
		if (i + 1 < nforced && most > 3 * DS)
			most = 3 * DS; /* keep room for what the burst must still have */
		start += pick(&s->g, 0, most);
	}
}

/* --- the text --------------------------------------------------------------------- */

/* "12.3" from tenths of a second. */
static void fmt_ds(char *dst, size_t len, unsigned ds)
{
	snprintf(dst, len, "%u.%u", ds / DS, ds % DS);
}

static const char *link_word(drill_link l)
{
	switch (l) {
	case DRILL_LINK_KAFKA: return "kafka";
	case DRILL_LINK_CENTRAL: return "central";
	case DRILL_LINK_CLIENTS: return "clients";
	case DRILL_LINK_REGIONAL: return "regional";
	}
	return "?";
}

static const char *dir_word(unsigned dir)
{
	return dir == 1 ? "forward" : dir == 2 ? "backward" : "both";
}

/* One step line of the schedule. */
typedef struct line {
	unsigned at_ds;
	unsigned fault; /* its index: steps at one time keep the faults' order */
	unsigned seq;   /* 0 opens, 1 heals, 2 settles */
	char text[STEP_TEXT_MAX];
} line;

static int cmp_line(const void *a, const void *b)
{
	const line *x = a, *y = b;
	if (x->at_ds != y->at_ds)
		return x->at_ds < y->at_ds ? -1 : 1;
	if (x->fault != y->fault)
		return x->fault < y->fault ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The node as a step names it: edgeN, edgeN.standby or centralJ. */
static void node_word(char *dst, size_t len, const fault *f, bool standby)
{
	if (f->node == DRILL_CENTRAL)
		snprintf(dst, len, "central%u", f->index);
	else
		snprintf(dst, len, "edge%u%s", f->index, standby ? ".standby" : "");
}

/* What follows the node in a kind's two steps. */
typedef enum {
	ARGS_NONE,
	ARGS_BROKER,        /* " ID" in both */
	ARGS_CUT,           /* " LINK DIR", healed by " LINK" */
	ARGS_DELAY,         /* " LINK MS JITTER", healed by " LINK" */
	ARGS_CLOCK,         /* " jump +-Ns", healed by " reset" */
	ARGS_THROTTLE,      /* " LINK BYTES_PER_S", healed by " LINK" */
	ARGS_CENTRAL_BROKER /* no node: " leader", healed by " all" */
} step_args;

/* How a kind's fault is written: the step that opens it and the one that
 * heals it, each "VERB NODE ARGS". The opening names the instance hit
 * (edgeN.standby too) or, with by_region, the region (edgeN); the heal
 * names the region: a start brings back whichever instance is down,
 * and a heal of edgeN clears the path of both instances (the one cut may
 * have become the other role meanwhile); but with heal_by_node the
 * instance hit (a clock reset steps back whichever instance jumped). */
typedef struct step_def {
	const char *open, *close;
	bool by_region;
	step_args args;
	bool heal_by_node;
} step_def;

static const step_def steps[NEMESIS_KINDS] = {
    [NEMESIS_KILL] = {"kill", "start", false, ARGS_NONE, false},
    [NEMESIS_WIPE] = {"wipe", "start", false, ARGS_NONE, false},
    [NEMESIS_STOP] = {"stop", "cont", false, ARGS_NONE, false},
    [NEMESIS_KILL_STANDBY] = {"kill", "start", false, ARGS_NONE, false},
    [NEMESIS_WIPE_STANDBY] = {"wipe", "start", false, ARGS_NONE, false},
    [NEMESIS_STOP_STANDBY] = {"stop", "cont", false, ARGS_NONE, false},
    [NEMESIS_CENTRAL_KILL] = {"kill", "start", false, ARGS_NONE, false},
    [NEMESIS_CENTRAL_STOP] = {"stop", "cont", false, ARGS_NONE, false},
    [NEMESIS_BROKER] = {"regional_broker_down", "regional_broker_up", true, ARGS_BROKER, false},
    [NEMESIS_CUT] = {"cut", "heal", false, ARGS_CUT, false},
    [NEMESIS_CUT_REGIONAL] = {"cut", "heal", false, ARGS_CUT, false},
    [NEMESIS_DELAY] = {"delay", "heal", true, ARGS_DELAY, false},
    [NEMESIS_DISK] = {"disk_full", "disk_free", true, ARGS_NONE, false},
    [NEMESIS_REGION] = {"region_down", "region_up", true, ARGS_NONE, false},
    [NEMESIS_CLOCK] = {"clock", "clock", false, ARGS_CLOCK, true},
    [NEMESIS_THROTTLE] = {"throttle", "heal", true, ARGS_THROTTLE, false},
    [NEMESIS_BROKER_PAUSE] = {"regional_broker_pause", "regional_broker_resume", true, ARGS_BROKER,
                              false},
    [NEMESIS_CENTRAL_BROKER] = {"broker_down", "broker_up", false, ARGS_CENTRAL_BROKER, false},
};

/* The steps of fault f: its opening, its heal, and its settling start. */
static size_t fault_lines(const fault *f, unsigned idx, line *out)
{
	if ((unsigned)f->kind >= NEMESIS_KINDS)
		return 0;
	const step_def *d = &steps[f->kind];
	char node[32], any[32];
	node_word(node, sizeof node, f, f->standby);
	node_word(any, sizeof any, f, false);
	char open_args[64] = "", close_args[64] = "";
	const char *link = link_word(f->link);
	switch (d->args) {
	case ARGS_NONE: break;
	case ARGS_BROKER:
		snprintf(open_args, sizeof open_args, " %u", f->broker);
		snprintf(close_args, sizeof close_args, " %u", f->broker);
		break;
	case ARGS_CUT:
		snprintf(open_args, sizeof open_args, " %s %s", link, dir_word(f->dir));
		snprintf(close_args, sizeof close_args, " %s", link);
		break;
	case ARGS_DELAY:
		snprintf(open_args, sizeof open_args, " %s %u %u", link, f->delay_ms, f->jitter_ms);
		snprintf(close_args, sizeof close_args, " %s", link);
		break;
	case ARGS_CLOCK:
		snprintf(open_args, sizeof open_args, " jump %+ds", f->clock_s);
		snprintf(close_args, sizeof close_args, " reset");
		break;
	case ARGS_THROTTLE:
		snprintf(open_args, sizeof open_args, " %s %u", link, f->bps);
		snprintf(close_args, sizeof close_args, " %s", link);
		break;
	case ARGS_CENTRAL_BROKER:
		/* On real Kafka the node leading the batches' partition 0,
		 * whatever the cluster's size, and every node back; on the
		 * embedded cluster (its three brokers' leaders its own) one
		 * broker by id. */
		if (f->broker) {
			snprintf(node, sizeof node, "%u", f->broker);
			snprintf(any, sizeof any, "%u", f->broker);
		} else {
			snprintf(node, sizeof node, "leader");
			snprintf(any, sizeof any, "all");
		}
		break;
	}
	size_t n = 0;
	out[n] = (line){f->open_ds, idx, 0, ""};
	snprintf(out[n++].text, STEP_TEXT_MAX, "%s %s%s", d->open, d->by_region ? any : node,
	         open_args);
	out[n] = (line){f->close_ds, idx, 1, ""};
	snprintf(out[n++].text, STEP_TEXT_MAX, "%s %s%s", d->close, d->heal_by_node ? node : any,
	         close_args);
	if (f->settle_ds) {
		out[n] = (line){f->settle_ds, idx, 2, ""};
		snprintf(out[n++].text, STEP_TEXT_MAX, "start %s", any);
	}
	return n;
}

static void put_header(sbuf *b, const nemesis_opts *o, unsigned end_ds)
{
	char end[16];
	fmt_ds(end, sizeof end, end_ds);
	sbuf_addf(b,
	          "# nemesis seed %" PRIu64 ": a fault schedule drawn by `sim nemesis` "
	          "(sim/drill/nemesis.h).\n",
	          o->seed);
	sbuf_addf(
	    b, "# knobs: duration %u s, regions %u, centrals %u, standby %d, regional_kafka %d,\n",
	    o->duration_s, o->regions, o->centrals, o->standby, o->regional_kafka);
	sbuf_addf(b, "#   rate %u faults/min, max_overlap %u, mix", o->rate, o->max_overlap);
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		sbuf_addf(b, "%s%s=%u", k ? "," : " ", kinds[k].name, o->weight[k]);
	sbuf_addf(b,
	          "\n# Every fault is healed by %s s. Replay: sim nemesis --replay THIS_FILE\n"
	          "# (the same schedule and seeded ops; not the same thread or JVM timing).\n",
	          end);
	sbuf_addf(b, "name nemesis-%" PRIu64 "\n", o->seed);
	sbuf_addf(b, "regions %u\ncentrals %u\nduration %u\n", o->regions, o->centrals,
	          o->duration_s);
	sbuf_addf(b, "changelog %d\nstandby %d\nregional_kafka %d\n",
	          o->standby || o->regional_kafka, o->standby, o->regional_kafka);
	sbuf_addf(b, "seed %" PRIu64 "\n", o->seed);
	/* Drawn for real Kafka: it may name what only a real node has (a
	 * pause, the leader by name), and a replay runs there too. */
	if (o->real_kafka)
		sbuf_addf(b, "kafka real\n");
	/* Heart reads, so that read-your-writes at home is judged while the
	 * faults are in force, and clients that give up on some writes with
	 * no answer, so that indeterminate ops are judged at the end. */
	sbuf_addf(b, "me %s\ngive_up %s\n", NEMESIS_ME_SHARE, NEMESIS_GIVE_UP_SHARE);
	/* The drill's own default unless asked: files drawn before --roam
	 * existed stay byte for byte the same. */
	if (o->roam_pct != 5)
		sbuf_addf(b, "roam %u.%02u\n", o->roam_pct / 100, o->roam_pct % 100);
	if (o->undo_pct)
		sbuf_addf(b, "undo %u.%02u\n", o->undo_pct / 100, o->undo_pct % 100);
}

/* A comment line naming fault f, for a reader of the file. */
static void put_fault_comment(sbuf *b, const fault *f, unsigned idx)
{
	char from[16], to[16], settle[16];
	fmt_ds(from, sizeof from, f->open_ds);
	fmt_ds(to, sizeof to, f->close_ds);
	sbuf_addf(b, "# fault %u: %s, %s-%s s", idx + 1, kinds[f->kind].name, from, to);
	if (f->takeover)
		sbuf_addf(b, ", a takeover");
	if (f->kind == NEMESIS_BROKER || f->kind == NEMESIS_BROKER_PAUSE)
		sbuf_addf(b, ", broker %u%s", f->broker,
		          f->leader ? " (the changelog's leader)" : "");
	if (f->settle_ds) {
		fmt_ds(settle, sizeof settle, f->settle_ds);
		sbuf_addf(b, "; fenced, started again at %s s", settle);
	}
	sbuf_addf(b, "\n");
}

int nemesis_draw(const nemesis_opts *o, char **text, char *err, size_t errlen)
{
	*text = NULL;
	int rc = nemesis_opts_check(o, err, errlen);
	if (rc)
		return rc;
	gen *s = xcalloc(1, sizeof *s);
	s->o = o;
	s->g.s = o->seed;
	for (unsigned i = 0; i < DRILL_REGIONS_MAX; i++)
		s->leader[i] = 1; /* partition 0 starts on broker 1 */

	unsigned dur = o->duration_s * DS;
	unsigned tail = dur / 10 > TAIL_MIN_DS ? dur / 10 : TAIL_MIN_DS;
	unsigned usable = dur - WARMUP_DS - tail;
	/* Two faults a burst on average: a burst every 120/rate s. */
	unsigned cycle = 120 * DS / o->rate;
	if (cycle < SLOT_MIN_DS)
		cycle = SLOT_MIN_DS;
	unsigned bursts = usable / cycle;
	if (bursts < 1)
		bursts = 1;
	if (bursts > BURSTS_MAX)
		bursts = BURSTS_MAX;
	unsigned slot = usable / bursts;

	bool takeover_kind = false;
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		takeover_kind |= kind_possible(o, (nemesis_kind)k) &&
		                 in_force(s, (nemesis_kind)k, FORCE_TAKEOVER);
	/* The bursts that must hold a takeover, a leader lost and an overlap,
	 * so that every seed tests something (the coverage says if not). */
	int b_take = takeover_kind ? (int)pick(&s->g, 0, bursts - 1) : -1;
	int b_lead = kind_possible(o, NEMESIS_BROKER) || kind_possible(o, NEMESIS_BROKER_PAUSE)
	                 ? (int)pick(&s->g, 0, bursts - 1)
	                 : -1;
	int b_over = o->max_overlap >= 2 ? (int)pick(&s->g, 0, bursts - 1) : -1;

	size_t first[BURSTS_MAX + 1];
	for (unsigned b = 0; b < bursts; b++) {
		force forced[2];
		size_t nforced = 0;
		if ((int)b == b_take)
			forced[nforced++] = FORCE_TAKEOVER;
		if ((int)b == b_lead)
			forced[nforced++] = FORCE_LEADER;
		unsigned k = pick(&s->g, 0, 3) == 0 ? 1 : pick(&s->g, 2, o->max_overlap);
		if ((int)b == b_over && k < 2)
			k = 2;
		if (k < nforced)
			k = (unsigned)nforced;
		if (k > o->max_overlap)
			k = o->max_overlap;
		first[b] = s->nf;
		unsigned s0 = WARMUP_DS + b * slot;
		draw_burst(s, s0, s0 + slot, k, forced, nforced);
	}
	first[bursts] = s->nf;

	sbuf b;
	sbuf_init(&b);
	put_header(&b, o, dur - tail);
	line ln[STEPS_PER_FAULT * NEMESIS_OVERLAP_MAX];
	for (unsigned u = 0; u < bursts; u++) {
		char from[16];
		fmt_ds(from, sizeof from, WARMUP_DS + u * slot);
		sbuf_addf(&b, "\n# burst %u from %s s\n", u + 1, from);
		size_t n = 0;
		for (size_t i = first[u]; i < first[u + 1]; i++) {
			put_fault_comment(&b, &s->f[i], (unsigned)i);
			n += fault_lines(&s->f[i], (unsigned)i, ln + n);
		}
		qsort(ln, n, sizeof ln[0], cmp_line);
		for (size_t i = 0; i < n; i++) {
			char at[16];
			fmt_ds(at, sizeof at, ln[i].at_ds);
			sbuf_addf(&b, "at %s %s\n", at, ln[i].text);
		}
	}
	free(s);
	*text = sbuf_take(&b, NULL);
	return 0;
}
