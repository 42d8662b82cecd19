/* drill_steps.c - the drill file's timed steps ("at T ACTION ..."): the
 * table of actions with the shape of each one's arguments, and the
 * parser of one step line (drill_parse_step, drill_int.h), which
 * drill.c calls for every line that starts with "at". The second pass
 * (drill.c's check_late) judges a step against the settings.
 *
 * Owns nothing past the call but the steps it appends to d->steps
 * (drill.c's drill_free frees them). Pure. Any thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sim/broker/broker.h"
#include "sim/drill/drill_int.h"
#include "xmem.h"

#define THROTTLE_MAX 10000000000LL
#define BROKER_ERRORS_MAX SIM_BROKER_PUSH_ERRORS_MAX

/* What follows "at T ACTION". */
typedef enum shape {
	SHAPE_CUT,      /* NODE LINK [forward|backward|both] */
	SHAPE_PATH,     /* NODE LINK */
	SHAPE_DELAY,    /* NODE LINK MS [JITTER_MS] */
	SHAPE_THROTTLE, /* NODE LINK BYTES_PER_S */
	SHAPE_NODE,     /* NODE */
	SHAPE_BROKER,   /* ID|all|leader */
	SHAPE_RTT,      /* ID|all MS */
	SHAPE_COUNT,    /* COUNT */
	SHAPE_REGION,   /* edgeN */
	SHAPE_RATE,     /* OPS */
	SHAPE_SHARE,    /* SHARE */
	SHAPE_REGIONAL, /* edgeN ID|all|leader */
	SHAPE_MOVE,     /* edgeN USERS */
	SHAPE_CLOCK,    /* NODE jump OFFSET | NODE reset */
	SHAPE_NODES,    /* kafkaR.A kafkaR.B [forward|backward|both] */
} shape;

typedef struct action_def {
	const char *word;
	drill_action action;
	shape shape;
	bool regional;  /* acts on a region's own Kafka */
	bool real_only; /* on a real node's process (kafka real) */
	bool takes;     /* takes a broker away: may name the leader */
} action_def;

static const action_def actions[] = {
    {"cut", DRILL_CUT, SHAPE_CUT, false, false, false},
    {"heal", DRILL_HEAL, SHAPE_PATH, false, false, false},
    {"delay", DRILL_DELAY, SHAPE_DELAY, false, false, false},
    {"throttle", DRILL_THROTTLE, SHAPE_THROTTLE, false, false, false},
    {"reset", DRILL_RESET, SHAPE_PATH, false, false, false},
    {"kill", DRILL_KILL, SHAPE_NODE, false, false, false},
    {"start", DRILL_START, SHAPE_NODE, false, false, false},
    {"stop", DRILL_STOP, SHAPE_NODE, false, false, false},
    {"cont", DRILL_CONT, SHAPE_NODE, false, false, false},
    {"broker_down", DRILL_BROKER_DOWN, SHAPE_BROKER, false, false, true},
    {"broker_up", DRILL_BROKER_UP, SHAPE_BROKER, false, false, false},
    {"broker_pause", DRILL_BROKER_PAUSE, SHAPE_BROKER, false, true, true},
    {"broker_resume", DRILL_BROKER_RESUME, SHAPE_BROKER, false, true, false},
    {"broker_restart", DRILL_BROKER_RESTART, SHAPE_BROKER, false, true, true},
    {"broker_wipe", DRILL_BROKER_WIPE, SHAPE_BROKER, false, true, true},
    {"broker_rtt", DRILL_BROKER_RTT, SHAPE_RTT, false, false, false},
    {"broker_errors", DRILL_BROKER_ERRORS, SHAPE_COUNT, false, false, false},
    {"region_down", DRILL_REGION_DOWN, SHAPE_REGION, false, false, false},
    {"region_up", DRILL_REGION_UP, SHAPE_REGION, false, false, false},
    {"disk_full", DRILL_DISK_FULL, SHAPE_REGION, false, false, false},
    {"disk_free", DRILL_DISK_FREE, SHAPE_REGION, false, false, false},
    {"wipe", DRILL_WIPE, SHAPE_REGION, false, false, false},
    {"load_rate", DRILL_LOAD_RATE, SHAPE_RATE, false, false, false},
    {"viral", DRILL_VIRAL, SHAPE_SHARE, false, false, false},
    {"regional_broker_down", DRILL_REGIONAL_BROKER_DOWN, SHAPE_REGIONAL, true, false, true},
    {"regional_broker_up", DRILL_REGIONAL_BROKER_UP, SHAPE_REGIONAL, true, false, false},
    {"regional_broker_pause", DRILL_REGIONAL_BROKER_PAUSE, SHAPE_REGIONAL, true, true, true},
    {"regional_broker_resume", DRILL_REGIONAL_BROKER_RESUME, SHAPE_REGIONAL, true, true, false},
    {"regional_broker_restart", DRILL_REGIONAL_BROKER_RESTART, SHAPE_REGIONAL, true, true, true},
    {"regional_broker_wipe", DRILL_REGIONAL_BROKER_WIPE, SHAPE_REGIONAL, true, true, true},
    {"regional_down", DRILL_REGIONAL_DOWN, SHAPE_REGION, true, false, false},
    {"regional_up", DRILL_REGIONAL_UP, SHAPE_REGION, true, false, false},
    {"trim", DRILL_TRIM, SHAPE_REGION, false, false, false},
    {"move", DRILL_MOVE, SHAPE_MOVE, false, false, false},
    /* One word, two actions: the argument after the node says which. */
    {"clock", DRILL_CLOCK_JUMP, SHAPE_CLOCK, false, false, false},
    {"clock", DRILL_CLOCK_RESET, SHAPE_CLOCK, false, false, false},
    /* cut and heal whose first word is kafkaR.X: drill_parse_step
     * turns to these. */
    {"cut", DRILL_BROKERS_CUT, SHAPE_NODES, true, true, false},
    {"heal", DRILL_BROKERS_HEAL, SHAPE_NODES, true, true, false},
};

