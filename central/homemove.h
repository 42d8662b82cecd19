/* homemove.h - `central home-move`: a user's home region changes, and
 * their memberships follow (docs/ops.md, "central home-move").
 *
 *   central home-move -c FILE USER REGION [--since MS]
 *   central home-move -c FILE --users-from LIST REGION [--since MS]
 *
 * (LIST: a file of user ids, one a line, or - for standard input: many
 * users moved to one region by one producer, as an identity service
 * moving users in bulk would.)
 * Produces a move message (docs/wire.md, "Move") to every partition of
 * the batch topic (topics.batches) of central's config, and waits until
 * the brokers have acknowledged each one. Each partition's applier then
 * moves the user's memberships of its items to REGION's index and home
 * stream, and from then on indexes the user's changes under REGION
 * whatever their tokens say (apply_move.c). --since is the wall time of
 * the move in ms (default: now); a move no later than the user's last is
 * ignored by central, so running it twice is harmless. Exit codes: 0
 * every partition has it, 2 usage or config error, 3 Kafka did not take
 * it (some partitions may have it: run it again with the same --since).
 * The argument parsing is cli.c's. Main thread only.
 */
#ifndef CENTRAL_HOMEMOVE_H
#define CENTRAL_HOMEMOVE_H

#include <stdint.h>

#include "central/central.h"

#include <stddef.h>

/* Most users one run moves (--users-from). */
#define HOMEMOVE_USERS_MAX 100000

/* Produces the move of each of users[0..n) (valid user ids, 1 <= n <=
 * HOMEMOVE_USERS_MAX) to home (a region name) at since_ms (above 0) to
 * every partition of cfg's batch topic, and waits for the brokers;
 * prints "moved: ..." on stdout, or why not on stderr. Returns the exit
 * code (cli.c's). */
int homemove_run(const central_config *cfg, const char *const *users, size_t n, const char *home,
                 uint64_t since_ms);

#endif
