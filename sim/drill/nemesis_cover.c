/* nemesis_cover.c - the fault coverage of a parsed drill (nemesis.h):
 * which faults its steps open and when each is healed, how many are in
 * force at once, which lose a region's active instance or its
 * changelog's leader, and how much of the run has none. It reads any
 * drill, drawn or written by hand, so a replayed file gets the same
 * table as the seed that drew it.
 *
 * Owns nothing. Pure. Any thread.
 */
#include "sim/drill/nemesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define BROKERS DRILL_REGIONAL_BROKERS

/* What a step's fault is keyed by, so that its heal finds it. */
enum {
	KEY_PROC = 100000,          /* + node * 1000 + index */
	KEY_PATH = 200000,          /* + node * 1000 + index * 10 + link */
	KEY_REGIONAL = 300000,      /* + region * 10 + broker (0: every broker) */
	KEY_CENTRAL_KAFKA = 400000, /* + broker (0: every broker) */
	KEY_DISK = 500000,          /* + region */
	KEY_REGION = 600000,        /* + region */
	KEY_CLOCK = 700000,         /* + node * 1000 + index * 10 + standby */
};

/* A fault in force or healed: its key, and when; the steps that opened
 * and healed it, and the start that brought a fenced instance back after
 * it (-1: none), for nemesis_faults. */
typedef struct window {
	int key;
	double from, to;
	bool open;
	int region; /* the edge it is on; -1: none */
	long open_step, heal_step, settle_step;
} window;

/* The changelog leader of each region's own Kafka, by the embedded
 * cluster's rule (nemesis.h): the next broker up takes a lost leader's
 * partition; when none is up the first one back does. */
typedef struct leaders {
	unsigned leader[DRILL_REGIONS_MAX]; /* 0: none up */
	bool down[DRILL_REGIONS_MAX][BROKERS + 1];
} leaders;

/* Broker id (1..3) of region r going down; true when it led. */
static bool broker_down(leaders *l, unsigned r, unsigned id)
{
	bool led = l->leader[r] == id;
	l->down[r][id] = true;
	if (!led)
		return false;
	l->leader[r] = 0;
	for (unsigned step = 1; step <= BROKERS; step++) {
		unsigned c = (id - 1 + step) % BROKERS + 1;
		if (!l->down[r][c]) {
			l->leader[r] = c;
			break;
		}
	}
	return true;
}

static void broker_up(leaders *l, unsigned r, unsigned id)
{
	l->down[r][id] = false;
	if (!l->leader[r])
		l->leader[r] = id;
}

typedef struct cover_state {
	const drill *d;
	nemesis_coverage *c;
	window w[DRILL_STEPS_MAX];
	size_t nw;
	leaders ld;
	long cur;   /* the step being read */
	int region; /* its edge, -1: none */
} cover_state;

static void open_fault(cover_state *st, nemesis_kind kind, int key, double at)
{
	st->c->count[kind]++;
	st->c->faults++;
	if (st->nw < DRILL_STEPS_MAX)
		st->w[st->nw++] =
		    (window){key, at, st->d->duration_s, true, st->region, st->cur, -1, -1};
}

/* Heals the earliest fault in force under key (every one in
 * [key, key + span] when span > 0). False when none was in force. */
static bool heal(cover_state *st, int key, int span, double at)
{
	bool any = false;
	for (size_t i = 0; i < st->nw; i++) {
		window *w = &st->w[i];
		if (!w->open || w->key < key || w->key > key + span)
			continue;
		w->open = false;
		w->to = at;
		w->heal_step = st->cur;
		any = true;
		if (span == 0)
			break;
	}
	return any;
}

/* A start that healed nothing brings back an instance fenced after the
 * region's latest fault healed before it: that fault's settling. */
static void settle(cover_state *st)
{
	window *last = NULL;
	for (size_t i = 0; i < st->nw; i++) {
		window *w = &st->w[i];
		if (w->region == st->region && !w->open && w->settle_step < 0 &&
		    (!last || w->to >= last->to))
			last = w;
	}
	if (last)
		last->settle_step = st->cur;
}

/* The region's brokers a step names: [*lo, *hi], after "leader" and
 * "all" are resolved. False when none is (no leader up). */
