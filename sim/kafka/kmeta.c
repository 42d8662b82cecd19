/* kmeta.c - what a running sim_kafka cluster says of itself (kafka.h):
 * whether every replica is in its ISR, which node is the active
 * controller, which leads a partition and which are in its ISR, asked
 * through kafka.c's admin client, and whether a node started again said
 * it started (its log). One thread, as kafka.c.
 */
#include "sim/kafka/kafka.h"
#include "sim/kafka/kafka_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "log.h"

bool sim_kafka_node_up(knode *nd)
{
	if (nd->up || nd->pid <= 0)
		return nd->up && nd->pid > 0;
	FILE *f = fopen(nd->log, "r");
	if (!f)
		return false;
	/* Whole lines only: the mark moves past each line read, so the next
	 * poll reads only what the node wrote since. */
	char line[4096];
	if (fseeko(f, nd->log_mark, SEEK_SET) == 0)
		while (!nd->up && fgets(line, sizeof line, f)) {
			size_t n = strlen(line);
			if (n && line[n - 1] != '\n' && !feof(f))
				continue; /* a line longer than the buffer: its rest follows */
			if (n && line[n - 1] != '\n')
				break; /* a line still being written: read it whole next time */
			nd->up = strstr(line, "Kafka Server started") != NULL;
			nd->log_mark = ftello(f);
		}
	fclose(f);
	return nd->up;
}

/* Is replica (a node id) of mp in its ISR? */
static bool in_isr(const rd_kafka_metadata_partition_t *mp, int32_t replica)
{
	for (int i = 0; i < mp->isr_cnt; i++)
		if (mp->isrs[i] == replica)
			return true;
	return false;
}

/* How many of mp's replicas must be in sync: all, or (running_only)
 * those on nodes that run and are not paused; whether they are. */
static bool replicas_in_sync(const sim_kafka *k, const rd_kafka_metadata_partition_t *mp,
                             bool running_only)
{
	if (!running_only)
		return mp->isr_cnt >= mp->replica_cnt;
	for (int i = 0; i < mp->replica_cnt; i++) {
		int32_t r = mp->replicas[i];
		bool runs =
		    r >= 1 && r <= k->n && k->nodes[r - 1].pid > 0 && !k->nodes[r - 1].paused;
		if (runs && !in_isr(mp, r))
			return false;
	}
	return true;
}

/* Is every partition of our topics led and in sync (replicas_in_sync)?
 * When not, the first one short of it in why. */
static bool all_in_sync(sim_kafka *k, bool running_only, char *why, size_t cap)
{
	const struct rd_kafka_metadata *md = NULL;
	if (rd_kafka_metadata(k->admin, 1, NULL, &md, META_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(why, cap, "no metadata");
		return false;
	}
	bool ok = true;
	/* A node started again stays in its partitions' ISRs, and listed, for
	 * a while before the new process runs at all: its ISR entries count
	 * once it said it started (regional_brokers_lost's short run was
	 * "back in sync" 16 ms after a start, its node up 19 s later, and no
	 * partition had a leader once the old leader was lost meanwhile). */
	for (int n = 0; n < k->n && ok; n++) {
		knode *nd = &k->nodes[n];
		if (nd->pid > 0 && !nd->paused && !sim_kafka_node_up(nd)) {
			snprintf(why, cap, "node %d runs but has not said it started", nd->id);
			ok = false;
		}
	}
	for (size_t i = 0; i < k->ntopics && ok; i++) {
		const rd_kafka_metadata_topic_t *mt = NULL;
		for (int t = 0; t < md->topic_cnt; t++)
			if (strcmp(md->topics[t].topic, k->topics[i].name) == 0)
				mt = &md->topics[t];
		if (!mt || mt->err || mt->partition_cnt != k->topics[i].partitions) {
			snprintf(why, cap, "topic %.100s not listed whole", k->topics[i].name);
			ok = false;
			break;
		}
		for (int p = 0; p < mt->partition_cnt && ok; p++) {
			const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
			if (mp->leader < 0 || !replicas_in_sync(k, mp, running_only)) {
				snprintf(
				    why, cap, "%.100s-%d: leader %d, %d of %d replicas in sync",
				    mt->topic, mp->id, mp->leader, mp->isr_cnt, mp->replica_cnt);
				ok = false;
			}
		}
	}
	rd_kafka_metadata_destroy(md);
	return ok;
}

int sim_kafka_wait_isr(sim_kafka *k, unsigned timeout_ms, bool running_only, char *err,
                       size_t errlen)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	char why[256] = "";
	do {
		if (all_in_sync(k, running_only, why, sizeof why))
			return 0;
		if (k->interrupted && k->interrupted()) {
			snprintf(err, errlen, "interrupted while waiting for the ISRs");
			return ERR_AGAIN;
		}
		usleep(100 * 1000);
	} while (clock_mono_ms() < end);
	snprintf(err, errlen, "not in sync after %u ms: %s", timeout_ms, why);
	return ERR_TIMEOUT;
}