static const action_def *action_of(drill_action a)
{
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (actions[i].action == a)
			return &actions[i];
	return NULL;
}

bool drill_action_regional(drill_action a)
{
	const action_def *d = action_of(a);
	return d && d->regional;
}

bool drill_action_real_only(drill_action a)
{
	const action_def *d = action_of(a);
	return d && d->real_only;
}

const char *drill_action_word(drill_action a)
{
	const action_def *d = action_of(a);
	return d ? d->word : "?";
}

bool drill_action_on_path(drill_action a)
{
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (actions[i].action == a)
			return actions[i].shape == SHAPE_CUT || actions[i].shape == SHAPE_PATH ||
			       actions[i].shape == SHAPE_DELAY ||
			       actions[i].shape == SHAPE_THROTTLE ||
			       actions[i].shape == SHAPE_NODES;
	return false;
}

/* Fixed arguments after the action word, and how many may be optional. */
static const struct {
	int min, max;
} shape_args[] = {
    [SHAPE_CUT] = {2, 3},      [SHAPE_PATH] = {2, 2},  [SHAPE_DELAY] = {3, 4},
    [SHAPE_THROTTLE] = {3, 3}, [SHAPE_NODE] = {1, 1},  [SHAPE_BROKER] = {1, 1},
    [SHAPE_RTT] = {2, 2},      [SHAPE_COUNT] = {1, 1}, [SHAPE_REGION] = {1, 1},
    [SHAPE_RATE] = {1, 1},     [SHAPE_SHARE] = {1, 1}, [SHAPE_REGIONAL] = {2, 2},
    [SHAPE_MOVE] = {2, 2},     [SHAPE_CLOCK] = {2, 3}, [SHAPE_NODES] = {2, 3},
};

static int get_link(parser *p, const char *s, drill_node_kind kind, drill_link *link)
{
	if (strcmp(s, "kafka") == 0)
		*link = DRILL_LINK_KAFKA;
	else if (strcmp(s, "central") == 0)
		*link = DRILL_LINK_CENTRAL;
	else if (strcmp(s, "clients") == 0)
		*link = DRILL_LINK_CLIENTS;
	else if (strcmp(s, "regional") == 0)
		*link = DRILL_LINK_REGIONAL;
	else
		return drill_fail(p, "bad link '%s' (kafka, central, clients or regional)", s);
	if (*link == DRILL_LINK_CENTRAL && kind != DRILL_EDGE)
		return drill_fail(p, "link central is an edge's path, not a central's");
	if (*link == DRILL_LINK_REGIONAL && kind != DRILL_EDGE)
		return drill_fail(p, "link regional is an edge's path, not a central's");
	return 0;
}

/* ID (1..max), all, or leader when the step takes a broker away. */
static int get_broker(parser *p, const action_def *def, const char *s, int64_t max, int *id)

