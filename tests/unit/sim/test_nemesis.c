/* test_nemesis.c - the nemesis's schedules (sim/drill/nemesis.c) and
 * their fault coverage (nemesis_cover.c): a seed draws the same bytes
 * every time, seeds differ, every drawn file is one the drill parser
 * takes (in process, the runner's own parser), every fault is healed
 * before the end, every step finds the instance it names, faults
 * overlap, every default seed counts, and the
 * coverage of one drawn seed and one hand-written drill, checked by
 * hand. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/drill/drill.h"
#include "sim/drill/nemesis.h"

TestSuite(nemesis, .timeout = 60);

#define SEEDS 200

static char *draw(const nemesis_opts *o)
{
	char err[256], *text = NULL;
	cr_assert_eq(nemesis_draw(o, &text, err, sizeof err), 0, "%s", err);
	cr_assert_not_null(text);
	return text;
}

static char *draw_seed(uint64_t seed)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	o.seed = seed;
	return draw(&o);
}

/* Parses text as the runner would; fails the test with the parser's
 * message (and the text) when it refuses. */
static void parse(const char *text, drill *d)
{
	char err[512];
	int rc = drill_parse("nemesis", text, d, err, sizeof err);
	cr_assert_eq(rc, 0, "the parser refused a drawn file: %s\n%s", err, text);
}

/* Every figure of coverage c is want's (its why and the drill's own
 * settings aside). */
static void assert_coverage(const nemesis_coverage *c, const nemesis_coverage *want)
{
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		cr_assert_eq(c->count[k], want->count[k], "%s: %u faults, not %u",
		             nemesis_kind_name((nemesis_kind)k), c->count[k], want->count[k]);
	cr_assert_eq(c->faults, want->faults);
	cr_assert_eq(c->one_way_cuts, want->one_way_cuts);
	cr_assert_eq(c->takeovers, want->takeovers);
	cr_assert_eq(c->leader_losses, want->leader_losses);
	cr_assert_eq(c->max_overlap, want->max_overlap);
	cr_assert_eq(c->unhealed, want->unhealed);
	cr_assert_float_eq(c->fault_s, want->fault_s, 1e-6);
	cr_assert_float_eq(c->longest_free_s, want->longest_free_s, 1e-6);
	cr_assert_eq(c->free_windows, want->free_windows);
	cr_assert_eq(c->counts, want->counts, "%s", c->why);
}

/* The schedule without the header, which names the seed. */
static const char *steps_of(const char *text)
{
	const char *p = strstr(text, "\n# burst ");
	cr_assert_not_null(p, "no burst in:\n%s", text);
	return p;
}

Test(nemesis, the_same_seed_draws_the_same_bytes)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	for (uint64_t seed = 0; seed < 50; seed++) {
		o.seed = seed * 0x9E3779B97F4A7C15ull; /* high bits too */
		char *a = draw(&o), *b = draw(&o);
		cr_assert_str_eq(a, b, "seed %llu", (unsigned long long)o.seed);
		free(a);
		free(b);
	}
}

Test(nemesis, different_seeds_draw_different_schedules)
{
	char *prev = draw_seed(0);
	for (uint64_t seed = 1; seed < SEEDS; seed++) {
		char *t = draw_seed(seed);
		cr_assert_str_neq(steps_of(prev), steps_of(t), "seeds %llu and %llu",
		                  (unsigned long long)seed - 1, (unsigned long long)seed);
		free(prev);
		prev = t;
	}
	free(prev);
}

/* Every opening step has its heal, and the last step leaves the tail
 * fault-free: counted from the steps themselves, apart from the
 * coverage's pairing. */
