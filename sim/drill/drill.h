/* drill.h - drill files: what to run, and when to break what.
 *
 * A drill is a plain text file (sim/drills/NAME.drill), one statement per
 * line, '#' starts a comment. Settings (any order, each at most once):
 *   name NAME                       (default: the file's base name)
 *   regions N                       edges, 1..8 (default 3)
 *   centrals N                      central instances, 1..4 (default 1)
 *   partitions N                    (default 8)
 *   shards N                        split the partitions into N equal
 *                                   contiguous ranges, 1..centrals and
 *                                   at most partitions; central i owns
 *                                   shard i % N (so with shards 2 and
 *                                   centrals 3, central0 and central2
 *                                   are shard 0's primary and replica,
 *                                   central1 is shard 1) and edges get a
 *                                   shard map listing each shard's
 *                                   centrals, lowest index first. The
 *                                   end checks then also start one more
 *                                   central owning every partition on the
 *                                   same input and compare it with the
 *                                   shards. Without shards every central
 *                                   owns every partition and edges ask
 *                                   central0 only.
 *   duration FULL_S [short SHORT_S] load time, required; the short run
 *                                   scales every step time by SHORT_S /
 *                                   FULL_S (no short: SHORT_S = FULL_S)
 *   rate OPS [short OPS]            ops/s at the start (default 300, 150;
 *                                   no short: half of OPS)
 *   users N / items N / zipf S      (default 2000 / 2000 / 1.1)
 *   viral SHARE / unlike SHARE / sum SHARE / roam SHARE / reads SHARE
 *                                   (default 0.2 / 0.2 / 0.2 / 0.05 / 0.1)
 *   undo SHARE                      of the likes the load would make, the
 *                                   share that unlikes the user's newest
 *                                   like instead, while it stands (a like
 *                                   and its unlike close together, each
 *                                   through its own region; default 0)
 *   me SHARE                        heart reads: a user's feed page of
 *                                   20-50 posts (GET /v1/me), each answer
 *                                   held to the truth (a wrong heart is a
 *                                   violation; sim/drill/load.h); on, the
 *                                   users have home regions and central
 *                                   sends each region its users' likes
 *                                   made elsewhere (default 0, off)
 *   snapshot_ms N / batch_age_ms N  central's snapshot interval, the edges'
 *                                   seal age (default 500 / 500)
 *   skew edgeN MS                   that edge's wall clock runs MS ahead
 *                                   (negative: behind): with standby 1,
 *                                   both instances' (rN-a and rN-b)
 *   skew edgeN.standby MS           rN-b's alone, the instance sim starts
 *                                   as the standby (either may take the
 *                                   log over first: a race); skew edgeN
 *                                   then sets rN-a's alone. Each keeps
 *                                   its clock through takeovers and
 *                                   restarts
 *   converge_s N                    bound on convergence after the end
 *                                   (default 60)
 *   store_cache_mb N                every daemon's LevelDB block cache
 *                                   (store.cache_mb, 1..65536; default 0:
 *                                   the daemons' own default)
 *   procs_every S                   sample every daemon's RSS and open
 *                                   descriptors every S seconds (1..3600;
 *                                   default 0, off) and judge at the end
 *                                   whether they stay flat and under the
 *                                   bound from its config (sim/drill/soak.h)
 *   latency_every S                 cut the run into intervals of S
 *                                   seconds (1..3600; default 0, off)
 *                                   and report each edge's client-side
 *                                   and own p99 per interval (ready ops,
 *                                   as the ready figures count them)
 *   fetch_wait_ms N                 the daemons' [kafka.consumer]
 *                                   fetch.wait.max.ms (1..5000; default
 *                                   10; the changelog follower and the
 *                                   feed's reader set their own): the
 *                                   embedded Kafka holds a fetch
 *                                   that finds nothing this long and
 *                                   answers it then, even if a message
 *                                   arrives meanwhile, so it bounds how
 *                                   late a daemon reads what is produced;
 *                                   each idle consumer fetches 1000/N
 *                                   times a second per broker, every one
 *                                   a wake-up of the broker's and the
 *                                   client's threads; on real Kafka,
 *                                   which answers a waiting fetch when
 *                                   data comes, the default is 500
 *   broker_idle 0|1                 the embedded Kafka's thread runs
 *                                   under SCHED_IDLE (default 1), as
 *                                   brokers on machines of their own:
 *                                   the daemons never wait for its CPU
 *                                   (sim/broker/broker.h); 0 for a run
 *                                   that shares the CPU with it evenly
 *   netns 0|1                       every daemon in a network namespace
 *                                   of its own, reached through sim's
 *                                   relays (default 1); 0 runs them all
 *                                   on sim's loopback with no relay in
 *                                   any path, for a run that faults no
 *                                   path and measures the daemons, not
 *                                   the relays (a path step is an error)
 *   client_relay 0|1                with netns 1, the load's clients
 *                                   reach each edge through sim's
 *                                   clients relay (default 1); 0 makes
 *                                   their sockets inside the edge's
 *                                   namespace, connected straight to it,
 *                                   as clients beside their edge: no
 *                                   relay thread's two wake-ups in a
 *                                   request's time (a step on the
 *                                   clients' path is an error). The
 *                                   daemons' other paths keep theirs
 *   changelog 0|1                   every edge copies its writes to the
 *                                   topic likes.changelog (on its
 *                                   region's own Kafka with
 *                                   regional_kafka 1, else on the
 *                                   embedded Kafka, a partition per
 *                                   edge) before it answers, and a wiped edge
 *                                   gets them back from there at its
 *                                   next start (default: 1 in a full
 *                                   run, 0 in a short one)
 *   standby 0|1                     needs changelog 1: each region runs
 *                                   two instances of its edge under one
 *                                   id and changelog partition, edgeN
 *                                   and edgeN.standby, each with a store
 *                                   and a port of its own; the one that
 *                                   takes the changelog over is active,
 *                                   the other follows it (default: as
 *                                   changelog in a full run, 0 in a
 *                                   short one)
 *   regional_kafka 0|1              needs changelog 1: each region has a
 *                                   Kafka cluster of its own (a `sim
 *                                   broker` process, 3 brokers, topic
 *                                   likes.changelog with 1 partition on
 *                                   every broker, leaders moving off a
 *                                   broker that goes down), and the
 *                                   region's instances keep their
 *                                   changelog there (partition 0)
 *                                   instead of on the embedded Kafka
 *                                   (default: as changelog in a full
 *                                   run, 0 in a short one: a full run
 *                                   deploys each region as production
 *                                   does, active, standby and its own
 *                                   Kafka, and a short run in `make
 *                                   test` stays light unless the drill
 *                                   says otherwise); its brokers run at the
 *                                   daemons' priority whatever
 *                                   broker_idle says (a write waits for
 *                                   them)
 *   kafka embedded|real             which Kafka every cluster of the run
 *                                   is (default embedded: `sim broker`,
 *                                   librdkafka's mock cluster); real:
 *                                   Apache Kafka nodes (`sim kafka`,
 *                                   sim/kafka/kafka.h), each a JVM,
 *                                   central's cluster of kafka_nodes and
 *                                   each region's own (regional_kafka)
 *                                   of three, one per zone, with the
 *                                   topics' deployed configs (replication
 *                                   factor 3, min.insync.replicas 2).
 *                                   `sim drill --kafka` overrides it
 *   kafka_nodes N                   nodes of central's cluster with kafka
 *                                   real, 1..5 (default 1, replication
 *                                   factor 1: two cores hold no more
 *                                   JVMs beside the regions' own; 3 as
 *                                   deployed, for a drill of central's
 *                                   Kafka)
 *   regional_nodes [edgeK] N        nodes of every region's own cluster
 *                                   (or region K's) with kafka real,
 *                                   1..3 (default 3, as deployed: one
 *                                   per zone, replication factor 3,
 *                                   min.insync.replicas 2; 1 gives
 *                                   replication factor 1, for a region
 *                                   the drill does not fault, on a
 *                                   machine too small for nine nodes);
 *                                   the embedded clusters keep three
 *   regional_kafka_netns 0|1        with kafka real and regional_kafka
 *                                   1: each node of a region's cluster
 *                                   runs in a network namespace of its
 *                                   own, linked to the other nodes and
 *                                   to sim by relays (brokerns.h), so
 *                                   that a step can cut it from them
 *                                   (default 0; a cut between nodes
 *                                   turns it on)
 *   kafka_full_jit 0|1              with kafka real: every node runs
 *                                   with the JVM's optimising compiler
 *                                   (sim kafka --full-jit; default 0,
 *                                   the quick one: half the start-up).
 *                                   Once warm a node takes about a
 *                                   third less of a core per append,
 *                                   which pays in a run of many
 *                                   minutes on two cores (the soak)
 *   client_conns N                  the load's keep-alive connections
 *                                   to each edge instance, 1..64
 *                                   (default 8). Each carries one
 *                                   request at a time (HTTP/1.1) and
 *                                   the rest wait in the client, their
 *                                   wait in their latency and timeout:
 *                                   against slow writes (a changelog on
 *                                   real Kafka sharing two cores) 8
 *                                   measure the client's queue more
 *                                   than the edge
 *   durability replicated|local     needs changelog 1: every edge's
 *                                   changelog.durability (default: the
 *                                   edge's own, replicated)
 *   takeover_ms N                   needs changelog 1: every edge's
 *                                   changelog.takeover_ms (50..60000),
 *                                   its beat_ms a quarter of it
 *                                   (default 0: the edge's own defaults)
 *   feed 0|1                        central publishes the change feed
 *                                   (likes.changes, likes.milestones;
 *                                   docs/events.md) and the end checks
 *                                   replay it against the truth
 *                                   (default 1; 0: central's topics.changes
 *                                   and topics.milestones empty, the
 *                                   replay check reported as off)
 *   snapshot_check 0|1              every snapshot central published on
 *                                   likes.snapshots is held at the end
 *                                   to a reference merge of
 *                                   likes.batches at its version
 *                                   (check.h, check_snapshots; default
 *                                   1; 0 only for a drill whose
 *                                   snapshots cannot be judged, with
 *                                   the reason in its file)
 *   milestones T1,T2,...            needs feed 1: central's feed.milestones,
 *                                   ascending, at most 16 (default
 *                                   10,50,100,500,1000: low enough for a
 *                                   short run's counts to reach some)
 *   seed N                          (default 1)
 *   expect KEY MAX                  the run fails (a violation) unless the
 *                                   figure KEY is at most MAX; each KEY
 *                                   at most once (drill_expect_key):
 *     ready_write_p99_ms, ready_write_p999_ms, ready_read_p99_ms
 *         ack / count-read latency of the clients of every edge while
 *         that edge is ready (its /readyz answers 200), in each rate
 *         phase (from the start and from each load_rate step) and over
 *         the run; an edge never ready with clients is a violation too;
 *         held in the full run only (the short run is part of `make
 *         test`, where timing is no target), reported in both
 *     ready_me_p99_ms     the same for heart reads (me) of users at home
 *     ready_me_readthroughs  memberships of users at home there that
 *                         every edge asked of central after it was first
 *                         ready (its metrics)
 *     ready_read_errors   failed reads at every edge while it was ready
 *     ready_readthroughs  count read-throughs to central of every edge
 *                         after it was first ready (its metrics)
 *     read_errors         failed reads over the whole run, every edge
 *     interval_p99_ms     with latency_every: the clients' write and
 *                         read p99 at every edge in every complete
 *                         interval after the first two
 *     interval_edge_p99_ms  the same for the edge's own p99 (the bound
 *                         of its histogram bucket)
 *     interval_drift      a share: the clients' write and read p99 at
 *                         every edge over the last five complete
 *                         intervals may be at most (1 + MAX) times that
 *                         over the five after the first two
 *     (the interval keys are latency keys: held in the full run only)
 *     takeover_max_s      needs standby 1: after each kill, wipe or stop
 *                         of a region's active instance, its other
 *                         instance acknowledges a write within MAX
 *                         seconds of the step (none at all is a miss
 *                         too); held in both runs
 *     active_changes      needs standby 1: how often, over the run, a
 *                         region's write was acknowledged by another
 *                         instance than the region's last one, whatever
 *                         caused it (a loss the drill made, or a
 *                         takeover none asked for)
 *     not_replicated      needs standby 1: writes the load was answered
 *                         503 not_replicated over the run
 * Steps: "at T ACTION ARGS...", T in seconds from the start of the load
 * (of the full run), in any order (they are sorted):
 *   cut NODE LINK [forward|backward|both]  block a path (default both)
 *   heal NODE LINK                          clear every fault of the path
 *   delay NODE LINK MS [JITTER_MS]          add latency
 *   throttle NODE LINK BYTES_PER_S          limit bandwidth
 *   reset NODE LINK                         close the path's connections
 *   kill NODE / start NODE                  SIGKILL / start again
 *   wipe edgeN                              SIGKILL if running, then
 *                                           delete its data dir (the
 *                                           store): the next start is
 *                                           an empty edge (not centrals)
 *   stop NODE / cont NODE                   SIGSTOP / SIGCONT (a pause and a
 *                                           resume)
 *   broker_down ID|all / broker_up ID|all   a broker of central's cluster
 *                                           down / up (the embedded
 *                                           cluster's refuses connections;
 *                                           a real node is killed with
 *                                           SIGKILL / started again)
 *   broker_rtt ID|all MS                    (embedded only)
 *   broker_errors COUNT                     that many produce requests fail
 *                                           (embedded only)
 *   broker_pause ID|all / broker_resume ID|all  SIGSTOP / SIGCONT of real
 *                                           nodes (kafka real)
 *   broker_restart ID|all                   a clean stop and start
 *                                           (kafka real)
 *   broker_wipe ID                          killed, its log directory
 *                                           formatted anew (a new disk),
 *                                           started (kafka real)
 *   regional_broker_down edgeN ID           one broker (1..3) of region N's
 *   regional_broker_up edgeN ID             own Kafka down / up; the
 *                                           partitions it led move to
 *                                           another broker (needs
 *                                           regional_kafka 1)
 *   regional_broker_pause, _resume, _restart, _wipe edgeN ID
 *                                           as broker_* on region N's
 *                                           own Kafka (kafka real)
 *   A broker ID may be "leader" in the steps that take a broker away
 *   (down, pause, restart, wipe) on real Kafka: the node leading, when
 *   the step runs, partition 0 of likes.batches (central's cluster) or
 *   the region's changelog partition. up and resume take "all" (the
 *   nodes that are down or paused) or an id.
 *   cut kafkaR.A kafkaR.B [forward|backward|both]
 *                                           the links between two nodes
 *                                           of region R's own cluster
 *                                           (kafka real, each node in a
 *                                           namespace of its own): A is
 *                                           nodeN or leader (the node
 *                                           leading the region's
 *                                           changelog partition when the
 *                                           step runs), B nodeN or
 *                                           others (every node but A);
 *                                           forward holds what A sends
 *                                           B, backward what B sends A
 *   heal kafkaR.A kafkaR.B                  clears them, both ways;
 *                                           leader is the node the
 *                                           region's last cut found
 *   regional_down edgeN / regional_up edgeN every broker of region N's own
 *                                           Kafka down / up
 *   region_down edgeN / region_up edgeN     users stop starting ops there
 *                                           (they move to other regions)
 *   disk_full edgeN / disk_free edgeN       fill that edge's data dir (a
 *                                           small tmpfs of its own) to the
 *                                           last byte / free it again
 *   trim edgeN                              region N's changelog loses
 *                                           every record written before
 *                                           now, as a log past its
 *                                           retention does (void records
 *                                           produced until its start has
 *                                           passed: sim/drill/trim.h);
 *                                           needs changelog 1
 *   move edgeN USERS                        USERS users who live in other
 *                                           regions (the lowest ids) move
 *                                           home to region N: sim runs
 *                                           one `central home-move
 *                                           --users-from` for them
 *                                           (since: now), then their ops
 *                                           name the new home and the
 *                                           move's time, as tokens issued
 *                                           after it would; needs me > 0
 *   clock NODE jump OFFSET / clock NODE reset
 *                                           the node's wall clock (an
 *                                           edge's or a central's) steps
 *                                           to OFFSET from the host's
 *                                           ("+600s", "-90s", "-1500ms";
 *                                           at most 10 minutes either
 *                                           way), as an NTP step would,
 *                                           while it runs; its monotonic
 *                                           clock does not move; reset
 *                                           steps it back to the host's.
 *                                           The offset adds to its skew
 *                                           and holds through restarts.
 *                                           Every edge and central of a
 *                                           drill with a clock step runs
 *                                           under libfaketime
 *   load_rate OPS / viral SHARE             change the load (the short
 *                                           run scales OPS by its rate
 *                                           over the full rate)
 * NODE is edgeN or centralN (0-based); LINK is kafka, central (an
 * edge's read-through path; with shards, its paths to every central),
 * clients (the users' or checker's path) or regional (an edge's paths to
 * its region's own Kafka, with regional_kafka 1).
 * "forward" is from the node outwards.
 * With standby 1, edgeN in a step is the region's instance that is
 * active when the step runs (kill, wipe, stop, cut, reset, disk_full,
 * clock jump; clock reset steps back every instance a jump of the same
 * name moved),
 * the one that is down (start), the one stopped (cont), or every one
 * (heal; delay and throttle, which place the region rather than break a
 * machine; disk_free, as each instance has a disk of its own);
 * edgeN.standby names its current standby instead (not in region_down,
 * region_up, disk_full, disk_free, trim, nor the regional_* steps, which
 * act on the region's cluster or its log).
 * Pure: parsing only. Any thread.
 */
