/* cluster_cfg.c - the config files of a drill's daemons (cluster.h): an
 * edge's (its region, paths, store, changelog and home stream) and a
 * central's (its shard, topics, feed and home streams), written into
 * the run dir before each one starts. Pure text but for the write.
 */
#include "sim/drill/cluster_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

/* --- configs ---------------------------------------------------------------- */

/* Shard s's partitions as a list for central.partitions and the shard
 * map: "F-L", or "F" for one partition. */
void cluster_shard_text(const drill *d, unsigned s, char *out, size_t cap)
{
	unsigned first, last;
	drill_shard_range(d, s, &first, &last);
	if (first == last)
		snprintf(out, cap, "%u", first);
	else
		snprintf(out, cap, "%u-%u", first, last);
}

/* central.ops of an edge: central0's address, or with shards the map
 * "F-L=addr|addr;..." listing each shard's centrals, primary first. */
static void edge_ops(const cluster *c, char *out, size_t cap)
{
	const drill *d = c->d;
	if (!d->shards) {
		snprintf(out, cap, "127.0.0.1:%d",
		         c->isolated ? CLUSTER_OPS_PORT : c->centrals[0].port);
		return;
	}
	size_t k = 0;
	out[0] = '\0';
	for (unsigned s = 0; s < d->shards; s++) {
		char parts[32];
		cluster_shard_text(d, s, parts, sizeof parts);
		k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s%s=", s ? ";" : "", parts);
		for (unsigned j = s; j < d->centrals; j += d->shards) {
			int port = c->isolated ? CLUSTER_OPS_PORT + (int)j : c->centrals[j].port;
			k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s127.0.0.1:%d",
			                      j == s ? "" : "|", port);
		}
	}
}

/* "[store]\ncache_mb = N\n" when the drill sets it, else "". */
static void store_text(const drill *d, char *out, size_t cap)
{
	out[0] = '\0';
	if (d->store_cache_mb)
		snprintf(out, cap, "[store]\ncache_mb = %u\n", d->store_cache_mb);
}

/* The changelog instance name of a region's instance: "r1-a", "r1-b". */
void cluster_instance_name(const cluster_node *n, char *out, size_t cap)
{
	snprintf(out, cap, "r%d-%c", n->index, 'a' + n->inst);
}

/* "[changelog]..." on the embedded cluster, each edge on its own
 * partition (both instances of a region on the region's), when the
 * drill sets changelog; else "". With regional_kafka on the region's
 * own cluster, partition 0. With standby each instance names itself;
 * takeover_ms, when set, with a beat a quarter of it and an append
 * deadline half of it (the edge wants takeover >= timeout + 2 beats); durability when
 * the drill says local. */
static void changelog_text(const cluster *c, const cluster_node *n, char *out, size_t cap)
{
	const drill *d = c->d;
	out[0] = '\0';
	if (!d->changelog)
		return;
	int k;
	if (d->regional_kafka)
		k = snprintf(out, cap, "[changelog]\nbootstrap_file = %s\npartition = 0\n",
		             c->regional[n->index].bootstrap);
	else
		k = snprintf(out, cap, "[changelog]\nbootstrap_file = %s\npartition = %d\n",
		             c->kafka.bootstrap, n->index);
	if (d->durability_local && k >= 0 && (size_t)k < cap)
		k += snprintf(out + k, cap - (size_t)k, "durability = local\n");
	if (d->standby && k >= 0 && (size_t)k < cap) {
		char inst[16];
		cluster_instance_name(n, inst, sizeof inst);
		const cluster_node *o = n->inst ? &c->edges[n->index] : &c->standbys[n->index];
		k += snprintf(
		    out + k, cap - (size_t)k,
		    "instance = %s\nseed_listen = 127.0.0.1:%d\nseed_from = 127.0.0.1:%d\n", inst,
		    n->seed_port, c->isolated ? CLUSTER_PEER_PORT : o->seed_port);
	}
	if (d->takeover_ms && k >= 0 && (size_t)k < cap)
		snprintf(out + k, cap - (size_t)k,
		         "takeover_ms = %u\nbeat_ms = %u\ntimeout_ms = %u\n", d->takeover_ms,
		         d->takeover_ms / 4, d->takeover_ms / 2);
}