{
	if (strcmp(s, "all") == 0) {
		*id = DRILL_BROKER_ALL;
		return 0;
	}
	if (strcmp(s, "leader") == 0) {
		if (!def->takes)
			return drill_fail(p, "%s takes an id or all, not leader", def->word);
		*id = DRILL_BROKER_LEADER;
		return 0;
	}
	int64_t v;
	int rc =
	    drill_get_int(p, def->regional ? "regional broker id" : "broker id", s, 1, max, &v);
	if (rc)
		return rc;
	*id = (int)v;
	return 0;
}

/* A clock offset: a signed whole number of seconds ("+600s", "-90s")
 * or milliseconds ("-1500ms"), within DRILL_CLOCK_JUMP_MAX_MS. */
static int get_offset(parser *p, const char *s, int64_t *ms)
{
	char num[24];
	size_t n = strlen(s), unit = 0;
	if (n > 2 && strcmp(s + n - 2, "ms") == 0)
		unit = 2;
	else if (n > 1 && s[n - 1] == 's')
		unit = 1;
	if (!unit || (s[0] != '+' && s[0] != '-') || n - unit >= sizeof num)
		return drill_fail(p, "bad clock offset '%s' (+Ns, -Ns or +/-Nms)", s);
	memcpy(num, s, n - unit);
	num[n - unit] = '\0';
	int64_t scale = unit == 1 ? 1000 : 1, max = DRILL_CLOCK_JUMP_MAX_MS / scale, v;
	int rc = drill_get_int(p, "clock offset", num, -max, max, &v);
	if (rc)
		return rc;
	*ms = v * scale;
	return 0;
}

/* direction word of a cut: forward, backward or both (relay_dir). */
static int get_dir(parser *p, const char *s, int *dir)
{
	if (strcmp(s, "forward") == 0)
		*dir = 1;
	else if (strcmp(s, "backward") == 0)
		*dir = 2;
	else if (strcmp(s, "both") == 0)
		*dir = 3;
	else
		return drill_fail(p, "bad direction '%s' (forward, backward or both)", s);
	return 0;
}

/* kafkaR.A kafkaR.B [DIR]: A a node or leader, B a node or others, of
 * one region's cluster; a heal takes no direction. */
static int get_nodes(parser *p, const action_def *def, char **a, int nargs, drill_step *s)
{
	int r1, r2, x, y, rc;
	if ((rc = drill_get_kafka_node(p, a[0], true, false, &r1, &x)) ||
	    (rc = drill_get_kafka_node(p, a[1], false, true, &r2, &y)))
		return rc;
	if (r1 != r2)
		return drill_fail(p, "%s: %s and %s are of different clusters", def->word, a[0],
		                  a[1]);
	if (x == y)
		return drill_fail(p, "%s: a node is not cut from itself", def->word);
	s->index = r1;
	s->a = x;
	s->b = y;
	s->dir = 3;
	if (nargs == 3 && def->action == DRILL_BROKERS_HEAL)
		return drill_fail(p, "heal: unexpected '%s' (a heal clears both ways)", a[2]);
	return nargs == 3 ? get_dir(p, a[2], &s->dir) : 0;
}

/* Copies s into dst (cap bytes with the NUL), cutting at a UTF-8
 * character boundary when it does not fit. */