static bool broker_range(const leaders *l, unsigned r, int id, unsigned *lo, unsigned *hi)
{
	if (id == DRILL_BROKER_ALL) {
		*lo = 1;
		*hi = BROKERS;
	} else if (id == DRILL_BROKER_LEADER) {
		*lo = *hi = l->leader[r];
	} else {
		*lo = *hi = (unsigned)id;
	}
	return *lo >= 1 && *hi <= BROKERS && *lo <= *hi;
}

/* A step on a region's own Kafka. */
static void regional_step(cover_state *st, const drill_step *s, double at)
{
	unsigned r = (unsigned)s->index, lo, hi;
	if (r >= DRILL_REGIONS_MAX)
		return;
	int id = s->action == DRILL_REGIONAL_DOWN || s->action == DRILL_REGIONAL_UP
	             ? DRILL_BROKER_ALL
	             : (int)s->a;
	bool all = id == DRILL_BROKER_ALL;
	int key = KEY_REGIONAL + (int)r * 10;
	switch (s->action) {
	case DRILL_REGIONAL_BROKER_DOWN:
	case DRILL_REGIONAL_BROKER_PAUSE:
	case DRILL_REGIONAL_DOWN: {
		if (!broker_range(&st->ld, r, id, &lo, &hi))
			return;
		bool led = false;
		for (unsigned b = lo; b <= hi; b++)
			led |= broker_down(&st->ld, r, b);
		st->c->leader_losses += led;
		open_fault(st,
		           s->action == DRILL_REGIONAL_BROKER_PAUSE ? NEMESIS_BROKER_PAUSE
		                                                    : NEMESIS_BROKER,
		           key + (all ? 0 : (int)lo), at);
		break;
	}
	case DRILL_REGIONAL_BROKER_RESTART:
	case DRILL_REGIONAL_BROKER_WIPE:
		/* Down and up in one step: a fault with no window. */
		if (!broker_range(&st->ld, r, id, &lo, &hi))
			return;
		if (broker_down(&st->ld, r, lo))
			st->c->leader_losses++;
		broker_up(&st->ld, r, lo);
		st->c->count[NEMESIS_BROKER]++;
		st->c->faults++;
		break;
	case DRILL_REGIONAL_BROKER_UP:
	case DRILL_REGIONAL_BROKER_RESUME:
	case DRILL_REGIONAL_UP:
		if (!broker_range(&st->ld, r, id, &lo, &hi))
			return;
		for (unsigned b = lo; b <= hi; b++)
			broker_up(&st->ld, r, b);
		heal(st, all ? key : key + (int)lo, all ? BROKERS : 0, at);
		break;
	default: break;
	}
}

static int proc_key(const drill_step *s)
{
	return KEY_PROC + (int)s->node * 1000 + s->index;
}

static int path_key(const drill_step *s)
{
	return KEY_PATH + (int)s->node * 1000 + s->index * 10 + (int)s->link;
}

static int clock_key(const drill_step *s)
{
	return KEY_CLOCK + (int)s->node * 1000 + s->index * 10 + s->standby;
}

