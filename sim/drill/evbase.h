/* evbase.h - an event base for sim's own loops whose timers keep a
 * precise clock. libevent's default on Linux is CLOCK_MONOTONIC_COARSE,
 * a tick of 4 ms on this project's machine: it turned the relays' 1 ms
 * delay each way into a round trip of 8 ms (10 ms into 24), and it would
 * run the load's 2 ms ticks on 4 ms boundaries.
 */
#ifndef SIM_EVBASE_H
#define SIM_EVBASE_H

#include <stddef.h>

#include <event2/event.h>

/* A new base with EVENT_BASE_FLAG_PRECISE_TIMER; NULL when it cannot. */
static inline struct event_base *sim_event_base_precise(void)
{
	struct event_base *base = NULL;
	struct event_config *cfg = event_config_new();
	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		base = event_base_new_with_config(cfg);
	if (cfg)
		event_config_free(cfg);
	return base;
}

#endif
