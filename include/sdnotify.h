/* sdnotify.h - the systemd notification protocol, without libsystemd.
 *
 * A service of Type=notify tells its manager how it is doing with short
 * datagrams ("READY=1", "STOPPING=1", "STATUS=...", "WATCHDOG=1") sent
 * to the AF_UNIX socket named by $NOTIFY_SOCKET: a path, or an abstract
 * name written with a leading '@'. Without $NOTIFY_SOCKET every call is
 * a no-op that succeeds, so the daemons call these unconditionally.
 *
 * The watchdog: with WatchdogSec= set, systemd puts WATCHDOG_USEC (and
 * WATCHDOG_PID) in the environment and restarts the service when no
 * WATCHDOG=1 arrives within that time. sdnotify_watchdog_ms says how
 * often to send one (half of it); the daemons send it from their main
 * loop tick, so a stuck loop stops sending.
 *
 * Any thread: each call reads the environment and uses a socket of its
 * own.
 */
#ifndef LIKES_SDNOTIFY_H
#define LIKES_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Sends state (one or more "KEY=value" lines) as one datagram. 0 when
 * sent or when $NOTIFY_SOCKET is unset; ERR_INVAL for a socket name that
 * does not fit a sockaddr_un; ERR_IO when sending failed. */
int sdnotify_send(const char *state) WARN_UNUSED;
/* As sdnotify_send("STATUS=" + the formatted text). */
int sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2))) WARN_UNUSED;
/* How often to send WATCHDOG=1, in ms: half of $WATCHDOG_USEC, at least
 * 1; 0 when there is no watchdog (unset, unparsable, zero, or
 * $WATCHDOG_PID naming another process). */
uint64_t sdnotify_watchdog_ms(void);

/* A keepalive schedule for one loop. */
typedef struct sdnotify_watchdog {
	uint64_t interval_ms; /* 0: no watchdog */
	uint64_t next_ms;     /* monotonic ms of the next WATCHDOG=1 */
} sdnotify_watchdog;

/* Reads the interval from the environment. */
void sdnotify_watchdog_init(sdnotify_watchdog *w);
/* Sends WATCHDOG=1 when it is due at monotonic time now_ms; call it from
 * the loop's tick only while the loop is healthy. True when one was
 * sent. */
bool sdnotify_watchdog_tick(sdnotify_watchdog *w, uint64_t now_ms);

#endif
