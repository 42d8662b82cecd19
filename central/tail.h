/* tail.h - `central tail changes|milestones`: the change feed's events
 * (docs/events.md) as JSON lines on stdout, for jq and scripts.
 *
 *   central tail changes|milestones -c FILE [--from-beginning]
 *                [--partition P] [--exit] [--count N]
 *
 * It reads the topic that topics.changes or topics.milestones names from
 * the brokers of central's config (bus.bootstrap_file, [kafka],
 * [kafka.consumer]), with partitions it assigns itself: it joins no
 * consumer group and commits nothing, so it moves no one's position.
 * Each message's value is printed unchanged on a line of its own; a
 * value feedev_decode refuses is named on stderr (partition, offset,
 * reason) and skipped. Exit codes: 0 ok, 1 some values were skipped,
 * 2 usage or config error, 3 Kafka or the topic cannot be read.
 * Main thread only.
 */
#ifndef CENTRAL_TAIL_H
#define CENTRAL_TAIL_H

#include <stddef.h>

#include "config.h"

/* Runs `central tail` (argv[1] is "tail") with central's option table
 * (main.c); returns the exit code. SIGINT and SIGTERM end it cleanly
 * (handlers installed here). */
int tail_main(int argc, char **argv, const cfg_opt *opts, size_t nopts);

#endif
