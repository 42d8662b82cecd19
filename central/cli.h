/* cli.h - central's operator commands, run instead of the daemon when
 * the first argument names one:
 *
 *   central verify -c FILE [--repair] [--offline]
 *   central stats  -c FILE [--offline]
 *   central get    -c FILE [--offline] ITEM [COUNTER]
 *   central export -c FILE [--offline] [--format csv|json]
 *   central backup -c FILE --to PATH     (live only: POST /v1/admin/backup)
 *   central prune  -c FILE --offline     (offline only: drops partitions
 *                                         central.partitions does not own)
 *   central tail changes|milestones -c FILE [--from-beginning]
 *                [--partition P] [--exit] [--count N]   (tail.h: reads the
 *                                         change feed from Kafka instead)
 *
 * They ask the running central's ops API (address and token from the
 * config); --offline opens its store directly, which works only while
 * central is stopped (LevelDB's lock). Exit codes: 0 ok, 1 mismatches
 * found (verify without --repair), 2 usage or config error, 3 central or
 * its store cannot be reached. docs/ops.md has examples. Main thread.
 */
#ifndef CENTRAL_CLI_H
#define CENTRAL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Does arg name a command? */
bool cli_is_command(const char *arg);
/* Runs the command argv[1] with central's option table (main.c);
 * returns the exit code. */
int cli_main(int argc, char **argv, const cfg_opt *opts, size_t nopts);

#endif
