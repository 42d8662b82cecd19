/* relay.h - the network between sim's processes: TCP relays that sim
 * controls, standing in for links that can be cut, slowed and throttled.
 *
 * A path listens on 127.0.0.1:port inside one namespace and forwards each
 * connection to 127.0.0.1:port inside another (netns.h; NULL is sim's
 * own), so a daemon in its own namespace reaches Kafka, central or its
 * clients only through paths. Every path's faults apply to its open
 * connections and to new ones:
 *   - block a direction: bytes going that way are held (not dropped), as
 *     in a partition; with both directions blocked a new connection is
 *     accepted but nothing reaches the other side. Unblocking lets the
 *     held bytes through, in order, as TCP would after a heal.
 *   - delay and jitter: each chunk is released delay +- jitter ms after it
 *     arrived, never before an earlier chunk of the same direction.
 *   - rate: a byte budget per second for each direction of each
 *     connection (token bucket holding 1/10 s of budget).
 *   - reset: every open connection of the path is closed at once (RST
 *     to both ends).
 * Held bytes are bounded per connection and direction (RELAY_HOLD_MAX);
 * past it the relay stops reading that side, so TCP's own backpressure
 * holds the sender while the other direction keeps flowing.
 * A target that refuses the connection gets the accepted side closed
 * with an RST.
 *
 * One relay is one thread with its own event loop. relay_add and the
 * fault setters may be called from any thread; a setter is in force for
 * every byte the relay moves after it returns. The netns objects given
 * to relay_add must outlive the relay.
 */
#ifndef SIM_RELAY_H
#define SIM_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sim/drill/netns.h"

#define RELAY_HOLD_MAX (4u << 20)
#define RELAY_NAME_MAX 64

typedef struct relay relay;
typedef struct relay_path relay_path;

typedef enum relay_dir {
	RELAY_FORWARD = 1,  /* from the listening side to the target */
	RELAY_BACKWARD = 2, /* from the target back */
	RELAY_BOTH = 3,
} relay_dir;

typedef struct relay_stats {
	uint64_t accepted;      /* connections accepted */
	uint64_t bytes_forward; /* delivered to the target */
	uint64_t bytes_backward;
	uint64_t resets; /* connections closed by relay_reset */
	unsigned open;   /* connections open now */
} relay_stats;

/* Starts the relay's thread, named thread_name (at most 15 bytes, for
 * top -H and perf). NULL with the reason in err. */
relay *relay_new(const char *thread_name, char *err, size_t errlen);
/* Closes every path and connection and joins the thread. NULL is a no-op. */
void relay_free(relay *r);

/* A path named name (for logs and reports): listens on 127.0.0.1:port
 * inside from (port 0: any free port; the port is written to *bound when
 * bound is not NULL) and connects each accepted connection to
 * 127.0.0.1:to_port inside to. NULL with the reason in err. The path
 * lives until relay_free. */
relay_path *relay_add(relay *r, const char *name, const netns *from, int port, const netns *to,
                      int to_port, int *bound, char *err, size_t errlen);

const char *relay_path_name(const relay_path *p);

void relay_block(relay_path *p, relay_dir dir);
void relay_unblock(relay_path *p, relay_dir dir);
/* delay_ms 0 clears it; jitter_ms <= delay_ms. */
void relay_set_delay(relay_path *p, unsigned delay_ms, unsigned jitter_ms);
/* bytes_per_s 0 clears it. */
void relay_set_rate(relay_path *p, uint64_t bytes_per_s);
/* Returns once the connections are closed. */
void relay_reset(relay_path *p);
/* Clears every fault of p (unblock both ways, no delay, no rate). */
void relay_heal(relay_path *p);
void relay_get_stats(relay_path *p, relay_stats *out);

#endif