#ifndef SIM_DRILL_H
#define SIM_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sim/drill/drill_types.h"

/* True for the actions that fault a path (cut, heal, delay, throttle,
 * reset): they need sim's relays, so network namespaces. */
bool drill_action_on_path(drill_action a);
/* True for the actions on a region's own Kafka (regional_*). */
bool drill_action_regional(drill_action a);
/* True for the actions only a real node takes (pause, resume, restart,
 * wipe of a broker). */
bool drill_action_real_only(drill_action a);
/* The action's word in drill files ("broker_down"). */
const char *drill_action_word(drill_action a);

/* Parses path into d. ERR_CONFIG with "path:line: reason" in err for
 * anything malformed or out of range (a node index past regions or
 * centrals, a step after the duration, ...). */
int drill_parse_file(const char *path, drill *d, char *err, size_t errlen) WARN_UNUSED;
/* The same from text in memory; name is used for messages. */
int drill_parse(const char *name, const char *text, drill *d, char *err, size_t errlen) WARN_UNUSED;
void drill_free(drill *d);
/* The descriptors the drill's load keeps open in sim: a socket per
 * keep-alive connection (client_conns to each instance of each region),
 * and with the clients' relay in namespaces (isolated) its two ends as
 * well. */
uint64_t drill_load_fds(const drill *d, bool isolated);
/* Does a step of d move a node's clock (clock jump or reset)? Then the
 * daemons run under libfaketime. */
