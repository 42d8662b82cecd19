/* ticker.h - a thread that calls one function every period, on a
 * monotonic schedule: a turn that runs late is followed by the next one
 * at once, not by a burst to catch up. The edge's upstream thread.
 *
 * ticker_start and ticker_stop from one owner thread; ticker_beat_ms
 * from any thread (the watchdog: when the last turn began).
 */
#ifndef LIKES_TICKER_H
#define LIKES_TICKER_H

#include <stdint.h>

typedef struct ticker ticker;

/* Starts a thread named name (at most 15 characters) calling turn(ctx)
 * every period_ms; NULL when the thread cannot be made. */
ticker *ticker_start(const char *name, unsigned period_ms, void (*turn)(void *ctx), void *ctx);
/* Monotonic ms when the current or last turn began. */
uint64_t ticker_beat_ms(const ticker *t);
/* Lets the turn under way end, joins the thread and frees t (NULL: no-op). */
void ticker_stop(ticker *t);

#endif