static void step(cover_state *st, const drill_step *s)
{
	const drill *d = st->d;
	nemesis_coverage *c = st->c;
	double at = drill_step_time(d, s, false);
	bool edge = s->node == DRILL_EDGE;
	switch (s->action) {
	case DRILL_KILL:
	case DRILL_WIPE:
	case DRILL_STOP: {
		nemesis_kind k;
		if (!edge)
			k = s->action == DRILL_STOP ? NEMESIS_CENTRAL_STOP : NEMESIS_CENTRAL_KILL;
		else if (s->action == DRILL_KILL)
			k = s->standby ? NEMESIS_KILL_STANDBY : NEMESIS_KILL;
		else if (s->action == DRILL_WIPE)
			k = s->standby ? NEMESIS_WIPE_STANDBY : NEMESIS_WIPE;
		else
			k = s->standby ? NEMESIS_STOP_STANDBY : NEMESIS_STOP;
		c->takeovers += edge && d->standby && !s->standby;
		open_fault(st, k, proc_key(s), at);
		break;
	}
	case DRILL_START:
	case DRILL_CONT:
		/* A start with nothing of its node in force brings back an
		 * instance that exited fenced: no fault of its own. */
		if (!heal(st, proc_key(s), 0, at) && edge && s->action == DRILL_START)
			settle(st);
		break;
	case DRILL_CUT: {
		bool regional = s->link == DRILL_LINK_REGIONAL;
		c->one_way_cuts += s->dir != 3;
		c->takeovers += regional && d->standby && edge && !s->standby && (s->dir & 1);
		open_fault(st, regional ? NEMESIS_CUT_REGIONAL : NEMESIS_CUT, path_key(s), at);
		break;
	}
	case DRILL_DELAY:
		if (s->a == 0 && s->b == 0)
			break; /* no delay at all */
		open_fault(st, NEMESIS_DELAY, path_key(s), at);
		break;
	case DRILL_THROTTLE: open_fault(st, NEMESIS_THROTTLE, path_key(s), at); break;
	case DRILL_HEAL: heal(st, path_key(s), 0, at); break;
	case DRILL_BROKER_DOWN:
	case DRILL_BROKER_PAUSE:
		open_fault(st, NEMESIS_CENTRAL_BROKER,
		           KEY_CENTRAL_KAFKA + (s->index > 0 ? s->index : 0), at);
		break;
	case DRILL_BROKER_UP:
	case DRILL_BROKER_RESUME:
		if (s->index > 0)
			heal(st, KEY_CENTRAL_KAFKA + s->index, 0, at);
		else
			heal(st, KEY_CENTRAL_KAFKA, 9, at);
		break;
	case DRILL_DISK_FULL: open_fault(st, NEMESIS_DISK, KEY_DISK + s->index, at); break;
	case DRILL_DISK_FREE: heal(st, KEY_DISK + s->index, 0, at); break;
	case DRILL_REGION_DOWN: open_fault(st, NEMESIS_REGION, KEY_REGION + s->index, at); break;
	case DRILL_REGION_UP: heal(st, KEY_REGION + s->index, 0, at); break;
	case DRILL_CLOCK_JUMP:
		if (s->a)
			open_fault(st, NEMESIS_CLOCK, clock_key(s), at);
		else
			heal(st, clock_key(s), 0, at);
		break;
	case DRILL_CLOCK_RESET: heal(st, clock_key(s), 0, at); break;
	default:
		if (drill_action_regional(s->action))
			regional_step(st, s, at);
		break; /* load changes, trims, moves and the like open no window */
	}
}

static int cmp_from(const void *a, const void *b)
{
	const window *x = a, *y = b;
	return (x->from > y->from) - (x->from < y->from);
}

/* An edge of a window: +1 opens, -1 heals. */
typedef struct edge_ev {
	double at;
	int delta;
} edge_ev;

static int cmp_ev(const void *a, const void *b)
{
	const edge_ev *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->delta - y->delta; /* a heal and a fault at one time do not overlap */
}

/* Faults at once, and the time with none, from the windows. */
static void sweep(cover_state *st)
{
	nemesis_coverage *c = st->c;
	edge_ev ev[2 * DRILL_STEPS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < st->nw; i++) {
		if (st->w[i].open)
			c->unhealed++;
		ev[n++] = (edge_ev){st->w[i].from, +1};
		ev[n++] = (edge_ev){st->w[i].to, -1};
	}
	qsort(ev, n, sizeof ev[0], cmp_ev);
	int now = 0;
	for (size_t i = 0; i < n; i++) {
		now += ev[i].delta;
		if (now > 0 && (unsigned)now > c->max_overlap)
			c->max_overlap = (unsigned)now;
	}
	/* The union of the windows within the run, and the gaps in it. */
	qsort(st->w, st->nw, sizeof st->w[0], cmp_from);
	double dur = c->duration_s, covered = 0; /* the union ends there so far */
	for (size_t i = 0; i <= st->nw; i++) {
		double from = i < st->nw ? st->w[i].from : dur;
		double to = i < st->nw ? st->w[i].to : dur;
		from = from < dur ? from : dur;
		to = to < dur ? to : dur;
		if (from > covered) {
			double gap = from - covered;
			if (gap > c->longest_free_s)
				c->longest_free_s = gap;
			c->free_windows += gap >= NEMESIS_FREE_MIN_S;
		}
		if (i < st->nw && to > covered) {
			c->fault_s += to - (from > covered ? from : covered);
			covered = to;
		}
	}
}