bool drill_moves_clocks(const drill *d);
/* When step s runs, in seconds from the start of the load. */
double drill_step_time(const drill *d, const drill_step *s, bool short_run);
double drill_duration(const drill *d, bool short_run);
/* Settles the region shape for a full or a short run: in a full run each
 * of changelog, standby and regional_kafka the drill did not set is 1
 * (standby and regional_kafka only with the changelog on), as a region
 * is deployed; in a short run they stay 0. On real Kafka a fetch_wait_ms
 * the drill did not set is DRILL_REAL_FETCH_WAIT_MS. Once, before the
 * run, after drill_set_kafka. */
void drill_shape(drill *d, bool short_run);
/* Runs the drill on real Kafka (real) or the embedded cluster, whatever
 * its file says (`sim drill --kafka`). ERR_CONFIG with the first step
 * that cannot run there in err (a pause of a broker on the embedded
 * cluster, a broker_rtt on real Kafka). Once, before the run. */
int drill_set_kafka(drill *d, bool real, char *err, size_t errlen) WARN_UNUSED;
/* Makes the full run last duration_s instead (`sim drill --duration`):
 * every step keeps its place in the run, scaled by the new duration over
 * the old. The short run is left as it was. */
void drill_set_duration(drill *d, double duration_s);
/* The ops/s of a load_rate step s: s->x, times short_rate / rate in the
 * short run (s->x unchanged when rate is 0). */
double drill_step_rate(const drill *d, const drill_step *s, bool short_run);

/* The word of an expect key in drill files ("ready_write_p99_ms"); "?"
 * for a value that is not one. */
const char *drill_expect_name(drill_expect_key key);
/* The expectation on key, or NULL when the drill has none. */
const drill_expect *drill_expect_of(const drill *d, drill_expect_key key);

/* Shards: how many (1 when not sharded), which one central j serves, the
 * partitions [*first, *last] of shard s (every partition when not
 * sharded), and the shard that owns partition p. */
unsigned drill_shard_count(const drill *d);
unsigned drill_shard_of_central(const drill *d, unsigned j);
void drill_shard_range(const drill *d, unsigned s, unsigned *first, unsigned *last);
unsigned drill_shard_of_partition(const drill *d, unsigned p);

#endif
