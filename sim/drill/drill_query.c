/* drill_query.c - what the runner asks of a parsed drill (drill.h): its
 * length and its steps' times and rates in a full or a short run, its
 * expectations, and how its shards split the partitions; and the
 * settings the run may still change (its shape, duration and Kafka).
 * drill.c parses. Pure.
 */
#include <stdint.h>
#include <stdio.h>

#include "sim/drill/drill.h"

double drill_duration(const drill *d, bool short_run)
{
	return short_run ? d->short_duration_s : d->duration_s;
}

void drill_shape(drill *d, bool short_run)
{
	if (!short_run) {
		if (d->shape_auto & DRILL_AUTO_CHANGELOG)
			d->changelog = 1;
		if (d->shape_auto & DRILL_AUTO_STANDBY)
			d->standby = d->changelog;
		if (d->shape_auto & DRILL_AUTO_REGIONAL)
			d->regional_kafka = d->changelog;
	}
	if (d->kafka_real && (d->shape_auto & DRILL_AUTO_FETCH_WAIT))
		d->fetch_wait_ms = DRILL_REAL_FETCH_WAIT_MS;
	d->shape_auto = 0;
}

int drill_set_kafka(drill *d, bool real, char *err, size_t errlen)
{
	for (size_t i = 0; i < d->nsteps; i++) {
		const drill_step *s = &d->steps[i];
		int target = drill_action_regional(s->action) ? (int)s->a : s->index;
		bool embedded_only =
		    s->action == DRILL_BROKER_RTT || s->action == DRILL_BROKER_ERRORS;
		bool real_only = drill_action_real_only(s->action) || target == DRILL_BROKER_LEADER;
		if ((real && embedded_only) || (!real && real_only)) {
			snprintf(err, errlen, "%s:%d: \"%s\" cannot run on %s Kafka", d->name,
			         s->line, s->text, real ? "real" : "the embedded");
			return ERR_CONFIG;
		}
		bool regional = drill_action_regional(s->action);
		unsigned nodes = !regional ? d->kafka_nodes
		                 : s->index >= 0 && s->index < DRILL_REGIONS_MAX
		                     ? d->regional_nodes[s->index]
		                     : DRILL_REGIONAL_BROKERS;
		if (real && s->node == (regional ? DRILL_EDGE : 0) && !embedded_only &&
		    target > (int)nodes) {
			snprintf(err, errlen, "%s:%d: broker %d is past the cluster's %u nodes",
			         d->name, s->line, target, nodes);
			return ERR_CONFIG;
		}
	}
	d->kafka_real = real;
	return 0;
}

void drill_set_duration(drill *d, double duration_s)
{
	if (d->duration_s > 0)
		for (size_t i = 0; i < d->nsteps; i++)
			d->steps[i].at_s = d->steps[i].at_s * duration_s / d->duration_s;
	d->duration_s = duration_s;
}

double drill_step_time(const drill *d, const drill_step *s, bool short_run)
{
	if (!short_run || d->duration_s <= 0)
		return s->at_s;
	return s->at_s * d->short_duration_s / d->duration_s;
}

uint64_t drill_load_fds(const drill *d, bool isolated)
{
	uint64_t conns = (uint64_t)d->regions * (d->standby ? 2u : 1u) * d->client_conns;
	return conns * (isolated && d->client_relay ? 3u : 1u);
}

bool drill_moves_clocks(const drill *d)
{
	for (size_t i = 0; i < d->nsteps; i++)
		if (d->steps[i].action == DRILL_CLOCK_JUMP ||
		    d->steps[i].action == DRILL_CLOCK_RESET)
			return true;
	return false;
}

double drill_step_rate(const drill *d, const drill_step *s, bool short_run)
{
	if (!short_run || d->rate <= 0)
		return s->x;
	return s->x * d->short_rate / d->rate;
}

const drill_expect *drill_expect_of(const drill *d, drill_expect_key key)
{
	for (size_t i = 0; i < d->nexpects; i++)
		if (d->expects[i].key == key)
			return &d->expects[i];
	return NULL;
}

unsigned drill_shard_count(const drill *d)
{
	return d->shards ? d->shards : 1;
}

unsigned drill_shard_of_central(const drill *d, unsigned j)
{
	return j % drill_shard_count(d);
}

/* Shard s starts at floor(s * P / N): equal ranges, the longer ones
 * last when N does not divide P. */
void drill_shard_range(const drill *d, unsigned s, unsigned *first, unsigned *last)
{
	uint64_t n = drill_shard_count(d), p = d->partitions;
	*first = (unsigned)(s * p / n);
	*last = (unsigned)((s + 1) * p / n) - 1;
}

unsigned drill_shard_of_partition(const drill *d, unsigned p)
{
	unsigned n = drill_shard_count(d);
	for (unsigned s = 0; s < n; s++) {
		unsigned first, last;
		drill_shard_range(d, s, &first, &last);
		if (p >= first && p <= last)
			return s;
	}
	return n - 1;
}