static void judge(nemesis_coverage *c)
{
	size_t len = 0;
	c->why[0] = '\0';
#define LACKS(cond, text)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			int m = snprintf(c->why + len, sizeof c->why - len, "%s%s",                \
			                 len ? "; " : "", text);                                   \
			if (m > 0 && (size_t)m < sizeof c->why - len)                              \
				len += (size_t)m;                                                  \
		}                                                                                  \
	} while (0)
	LACKS(c->max_overlap < 2, "no two faults at once");
	LACKS(!c->standby, "no takeover possible (standby 0)");
	LACKS(c->standby && c->takeovers == 0, "no takeover");
	LACKS(c->regional_kafka && c->leader_losses == 0, "no changelog leader lost");
	LACKS(c->longest_free_s < NEMESIS_FREE_MIN_S, "no fault-free window of 10 s");
	LACKS(c->unhealed > 0, "faults still in force at the end");
#undef LACKS
	c->counts = len == 0;
}

/* Reads d's steps into st (and c): the windows, not yet swept. */
static void read_steps(cover_state *st, const drill *d, nemesis_coverage *c)
{
	memset(st, 0, sizeof *st);
	memset(c, 0, sizeof *c);
	c->duration_s = d->duration_s;
	c->standby = d->standby != 0;
	c->regional_kafka = d->regional_kafka != 0;
	st->d = d;
	st->c = c;
	for (unsigned r = 0; r < DRILL_REGIONS_MAX; r++)
		st->ld.leader[r] = 1; /* partition 0 starts on broker 1 */
	for (size_t i = 0; i < d->nsteps; i++) {
		const drill_step *s = &d->steps[i];
		st->cur = (long)i;
		st->region =
		    s->node == DRILL_EDGE || drill_action_regional(s->action) ? s->index : -1;
		step(st, s);
	}
}

void nemesis_cover(const drill *d, nemesis_coverage *c)
{
	cover_state *st = xmalloc(sizeof *st);
	read_steps(st, d, c);
	sweep(st);
	judge(c);
	free(st);
}

size_t nemesis_faults(const drill *d, nemesis_fault *out, size_t cap)
{
	cover_state *st = xmalloc(sizeof *st);
	nemesis_coverage c;
	read_steps(st, d, &c);
	size_t n = 0;
	for (size_t i = 0; i < st->nw && n < cap; i++)
		out[n++] = (nemesis_fault){(size_t)st->w[i].open_step, st->w[i].heal_step,
		                           st->w[i].settle_step};
	free(st);
	return n;
}

void nemesis_cover_format(const nemesis_coverage *c, char *buf, size_t len)
{
	size_t n = 0;
#define OUT(...)                                                                                   \
	do {                                                                                       \
		if (n < len) {                                                                     \
			int m = snprintf(buf + n, len - n, __VA_ARGS__);                           \
			n = m < 0 ? len : n + (size_t)m;                                           \
		}                                                                                  \
	} while (0)
	if (len)
		buf[0] = '\0';
	OUT("fault coverage (from the schedule's steps)\n");
	OUT("  %-16s %5s\n", "kind", "faults");
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		OUT("  %-16s %5u\n", nemesis_kind_name((nemesis_kind)k), c->count[k]);
	OUT("  %-16s %5u  (one-way cuts: %u)\n", "all", c->faults, c->one_way_cuts);
	OUT("  %-16s %5u  (an active instance killed, wiped, stopped or cut from its Kafka)\n",
	    "takeovers", c->takeovers);
	OUT("  %-16s %5u  (a region's changelog leader set down)%s\n", "leaders lost",
	    c->leader_losses, c->regional_kafka ? "" : " [regional_kafka 0]");
	OUT("  %-16s %5u  faults in force at once\n", "max overlap", c->max_overlap);
	OUT("  %-16s %5u  faults in force at the end\n", "unhealed", c->unhealed);
	OUT("  %-16s %5.1f  s of %.1f s with a fault in force\n", "fault time", c->fault_s,
	    c->duration_s);
	OUT("  %-16s %5.1f  s the longest without; %u windows of %.0f s or more\n", "fault-free",
	    c->longest_free_s, c->free_windows, NEMESIS_FREE_MIN_S);
	if (c->counts)
		OUT("counts: yes (overlap, a takeover, %sfault-free time)\n",
		    c->regional_kafka ? "a leader lost, " : "");
	else
		OUT("counts: no (%s)\n", c->why);
#undef OUT
}