int sim_kafka_controller(const sim_kafka *k)
{
	int leader = -1;
	json_int_t best = -1;
	for (int i = 0; i < k->n; i++) {
		const knode *nd = &k->nodes[i];
		if (nd->pid <= 0)
			continue;
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/__cluster_metadata-0/quorum-state", nd->meta);
		json_t *j = json_load_file(path, 0, NULL);
		if (!j)
			continue;
		json_t *id = json_object_get(j, "leaderId"),
		       *ep = json_object_get(j, "leaderEpoch");
		if (json_is_integer(id) && json_is_integer(ep) && json_integer_value(id) > 0 &&
		    json_integer_value(ep) > best) {
			best = json_integer_value(ep);
			leader = (int)json_integer_value(id);
		}
		json_decref(j);
	}
	return leader;
}

/* The leader the cluster's metadata names now, or -1. */
static int leader_now(sim_kafka *k, rd_kafka_topic_t *rkt, int partition, unsigned ms)
{
	const struct rd_kafka_metadata *md = NULL;
	int leader = -1;
	if (rd_kafka_metadata(k->admin, 0, rkt, &md, (int)ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int t = 0; t < md->topic_cnt; t++)
			for (int p = 0; p < md->topics[t].partition_cnt; p++)
				if (md->topics[t].partitions[p].id == partition)
					leader = md->topics[t].partitions[p].leader;
		rd_kafka_metadata_destroy(md);
	}
	return leader;
}

int sim_kafka_isr(sim_kafka *k, const char *topic, int partition, int *isr, int max)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->admin, topic, NULL);
	if (!rkt)
		return -1;
	const struct rd_kafka_metadata *md = NULL;
	int n = -1;
	if (rd_kafka_metadata(k->admin, 0, rkt, &md, META_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int t = 0; t < md->topic_cnt; t++)
			for (int p = 0; p < md->topics[t].partition_cnt; p++) {
				const rd_kafka_metadata_partition_t *mp =
				    &md->topics[t].partitions[p];
				if (mp->id != partition)
					continue;
				n = 0;
				for (int i = 0; i < mp->isr_cnt && n < max; i++)
					isr[n++] = mp->isrs[i];
			}
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	return n;
}

int sim_kafka_leader(sim_kafka *k, const char *topic, int partition, unsigned timeout_ms)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->admin, topic, NULL);
	if (!rkt)
		return -1;
	/* A node just killed is named until the controller fences it: wait
	 * for a leader that runs. */
	uint64_t end = clock_mono_ms() + timeout_ms;
	int leader;
	for (;;) {
		leader = leader_now(k, rkt, partition, META_MS);
		if (leader >= 1 && leader <= k->n && k->nodes[leader - 1].pid > 0)
			break;
		if (clock_mono_ms() > end) {
			leader = -1;
			break;
		}
		usleep(200 * 1000);
	}
	rd_kafka_topic_destroy(rkt);
	return leader;
}
