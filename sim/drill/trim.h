/* trim.h - a changelog partition made to lose its start on demand, as a
 * log past its retention does: the drill step `trim edgeN` (drill.h).
 *
 * A Kafka partition drops its oldest message sets once it holds more
 * than its retention; librdkafka's mock cluster, which every drill's
 * Kafka is, once it holds more than about 5 MiB (or 100,000 message
 * sets). trim_partition produces void records into the partition until
 * its low watermark has reached the high watermark it had when the call
 * began: every record written before the call is gone, and an instance
 * whose store lies before that finds its position before the log's
 * start (changelog.h, "missing"; seed.h).
 *
 * The record (trim_record) is a changelog data record (the edge's
 * edge/changelog/changelog.h, version 2) of epoch 0 with one put of
 * TRIM_KEY to a TRIM_VALUE_BYTES value, keyed by the edge id as the
 * edge's own records are. Replay skips a data record of an epoch below
 * the highest taken over, so it is void once any instance has taken the
 * log over (epoch 1 and up), as one has once the region answers writes.
 * sim links no edge code, so the bytes are built here; test_trim
 * decodes them with the edge's own changelog_decode. Produced
 * uncompressed, so each record costs the partition its full size.
 *
 * One record at a time: each is produced after the previous one's
 * delivery report and TRIM_PAUSE_MS later. The active instance reads
 * every record that lies between two of its own appends (its order
 * check); should the broker drop one of them first, the active can never
 * check its order again and exits (changelog.h, changelog_unchecked). Spaced out, each record stays
 * in the log for many of the active's appends and beats: with the mock's twenty or so records,
 * about 2 s at 100 ms, where 20 ms (0.4 s) once fell short of a loaded CI machine's late beats.
 *
 * A producer of its own for the call's length. Runner thread; blocks
 * (at most time_max_ms and one delivery's TRIM_DELIVERY_MS).
 */
#ifndef SIM_DRILL_TRIM_H
#define SIM_DRILL_TRIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sbuf.h"

#define TRIM_KEY "~trim"
#define TRIM_VALUE_BYTES (256u << 10)
#define TRIM_PAUSE_MS 100
#define TRIM_RECORDS_MAX 64 /* the mock's 5 MiB take about 20 */
#define TRIM_TIME_MAX_MS 30000
#define TRIM_DELIVERY_MS 10000 /* one record's delivery report, at most */

typedef struct trim_opts {
	const char *bootstraps; /* the cluster: "host:port,..." */
	const char *topic;
	int32_t partition;
	const char *edge_id;  /* every record's message key */
	unsigned records_max; /* 0: TRIM_RECORDS_MAX */
	unsigned time_max_ms; /* 0: TRIM_TIME_MAX_MS */
	/* Between two records; 0: TRIM_PAUSE_MS. On a real cluster, whose
	 * retention drops whole segments at once, longer than the active's
	 * beat, so that it reads each record before it goes. */
	unsigned pause_ms;
} trim_opts;

typedef struct trim_result {
	int64_t lo0, hi0; /* the partition's watermarks when the call began */
	int64_t lo, hi;   /* after the last record (lo0, hi0 before any) */
	unsigned records; /* produced and delivered */
	uint64_t ms;      /* the call's length */
} trim_result;

/* The void record (above), appended to out. Pure. */
void trim_record(sbuf *out);

/* Produces void records to o's partition, keyed o->edge_id, one at a
 * time, until its low watermark is at or past the high watermark it had
 * at the start; r says what it did, also on failure. 0 when the start
 * is gone; ERR_TIMEOUT when records_max records or time_max_ms went by
 * first (the log kept part of its start); ERR_INVAL for opts without a
 * cluster, topic or key; ERR_KAFKA when the producer, a watermark or a
 * delivery failed. The reason is in err. */
int trim_partition(const trim_opts *o, trim_result *r, char *err, size_t errlen) WARN_UNUSED;

#endif