static void check_healed(const drill *d, uint64_t seed)
{
	unsigned down = 0, start = 0, stop = 0, cont = 0, path = 0, heal = 0, disk = 0, free_ = 0,
	         region = 0, up = 0, bdown = 0, bup = 0, jump = 0, reset = 0, cdown = 0, cup = 0,
	         bpause = 0, bresume = 0;
	for (size_t i = 0; i < d->nsteps; i++) {
		const drill_step *s = &d->steps[i];
		cr_assert_leq(s->at_s, d->duration_s - 15, "seed %llu: \"%s\" in the tail",
		              (unsigned long long)seed, s->text);
		switch (s->action) {
		case DRILL_KILL:
		case DRILL_WIPE: down++; break;
		case DRILL_START: start++; break;
		case DRILL_STOP: stop++; break;
		case DRILL_CONT: cont++; break;
		case DRILL_CUT:
		case DRILL_DELAY:
		case DRILL_THROTTLE: path++; break;
		case DRILL_HEAL: heal++; break;
		case DRILL_DISK_FULL: disk++; break;
		case DRILL_DISK_FREE: free_++; break;
		case DRILL_REGION_DOWN: region++; break;
		case DRILL_REGION_UP: up++; break;
		case DRILL_REGIONAL_BROKER_DOWN: bdown++; break;
		case DRILL_REGIONAL_BROKER_UP: bup++; break;
		case DRILL_CLOCK_JUMP: jump++; break;
		case DRILL_CLOCK_RESET: reset++; break;
		case DRILL_BROKER_DOWN: cdown++; break;
		case DRILL_BROKER_UP: cup++; break;
		case DRILL_REGIONAL_BROKER_PAUSE: bpause++; break;
		case DRILL_REGIONAL_BROKER_RESUME: bresume++; break;
		default:
			cr_assert_fail("seed %llu: a step the nemesis does not draw: %s",
			               (unsigned long long)seed, s->text);
		}
	}
	/* A start also follows each fenced stop: at least as many. */
	cr_assert_geq(start, down, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(stop, cont, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(path, heal, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(disk, free_, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(region, up, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(bdown, bup, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(jump, reset, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(cdown, cup, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(bpause, bresume, "seed %llu", (unsigned long long)seed);
}

/* The runner's instances as the steps leave them, when every loss of
 * an active is taken over and every instance taken over from exits
 * fenced once resumed or healed (run_standby.c): each step must find
 * the instance it names (a kill of a running one, a start of one that
 * is down, a cont of one stopped), and every region ends with all its
 * instances running, as it began. */
enum { UP, DOWN, STOPPED };

typedef struct model {
	int st[DRILL_REGIONS_MAX][2];
	bool fence[DRILL_REGIONS_MAX][2]; /* taken over from: exits when back */
	int active[DRILL_REGIONS_MAX];
	int central[DRILL_CENTRALS_MAX];
} model;

static void lose_active(model *m, unsigned r, int inst)
{
	if (m->active[r] != inst)
		return;
	m->fence[r][inst] = true;
	m->active[r] = m->st[r][1 - inst] == UP ? 1 - inst : -1;
}

static void check_steps_find_their_instances(const drill *d, uint64_t seed)
{
	model m;
	memset(&m, 0, sizeof m);
	unsigned ninst = d->standby ? 2 : 1;
	for (unsigned r = 0; r < d->regions; r++)
		m.st[r][1] = d->standby ? UP : DOWN;
	for (size_t i = 0; i < d->nsteps; i++) {
		const drill_step *s = &d->steps[i];
		unsigned r = (unsigned)s->index;
		int *st = m.st[r];
		if (s->node == DRILL_CENTRAL) {
			int *c = &m.central[r];
			int want = s->action == DRILL_START  ? DOWN
			           : s->action == DRILL_CONT ? STOPPED
			                                     : UP;
			if (s->action != DRILL_KILL && s->action != DRILL_STOP &&
			    s->action != DRILL_START && s->action != DRILL_CONT)
				continue;
			cr_assert_eq(*c, want, "seed %llu: \"%s\" finds central%u in state %d",
			             (unsigned long long)seed, s->text, r, *c);
			*c = s->action == DRILL_KILL   ? DOWN
			     : s->action == DRILL_STOP ? STOPPED
			                               : UP;
			continue;
		}
		int a = d->standby ? m.active[r] : 0;
		int who = s->standby ? 1 - a : a;
		switch (s->action) {
		case DRILL_KILL:
		case DRILL_WIPE:
		case DRILL_STOP:
			cr_assert(a >= 0 && st[who] == UP,
			          "seed %llu: \"%s\" has no running instance",
			          (unsigned long long)seed, s->text);
			st[who] = s->action == DRILL_STOP ? STOPPED : DOWN;
			if (d->standby)
				lose_active(&m, r, who);
			if (s->action != DRILL_STOP)
				m.fence[r][who] = false; /* killed: no fence to wait for */
			break;
		case DRILL_START: {
			int k = st[0] == DOWN ? 0 : ninst > 1 && st[1] == DOWN ? 1 : -1;
			cr_assert(k >= 0, "seed %llu: \"%s\" finds every instance running",
			          (unsigned long long)seed, s->text);
			st[k] = UP;
			m.fence[r][k] = false;
			if (m.active[r] < 0)
				m.active[r] = k;
			break;
		}
		case DRILL_CONT: {
			int k = st[0] == STOPPED ? 0 : ninst > 1 && st[1] == STOPPED ? 1 : -1;
			cr_assert(k >= 0, "seed %llu: \"%s\" finds no instance stopped",
			          (unsigned long long)seed, s->text);
			st[k] = m.fence[r][k] ? DOWN : UP; /* exits fenced */
			m.fence[r][k] = false;
			if (st[k] == UP && m.active[r] < 0)
				m.active[r] = k;
			break;
		}
		case DRILL_CUT:
			if (d->standby && s->link == DRILL_LINK_REGIONAL && !s->standby &&
			    (s->dir & 1)) {
				cr_assert(a >= 0 && st[a] == UP, "seed %llu: \"%s\"",
				          (unsigned long long)seed, s->text);
				lose_active(&m, r, a);
			}
			break;
		case DRILL_HEAL:
			for (unsigned k = 0; s->link == DRILL_LINK_REGIONAL && k < ninst; k++)
				if (m.fence[r][k] && st[k] == UP) {
					st[k] = DOWN;
					m.fence[r][k] = false;
				}
			break;
		default: break;
		}
	}
	for (unsigned r = 0; r < d->regions; r++)
		for (unsigned k = 0; k < ninst; k++)
			cr_assert_eq(m.st[r][k], UP,
			             "seed %llu: edge%u's instance %u not back at the end",
			             (unsigned long long)seed, r, k);
	for (unsigned j = 0; j < d->centrals; j++)
		cr_assert_eq(m.central[j], UP, "seed %llu: central%u not back at the end",
		             (unsigned long long)seed, j);
}

Test(nemesis, every_drawn_file_parses_heals_every_fault_and_overlaps)
{
	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		char *text = draw_seed(seed);
		drill d;
		parse(text, &d);
		check_healed(&d, seed);
		check_steps_find_their_instances(&d, seed);
		nemesis_coverage c;
		nemesis_cover(&d, &c);
		cr_assert_eq(c.unhealed, 0, "seed %llu", (unsigned long long)seed);
		cr_assert_geq(c.max_overlap, 2, "seed %llu:\n%s", (unsigned long long)seed, text);
		cr_assert_leq(c.max_overlap, 3, "seed %llu: past max_overlap",
		              (unsigned long long)seed);
		cr_assert(c.counts, "seed %llu does not count: %s\n%s", (unsigned long long)seed,
		          c.why, text);
		cr_assert_eq(d.seed, seed, "the load is seeded with the nemesis's seed");
		drill_free(&d);
		free(text);
	}
}

/* Other shapes: no standby, no regional Kafka, one region, more
 * centrals, a short or long run, a high rate, four at once. */
Test(nemesis, other_knobs_draw_files_the_parser_takes)
{
	for (unsigned v = 0; v < 8; v++) {
		for (uint64_t seed = 0; seed < 40; seed++) {
			nemesis_opts o;
			nemesis_opts_default(&o);
			o.seed = seed;
			o.standby = v != 1 && v != 2;
			o.regional_kafka = v != 2 && v != 3;
			o.regions = v == 4 ? 1 : v == 5 ? 8 : 3;
			o.centrals = v == 5 ? 3 : 1;
			o.duration_s = v == 6 ? 60 : v == 7 ? 3600 : 180;
			o.rate = v == 7 ? 30 : v == 6 ? 10 : 4;
			o.max_overlap = v == 5 ? 4 : 3;
			char *text = draw(&o);
			drill d;
			parse(text, &d);
			check_healed(&d, seed);
			check_steps_find_their_instances(&d, seed);
			cr_assert_leq(d.nsteps, DRILL_STEPS_MAX);
			nemesis_coverage c;
			nemesis_cover(&d, &c);
			cr_assert_eq(c.unhealed, 0, "variant %u seed %llu", v,
			             (unsigned long long)seed);
			cr_assert_leq(c.max_overlap, o.max_overlap, "variant %u seed %llu", v,
			              (unsigned long long)seed);
			if (!o.standby)
				cr_assert_eq(c.count[NEMESIS_KILL_STANDBY] +
				                 c.count[NEMESIS_WIPE_STANDBY] +
				                 c.count[NEMESIS_STOP_STANDBY],
				             0);
			if (!o.regional_kafka)
				cr_assert_eq(
				    c.count[NEMESIS_BROKER] + c.count[NEMESIS_CUT_REGIONAL], 0);
			if (o.regions == 1)
				cr_assert_eq(c.count[NEMESIS_REGION], 0);
			drill_free(&d);
			free(text);
		}
	}
}

Test(nemesis, clock_faults_jump_a_node_and_reset_the_same_one_when_the_mix_asks)
{
	unsigned jumps = 0, central = 0, standby = 0, ahead = 0, behind = 0;
	for (uint64_t seed = 0; seed < 40; seed++) {
		nemesis_opts o;
		nemesis_opts_default(&o);
		cr_assert_eq(o.weight[NEMESIS_CLOCK], 0, "not in the default mix");
		o.seed = seed;
		o.weight[NEMESIS_CLOCK] = 10;
		char *text = draw(&o);
		drill d;
		parse(text, &d);
		check_healed(&d, seed);
		for (size_t i = 0; i < d.nsteps; i++) {
			const drill_step *s = &d.steps[i];
			if (s->action != DRILL_CLOCK_JUMP)
				continue;
			jumps++;
			central += s->node == DRILL_CENTRAL;
			standby += s->standby;
			ahead += s->a > 0;
			behind += s->a < 0;
			int64_t ms = s->a < 0 ? -s->a : s->a;
			cr_assert(ms >= 30000 && ms <= 600000, "%s", s->text);
			/* Its reset is the next clock step of the same name. */
			size_t j = i + 1;
			while (j < d.nsteps &&
			       !((d.steps[j].action == DRILL_CLOCK_RESET ||
			          d.steps[j].action == DRILL_CLOCK_JUMP) &&
			         d.steps[j].node == s->node && d.steps[j].index == s->index &&
			         d.steps[j].standby == s->standby))
				j++;
			cr_assert_lt(j, d.nsteps, "seed %llu: \"%s\" never reset",
			             (unsigned long long)seed, s->text);
			cr_assert_eq(d.steps[j].action, DRILL_CLOCK_RESET, "%s", d.steps[j].text);
		}
		nemesis_coverage c;
		nemesis_cover(&d, &c);
		cr_assert_eq(c.unhealed, 0, "seed %llu", (unsigned long long)seed);
		cr_assert(drill_moves_clocks(&d) == (c.count[NEMESIS_CLOCK] > 0));
		drill_free(&d);
		free(text);
	}
	cr_assert_gt(jumps, 10);
	cr_assert(central > 0 && standby > 0 && ahead > 0 && behind > 0,
	          "central %u standby %u ahead %u behind %u", central, standby, ahead, behind);
}

/* With the default mix, a draw for real Kafka is the embedded one's
 * schedule: the header says `kafka real`, the steps are the same bytes
 * (the seeds run on real Kafka are the ones recorded). */
Test(nemesis, the_default_mix_draws_the_same_steps_for_real_kafka)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		nemesis_opts o;
		nemesis_opts_default(&o);
		o.seed = seed;
		char *embedded = draw(&o);
		o.real_kafka = true;
		char *real = draw(&o);
		cr_assert_str_eq(steps_of(real), steps_of(embedded), "seed %llu",
		                 (unsigned long long)seed);
		cr_assert_not_null(strstr(real, "\nkafka real\n"));
		cr_assert_null(strstr(embedded, "\nkafka real\n"));
		free(embedded);
		free(real);
	}
}

/* --mix all draws the kinds the default mix leaves out: throttles and
 * central's brokers on either Kafka, a regional broker's pause on real
 * Kafka only; every file runs on the Kafka it was drawn for, and each
 * fault is counted under its own kind. */
Test(nemesis, mix_all_draws_throttles_pauses_and_centrals_brokers)
{
	for (int real = 0; real <= 1; real++) {
		unsigned throttle = 0, pause = 0, central = 0;
		for (uint64_t seed = 0; seed < 40; seed++) {
			nemesis_opts o;
			nemesis_opts_default(&o);
			cr_assert_eq(o.weight[NEMESIS_THROTTLE] + o.weight[NEMESIS_BROKER_PAUSE] +
			                 o.weight[NEMESIS_CENTRAL_BROKER],
			             0, "not in the default mix");
			char err[256];
			cr_assert_eq(nemesis_parse_mix(&o, "all", err, sizeof err), 0, "%s", err);
			cr_assert_eq(o.weight[NEMESIS_THROTTLE], o.weight[NEMESIS_BROKER]);
			cr_assert_eq(o.weight[NEMESIS_CLOCK], o.weight[NEMESIS_BROKER]);
			cr_assert_eq(o.weight[NEMESIS_KILL], 3, "the default's own weights stay");
			o.seed = seed;
			o.real_kafka = real;
			char *text = draw(&o);
			drill d;
			parse(text, &d);
			cr_assert_eq(drill_set_kafka(&d, real, err, sizeof err), 0, "%s\n%s", err,
			             text);
			check_healed(&d, seed);
			nemesis_coverage c;
			nemesis_cover(&d, &c);
			cr_assert_eq(c.unhealed, 0);
			for (size_t i = 0; i < d.nsteps; i++) {
				const drill_step *st = &d.steps[i];
				if (st->action == DRILL_THROTTLE)
					cr_assert(st->a >= 1000 && st->a <= 32000, "%s", st->text);
				if (st->action == DRILL_BROKER_DOWN)
					cr_assert(real ? strstr(st->text, "leader") != NULL
					               : st->index >= 1 && st->index <= 3,
					          "%s", st->text);
			}
			throttle += c.count[NEMESIS_THROTTLE];
			pause += c.count[NEMESIS_BROKER_PAUSE];
			central += c.count[NEMESIS_CENTRAL_BROKER];
			drill_free(&d);
			free(text);
		}
		cr_assert_gt(throttle, 0, "real %d", real);
		cr_assert_gt(central, 0, "real %d", real);
		if (real)
			cr_assert_gt(pause, 0);
		else
			cr_assert_eq(pause, 0, "the embedded cluster's brokers are threads");
	}
}

/* Seed 42 with the default knobs, its coverage worked out by hand from
 * its steps (the windows below; the leader rule: broker 1 leads each
 * region's changelog first). */
Test(nemesis, coverage_of_seed_42_is_as_counted_by_hand)
{
	char *text = draw_seed(42);
	/* The schedule itself, so that a change of the generator shows. */
	static const char *const expect[] = {
	    "at 12.0 kill edge2\n",
	    "at 28.7 start edge2\n",
	    "at 41.2 regional_broker_down edge2 1\n", /* led: now 2 leads */
	    "at 47.3 regional_broker_down edge0 1\n", /* led */
	    "at 53.1 regional_broker_up edge2 1\n",
	    "at 64.4 regional_broker_up edge0 1\n",
	    "at 72.4 cut edge1 kafka forward\n",
	    "at 77.7 regional_broker_down edge1 3\n", /* a follower */
	    "at 91.0 regional_broker_up edge1 3\n",
	    "at 92.1 heal edge1 kafka\n",
	    "at 103.4 stop edge1\n",
	    "at 107.0 kill central0\n",
	    "at 112.7 cont edge1\n",
	    "at 119.8 start central0\n",
	    "at 124.7 start edge1\n", /* the fenced instance back */
	    "at 133.6 stop central0\n",
	    "at 134.7 stop edge0\n",
	    "at 139.7 cut edge1.standby regional backward\n",
	    "at 141.1 cont central0\n",
	    "at 142.7 cont edge0\n",
	    "at 154.3 heal edge1 regional\n",
	    "at 154.7 start edge0\n",
	};
	const char *p = text;
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		const char *q = strstr(p, expect[i]);
		cr_assert_not_null(q, "no \"%s\" in order in:\n%s", expect[i], text);
		p = q + strlen(expect[i]);
	}
	drill d;
	parse(text, &d);
	cr_assert_eq(d.nsteps, sizeof expect / sizeof expect[0]);
	nemesis_coverage c;
	nemesis_cover(&d, &c);
	const nemesis_coverage want = {
	    .count = {[NEMESIS_KILL] = 1,
	              [NEMESIS_STOP] = 2,
	              [NEMESIS_CENTRAL_KILL] = 1,
	              [NEMESIS_CENTRAL_STOP] = 1,
	              [NEMESIS_BROKER] = 3,
	              [NEMESIS_CUT] = 1,
	              [NEMESIS_CUT_REGIONAL] = 1},
	    .faults = 10,
	    .one_way_cuts = 2,
	    .takeovers = 3,     /* kill edge2, stop edge1, stop edge0 */
	    .leader_losses = 2, /* broker 1 of edge2 and of edge0; edge1's 3 followed */
	    /* 133.6-141.1 central0 stopped, 134.7-142.7 edge0, 139.7-154.3 the cut. */
	    .max_overlap = 3,
	    .unhealed = 0,
	    .fault_s = 96.7,        /* 16.7 + 23.2 + 19.7 + 16.4 + 20.7 s of faults */
	    .longest_free_s = 25.7, /* free: 12, 12.5, 8, 11.3, 13.8 and 25.7 s */
	    .free_windows = 5,
	    .counts = true,
	};
	assert_coverage(&c, &want);
	drill_free(&d);
	free(text);
}

/* A drill written by hand: a leader that moved, a cut one way, a
 * fault left in force, a start with nothing to heal. */
Test(nemesis, coverage_of_a_hand_written_drill)
{
	static const char text[] = "duration 100\nchangelog 1\nstandby 1\nregional_kafka 1\n"
	                           "at 10 kill edge0\n"
	                           "at 20 start edge0\n"
	                           "at 15 regional_broker_down edge1 1\n" /* the leader */
	                           "at 25 regional_broker_up edge1 1\n"
	                           "at 30 regional_broker_down edge1 1\n" /* 2 leads now */
	                           "at 35 regional_broker_up edge1 1\n"
	                           "at 40 cut edge2 regional forward\n" /* a takeover */
	                           "at 50 heal edge2 regional\n"
	                           "at 62 start edge2\n" /* the fenced one back: no fault */
	                           "at 45 stop edge1.standby\n"
	                           "at 55 cont edge1\n"
	                           "at 70 delay central0 kafka 100 10\n"; /* never healed */
	drill d;
	parse(text, &d);
	nemesis_coverage c;
	nemesis_cover(&d, &c);
	const nemesis_coverage want = {
	    .count = {[NEMESIS_KILL] = 1,
	              [NEMESIS_BROKER] = 2,
	              [NEMESIS_CUT_REGIONAL] = 1,
	              [NEMESIS_STOP_STANDBY] = 1,
	              [NEMESIS_DELAY] = 1},
	    .faults = 6,
	    .one_way_cuts = 1,
	    .takeovers = 2,
	    .leader_losses = 1,
	    .max_overlap = 2, /* 10-20 with 15-25; 40-50 with 45-55 */
	    .unhealed = 1,
	    .fault_s = 15 + 5 + 15 + 30, /* 10-25, 30-35, 40-55, 70-100 */
	    .longest_free_s = 15,
	    .free_windows = 2, /* 0-10 and 55-70; not 25-30 nor 35-40 */
	    .counts = false,
	};
	assert_coverage(&c, &want);
	cr_assert_not_null(strstr(c.why, "faults still in force at the end"), "%s", c.why);
	char table[4096];
	nemesis_cover_format(&c, table, sizeof table);
	cr_assert_not_null(strstr(table, "counts: no ("), "%s", table);
	drill_free(&d);
}

Test(nemesis, without_a_standby_no_seed_counts)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	o.standby = false;
	o.seed = 7;
	char *text = draw(&o);
	drill d;
	parse(text, &d);
	nemesis_coverage c;
	nemesis_cover(&d, &c);
	cr_assert_eq(c.takeovers, 0);
	cr_assert_not(c.counts);
	cr_assert_not_null(strstr(c.why, "standby 0"), "%s", c.why);
	drill_free(&d);
	free(text);
}

Test(nemesis, the_mix_takes_known_kinds_and_refuses_the_rest)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	char err[256];
	cr_assert_eq(nemesis_parse_mix(&o, "cut=0,broker=7", err, sizeof err), 0, "%s", err);
	cr_assert_eq(o.weight[NEMESIS_CUT], 0);
	cr_assert_eq(o.weight[NEMESIS_BROKER], 7);
	cr_assert_eq(o.weight[NEMESIS_KILL], 3, "the others keep theirs");
	cr_assert_neq(nemesis_parse_mix(&o, "kill=1,bogus=2", err, sizeof err), 0);
	cr_assert_not_null(strstr(err, "bogus"), "%s", err);
	cr_assert_eq(o.weight[NEMESIS_KILL], 3, "unchanged after a refusal");
	cr_assert_neq(nemesis_parse_mix(&o, "kill=101", err, sizeof err), 0);
	cr_assert_neq(nemesis_parse_mix(&o, "kill=", err, sizeof err), 0);
	cr_assert_neq(nemesis_parse_mix(&o, "kill", err, sizeof err), 0);
	cr_assert_neq(nemesis_parse_mix(&o, "kill=x", err, sizeof err), 0);

	/* Only cuts: every fault drawn is one. */
	nemesis_opts_default(&o);
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		o.weight[k] = k == NEMESIS_CUT ? 1 : 0;
	char *text = draw(&o);
	drill d;
	parse(text, &d);
	nemesis_coverage c;
	nemesis_cover(&d, &c);
	cr_assert_gt(c.count[NEMESIS_CUT], 0);
	cr_assert_eq(c.faults, c.count[NEMESIS_CUT]);
	cr_assert_not(c.counts, "no takeover, no leader lost");
	drill_free(&d);
	free(text);

	/* Nothing this deployment can take. */
	nemesis_opts_default(&o);
	for (unsigned k = 0; k < NEMESIS_KINDS; k++)
		o.weight[k] = 0;
	o.weight[NEMESIS_BROKER] = 1;
	o.regional_kafka = false;
	char *none = NULL;
	cr_assert_eq(nemesis_draw(&o, &none, err, sizeof err), ERR_CONFIG);
	cr_assert_null(none);
}

Test(nemesis, knobs_out_of_range_are_refused)
{
	nemesis_opts o;
	char err[256], *text = NULL;
	nemesis_opts_default(&o);
	o.duration_s = 59;
	cr_assert_eq(nemesis_draw(&o, &text, err, sizeof err), ERR_CONFIG);
	nemesis_opts_default(&o);
	o.regions = DRILL_REGIONS_MAX + 1;
	cr_assert_eq(nemesis_opts_check(&o, err, sizeof err), ERR_CONFIG);
	nemesis_opts_default(&o);
	o.max_overlap = NEMESIS_OVERLAP_MAX + 1;
	cr_assert_eq(nemesis_opts_check(&o, err, sizeof err), ERR_CONFIG);
	nemesis_opts_default(&o);
	o.rate = 0;
	cr_assert_eq(nemesis_opts_check(&o, err, sizeof err), ERR_CONFIG);
	nemesis_opts_default(&o);
	o.roam_pct = 101;
	cr_assert_eq(nemesis_opts_check(&o, err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "roam 101%"), "%s", err);
	nemesis_opts_default(&o);
	o.undo_pct = 101;
	cr_assert_eq(nemesis_opts_check(&o, err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "undo 101%"), "%s", err);
	cr_assert_null(text);
}

Test(nemesis, roam_and_undo_set_the_loads_shares_and_their_defaults_write_nothing)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	o.seed = 2;
	char *plain = draw(&o);
	cr_assert_null(strstr(plain, "\nroam "), "the drill's own default: no line");
	cr_assert_null(strstr(plain, "\nundo "), "0, the drill's own default: no line");
	o.roam_pct = 30;
	o.undo_pct = 25;
	char *text = draw(&o);
	cr_assert_not_null(strstr(text, "\nundo 0.25\n"), "%s", text);
	drill d;
	parse(text, &d);
	cr_assert_float_eq(d.roam, 0.30, 1e-9);
	cr_assert_float_eq(d.undo, 0.25, 1e-9);
	drill_free(&d);
	o.roam_pct = 100;
	char *all = draw(&o);
	cr_assert_not_null(strstr(all, "\nroam 1.00\n"), "%s", all);
	free(all);
	free(text);
	free(plain);
}
