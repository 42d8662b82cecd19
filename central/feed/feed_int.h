/* feed_int.h - the change feed publisher's state, shared by feed.c
 * (reading back, trimming, publishing) and feed_clients.c (its Kafka
 * clients and the group that names each partition's publisher). The run
 * loop's thread, but for the asker's atomics (feed.h). */
#ifndef CENTRAL_FEED_INT_H
#define CENTRAL_FEED_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "central/feed/feed.h"
#include "feedev.h"
#include "log.h"
#include "sbuf.h"

#define CHUNK_MAX 1000             /* messages of one partition in flight at a time */
#define UNREAD_MAX (4 * CHUNK_MAX) /* sent, not read back: no more is sent */
#define TAIL_READ (2 * CHUNK_MAX)  /* the reader starts this far before the end */
#define CATCHUP_MAX_MS 30000       /* a catch-up not done by then asks again */
#define READ_MAX 2000              /* messages read back per turn */
#define TRIM_EVERY_MS 100          /* how often published records are dropped */
#define RETRY_MS 1000              /* a watermark query that failed is tried again */
#define WATERMARK_MS 2000          /* the longest a watermark query may wait (asker thread) */
#define GRACE_EXTRA_MS 500         /* beyond timeout_ms, before a new publisher reads */
#define PURGE_MARGIN_MS 1000       /* purged this long before timeout_ms (at most half) */
#define READER_WAIT_MS "50"        /* the reader's fetch.wait.max.ms: read-back delay */

enum pstate {
	P_IDLE,    /* not this instance's to publish */
	P_WAIT,    /* given to it: waiting out a former publisher's messages */
	P_CATCHUP, /* reading the topics to the watermarks asked */
	P_LIVE,    /* publishing */
	P_STALLED, /* a message failed: waiting for the chunk's last report */
};

/* The ids sent and not yet read back, oldest first. */
typedef struct idq {
	feedev_id *v;
	size_t head, n, cap;
} idq;

/* A watermark query the asker thread runs for the loop. */
enum { ASK_NONE, ASK_ASKED, ASK_ANSWERED, ASK_FAILED };

typedef struct fpart {
	bool owned; /* central.partitions */
	enum pstate st;
	uint64_t wait_until;
	uint64_t catchup_until; /* P_CATCHUP: ask again after this */
	_Atomic int ask;        /* ASK_*: the loop asks, the asker answers */
	_Atomic int64_t asked_hw[FEEDREC_TOPICS];
	int64_t hw[FEEDREC_TOPICS];       /* P_CATCHUP: read to here */
	int64_t read_pos[FEEDREC_TOPICS]; /* the reader's next offset; -1 unknown */
	bool seen_any[FEEDREC_TOPICS];
	feedev_id seen[FEEDREC_TOPICS]; /* the highest id the topic holds */
	bool last_any[FEEDREC_TOPICS];
	feedev_id last[FEEDREC_TOPICS]; /* P_LIVE: the highest id held or sent */
	idq sent[FEEDREC_TOPICS];
	uint32_t inflight;
	uint64_t sent_ms; /* mono ms the chunk in flight was queued */
	bool failed;
	bool handed_back; /* revoked by a rebalance, not lost: nobody else had it since */
	/* The oldest message of each topic that failed since the partition
	 * last went live, and whether that is settled (the read-back found it
	 * after all, or counted it as a gap): if not, and the catch-up finds
	 * a later id in the topic, it is a gap. */
	bool fail_any[FEEDREC_TOPICS], fail_told[FEEDREC_TOPICS];
	feedev_id fail_min[FEEDREC_TOPICS];
	uint64_t kept;      /* records below this version are gone */
	uint64_t send_from; /* P_LIVE: no unsent event in a record below this version */
	uint64_t pending;   /* events in records not yet dropped */
	uint64_t oldest_ms; /* wall ms of the oldest record kept, 0 = none */
} fpart;

struct feed {
	feed_opts o;
	bool on[FEEDREC_TOPICS];
	int own_topic; /* the group's subscription */
	rd_kafka_t *prod, *reader, *group;
	rd_kafka_topic_t *rkt[FEEDREC_TOPICS];
	fpart *parts;
	uint64_t next_trim;
	metric *published[FEEDREC_TOPICS], *errors[FEEDREC_TOPICS];
	metric *gaps, *foreign, *pending, *lag, *publishing;
	log_limit read_errors, group_errors, epoch_errors, bad_events, renew_errors;
	sbuf json;       /* send_chunk's: the event it sends */
	bool renew;      /* a purge skipped sequence numbers: a new producer before sending */
	pthread_t asker; /* runs the watermark queries, which may wait */
	bool asking;
	_Atomic bool stop;
};

/* feed.c */
void feed_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
uint64_t feed_publishing_count(const feed *f);

/* feed_clients.c */
/* The producer and its topic handles (f->prod, f->rkt). 0 or ERR_KAFKA
 * with the reason in err. */
int feed_producer_start(feed *f, char *err, size_t errlen);
/* Destroys them, waiting at most wait_ms for what is in flight. */
void feed_producer_stop(feed *f, int wait_ms);
/* The producer, the reader (the owned partitions of every topic on,
 * from their tail) and the group's member. 0 or ERR_KAFKA. */
int feed_clients_start(feed *f, char *err, size_t errlen);
/* Serves the group's callbacks (rebalances) and errors. */
void feed_serve_group(feed *f);

#endif
