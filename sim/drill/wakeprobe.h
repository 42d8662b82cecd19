/* wakeprobe.h - how fast this machine wakes a sleeping thread: the part
 * of every client's and daemon's latency that no request path owns.
 *
 * A thread of its own sleeps to an absolute deadline every period_us and
 * records how late it woke (a timer's wake-up); then it sends a byte
 * over a local socket to an echo thread that sleeps in read() and waits
 * in read() for it to come back, and records that round trip (two
 * wake-ups by a socket, as a request and its answer have, with no work
 * between). It does nothing else, so both are the kernel's and the
 * host's (a busy or sleeping vCPU, an interrupt late, timer slack), and
 * beside the load's own loop lag (load_take_lag) they split a slow
 * client figure into what the machine did and what the load and the
 * edges did.
 *
 * Thread-safe: the probe's threads add, any one other thread takes.
 */
#ifndef SIM_WAKEPROBE_H
#define SIM_WAKEPROBE_H

#include "sim/drill/hist.h"

typedef struct wakeprobe wakeprobe;

/* Starts the threads; NULL (logged) when it cannot. */
wakeprobe *wakeprobe_start(unsigned period_us);
/* Since the last call, into *late and *echo (either may be NULL): how
 * late each timer wake-up was and each echo's round trip (us). */
void wakeprobe_take(wakeprobe *p, hist *late, hist *echo);
/* Stops and joins the threads (within a period), then frees. NULL: no-op. */
void wakeprobe_stop(wakeprobe *p);

#endif
