/* cluster_int.h - what cluster.c (processes, paths, set-up) and
 * cluster_cfg.c (the daemons' config files) share. Private to
 * sim/drill/. One thread drives a cluster (cluster.h).
 */
#ifndef SIM_DRILL_CLUSTER_INT_H
#define SIM_DRILL_CLUSTER_INT_H

#include <stddef.h>

#include "sim/drill/cluster.h"

/* Shard s's partitions as a list for central.partitions and the shard
 * map: "F-L", or "F" for one partition. */
void cluster_shard_text(const drill *d, unsigned s, char *out, size_t cap);
/* The changelog instance name of a region's instance: "r1-a", "r1-b". */
void cluster_instance_name(const cluster_node *n, char *out, size_t cap);
/* Writes n's config file (n->cfg): an edge's, from the drill and the
 * cluster's paths; a central's, owning the partitions of parts ("all",
 * or a list for central.partitions). 0, or ERR_IO with why in err. */
int cluster_write_edge_cfg(cluster *c, cluster_node *n, char *err, size_t errlen);
int cluster_write_central_cfg(cluster *c, cluster_node *n, const char *parts, char *err,
                              size_t errlen);

#endif