int cluster_write_edge_cfg(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	const drill *d = c->d;
	char ops[512], st[64], cl[sizeof c->regional[0].bootstrap + 256];
	edge_ops(c, ops, sizeof ops);
	store_text(d, st, sizeof st);
	changelog_text(c, n, cl, sizeof cl);
	char text[4096];
	snprintf(text, sizeof text,
	         "; written by sim for drill %s\n"
	         "[edge]\nid = %s\nregion = r%d\ndata_dir = %s/%s\nlog_level = info\n"
	         "[http]\nlisten = 127.0.0.1:%d\nmax_conns_per_addr = 0\n"
	         "[identity]\ndev_header = true\n"
	         /* The load is many users from one address, and drills
	          * count every op: the limits have tests of their own. */
	         "[limits]\nuser_writes_per_min = 0\naddr_requests_per_s = 0\n"
	         "[batch]\nmax_age_ms = %u\n"
	         "[central]\nops = %s\ntoken = %s\n"
	         "[clock]\nskew_ms = %lld\n"
	         "[topics]\npartitions = %u\n"
	         "[bus]\nbootstrap_file = %s\n"
	         "%s%s%s"
	         "[kafka.consumer]\nfetch.wait.max.ms = %u\n",
	         d->name, n->id, n->index, c->dir, n->name,
	         c->isolated ? CLUSTER_EDGE_PORT : n->port, d->batch_age_ms, ops, CLUSTER_TOKEN,
	         (long long)d->skew_ms[n->inst ? 1 : 0][n->index], d->partitions,
	         c->kafka.bootstrap, st, cl, d->me > 0 ? "[home]\nfollow = true\n" : "",
	         d->fetch_wait_ms);
	return write_text(n->cfg, text, err, errlen);
}

/* Central's change feed (docs/events.md): the drill's milestones, or
 * both topics empty (off) with feed 0. The single instance of a sharded
 * drill's end checks gets the same: the milestone levels central keeps
 * are in its digest, so it must announce what the shards announce (in
 * a group of its own it may publish every partition: the feed check
 * waits until it holds nothing the topics lack). Topic names and the
 * other feed.*
 * keys stay central's defaults. */
static void feed_text(const cluster *c, char *out, size_t cap)
{
	const drill *d = c->d;
	if (!d->feed) {
		snprintf(out, cap, "changes =\nmilestones =\n");
		return;
	}
	int k = snprintf(out, cap, "[feed]\nmilestones = ");
	for (size_t i = 0; i < d->nmilestones && k >= 0 && (size_t)k < cap; i++)
		k += snprintf(out + k, cap - (size_t)k, "%s%" PRIu64, i ? "," : "",
		              d->milestones[i]);
	if (k >= 0 && (size_t)k < cap)
		snprintf(out + k, cap - (size_t)k, "\n");
}

/* With heart reads, the [feed] section naming every region's home stream
 * (likes.home.rN); "" otherwise. */
static void homes_text(const cluster *c, char *out, size_t cap)
{
	const drill *d = c->d;
	out[0] = '\0';
	if (!(d->me > 0))
		return;
	int k = snprintf(out, cap, "[feed]\nhome_regions = ");
	for (unsigned i = 0; i < d->regions && k >= 0 && (size_t)k < cap; i++)
		k += snprintf(out + k, cap - (size_t)k, "%sr%u", i ? "," : "", i);
	if (k >= 0 && (size_t)k < cap)
		snprintf(out + k, cap - (size_t)k, "\n");
}

/* parts: central.partitions ("all", "F-L"), NULL to leave it out. */
int cluster_write_central_cfg(cluster *c, cluster_node *n, const char *parts, char *err,
                              size_t errlen)
{
	const drill *d = c->d;
	char owned[64] = "", st[64], feed[512], homes[256];
	if (parts)
		snprintf(owned, sizeof owned, "partitions = %s\n", parts);
	store_text(d, st, sizeof st);
	feed_text(c, feed, sizeof feed);
	homes_text(c, homes, sizeof homes);
	/* Off is two lines of [topics]; on, a [feed] section of its own. */
	bool off = strncmp(feed, "[feed]", 6) != 0;
	char text[4096];
	snprintf(text, sizeof text,
	         "; written by sim for drill %s\n"
	         "[central]\nid = %s\ndata_dir = %s/%s\nlog_level = info\n%s"
	         "snapshot_interval_ms = %u\nops_listen = 127.0.0.1:%d\nops_token = %s\n"
	         "[topics]\npartitions = %u\n%s"
	         "[bus]\nbootstrap_file = %s\n"
	         "%s%s%s"
	         "[kafka.consumer]\nfetch.wait.max.ms = %u\n",
	         d->name, n->name, c->dir, n->name, owned, d->snapshot_ms,
	         c->isolated ? CLUSTER_OPS_PORT : n->port, CLUSTER_TOKEN, d->partitions,
	         off ? feed : "", c->kafka.bootstrap, st, off ? "" : feed, homes, d->fetch_wait_ms);
	return write_text(n->cfg, text, err, errlen);
}
