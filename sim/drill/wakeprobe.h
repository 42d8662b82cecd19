/* wakeprobe.h - how late this machine wakes a sleeping thread: the part
 * of every client's and daemon's latency that no request path owns.
 *
 * A thread of its own sleeps to an absolute deadline every period_us and
 * records how late it woke, in a histogram the caller takes, cleared, at
 * each interval's end. It does nothing else, so its lateness is the
 * scheduler's and the host's (a vCPU not running, a busy core, timer
 * slack), and beside the load's own loop lag (load_take_lag) it splits a
 * slow client figure into what the machine did and what the load did.
 *
 * Thread-safe: the probe's thread adds, any one other thread takes.
 */
#ifndef SIM_WAKEPROBE_H
#define SIM_WAKEPROBE_H

#include "sim/drill/hist.h"

typedef struct wakeprobe wakeprobe;

/* Starts the thread; NULL (logged) when it cannot. */
wakeprobe *wakeprobe_start(unsigned period_us);
/* The lateness (us) of every wake-up since the last call, into *out. */
void wakeprobe_take(wakeprobe *p, hist *out);
/* Stops and joins the thread (within a period), then frees. NULL: no-op. */
void wakeprobe_stop(wakeprobe *p);

#endif