static void copy_text(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int drill_parse_step(parser *p, char **w, int nw, const char *text)
{
	drill *d = p->d;
	if (nw < 3)
		return drill_fail(p, "'at' needs a time and an action");
	double at;
	int rc = drill_get_real(p, "step time", w[1], 0, TIME_MAX_S, &at);
	if (rc)
		return rc;
	const action_def *def = NULL;
	for (size_t i = 0; i < sizeof actions / sizeof actions[0] && !def; i++)
		if (strcmp(w[2], actions[i].word) == 0)
			def = &actions[i];
	if (!def)
		return drill_fail(p, "unknown action '%s'", w[2]);
	int nargs = nw - 3;
	char **a = w + 3;
	if ((def->action == DRILL_CUT || def->action == DRILL_HEAL) && nargs >= 1 &&
	    strncmp(a[0], "kafka", 5) == 0)
		def = action_of(def->action == DRILL_CUT ? DRILL_BROKERS_CUT : DRILL_BROKERS_HEAL);
	if (nargs < shape_args[def->shape].min)
		return drill_fail(p, "%s: missing arguments", def->word);
	if (nargs > shape_args[def->shape].max)
		return drill_fail(p, "%s: unexpected '%s'", def->word,
		                  a[shape_args[def->shape].max]);
	if (d->nsteps >= DRILL_STEPS_MAX)
		return drill_fail(p, "more than %d steps", DRILL_STEPS_MAX);

	drill_step s;
	memset(&s, 0, sizeof s);
	s.at_s = at;
	s.action = def->action;
	s.line = p->line;
	copy_text(s.text, sizeof s.text, text);

	switch (def->shape) {
	case SHAPE_CUT:
	case SHAPE_PATH:
	case SHAPE_DELAY:
	case SHAPE_THROTTLE:
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index, &s.standby)) ||
		    (rc = get_link(p, a[1], s.node, &s.link)))
			return rc;
		s.dir = 3;
		if (def->shape == SHAPE_CUT && nargs == 3) {
			if ((rc = get_dir(p, a[2], &s.dir)))
				return rc;
		} else if (def->shape == SHAPE_DELAY) {
			if ((rc = drill_get_int(p, "delay ms", a[2], 0, MS_MAX, &s.a)))
				return rc;
			if (nargs == 4 &&
			    (rc = drill_get_int(p, "jitter ms", a[3], 0, MS_MAX, &s.b)))
				return rc;
		} else if (def->shape == SHAPE_THROTTLE) {
			if ((rc = drill_get_int(p, "bytes/s", a[2], 1, THROTTLE_MAX, &s.a)))
				return rc;
		}
		break;
	case SHAPE_NODE:
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index, &s.standby)))
			return rc;
		break;
	case SHAPE_BROKER:
	case SHAPE_RTT:
		if ((rc = get_broker(p, def, a[0], SIM_BROKER_BROKERS_MAX, &s.index)))
			return rc;
		if (def->action == DRILL_BROKER_WIPE && s.index == DRILL_BROKER_ALL)
			return drill_fail(p, "broker_wipe takes one broker (a cluster of new disks "
			                     "holds nothing)");
		if (def->shape == SHAPE_RTT &&
		    (rc = drill_get_int(p, "broker rtt ms", a[1], 0, MS_MAX, &s.a)))
			return rc;
		break;
	case SHAPE_COUNT:
		if ((rc = drill_get_int(p, "broker error count", a[0], 1, BROKER_ERRORS_MAX, &s.a)))
			return rc;
		break;
	case SHAPE_REGIONAL:
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index, NULL)))
			return rc;
		if (s.node != DRILL_EDGE)
			return drill_fail(p, "%s takes an edge, not '%s'", def->word, a[0]);
		int id;
		if ((rc = get_broker(p, def, a[1], DRILL_REGIONAL_BROKERS, &id)))
			return rc;
		if (def->action == DRILL_REGIONAL_BROKER_WIPE && id == DRILL_BROKER_ALL)
			return drill_fail(p, "regional_broker_wipe takes one broker");
		s.a = id;
		break;
	case SHAPE_REGION:
		/* A wipe loses one machine: which one may be named. */
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index,
		                         def->action == DRILL_WIPE ? &s.standby : NULL)))
			return rc;
		if (s.node != DRILL_EDGE)
			return drill_fail(p, "%s takes an edge, not '%s'", def->word, a[0]);
		break;
	case SHAPE_MOVE:
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index, NULL)))
			return rc;
		if (s.node != DRILL_EDGE)
			return drill_fail(p, "%s takes an edge, not '%s'", def->word, a[0]);
		if ((rc = drill_get_int(p, "users to move", a[1], 1, DRILL_MOVE_USERS_MAX, &s.a)))
			return rc;
		break;
	case SHAPE_CLOCK:
		if ((rc = drill_get_node(p, a[0], &s.node, &s.index, &s.standby)))
			return rc;
		if (strcmp(a[1], "reset") == 0 && nargs == 2) {
			s.action = DRILL_CLOCK_RESET;
		} else if (strcmp(a[1], "jump") == 0 && nargs == 3) {
			s.action = DRILL_CLOCK_JUMP;
			if ((rc = get_offset(p, a[2], &s.a)))
				return rc;
		} else {
			return drill_fail(p, "clock takes NODE jump OFFSET or NODE reset");
		}
		break;
	case SHAPE_NODES:
		if ((rc = get_nodes(p, def, a, nargs, &s)))
			return rc;
		break;
	case SHAPE_RATE:
		if ((rc = drill_get_real(p, "load rate", a[0], 0, RATE_MAX, &s.x)))
			return rc;
		break;
	case SHAPE_SHARE:
		if ((rc = drill_get_real(p, "viral share", a[0], 0, 1, &s.x)))
			return rc;
		break;
	}

	if (d->nsteps == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		d->steps = xrealloc(d->steps, p->cap * sizeof *d->steps);
	}
	d->steps[d->nsteps++] = s;
	return 0;
}
