/* elections.h - the leader changes a KRaft cluster wrote down: read
 * from its metadata log as Kafka's own DumpLogSegments prints it
 * (--cluster-metadata-decoder: one "| offset: N CreateTime: MS ...
 * payload: {JSON}" line a record). A leader that moves, to another node
 * or to none, is a PARTITION_CHANGE_RECORD with a "leader" field; the
 * leader a partition starts with is its PARTITION_RECORD's. Kafka 4
 * logs a clean election only at TRACE, so this log is where every one of
 * them, clean or not, planned (a preferred leader taking its partition
 * back) or not, can be counted.
 *
 * Pure: parsing, no I/O but reading the stream it is given. Any thread.
 */
#ifndef SIM_KAFKA_ELECTIONS_H
#define SIM_KAFKA_ELECTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/kafka/topics.h"

#define KELECT_NONE (-1) /* no leader */

typedef struct kelection {
	char topic[KTOPIC_NAME_MAX + 1];
	int partition;
	int from;      /* the leader before it, KELECT_NONE when none */
	int to;        /* the new one, KELECT_NONE when none is left */
	int64_t at_ms; /* the record's CreateTime: ms since the epoch */
} kelection;

/* Reads a DumpLogSegments text from f and stores the leader changes it
 * records, in log order, in out[0..cap). Lines that are not records
 * (batch headers, the tool's own messages) are skipped. Returns how
 * many changes there were, which may be more than cap. */
size_t kelections_read(FILE *f, kelection *out, size_t cap);

#endif
