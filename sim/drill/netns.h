/* netns.h - network namespaces that sim makes and removes, so a daemon can
 * be forced through sim's relays: inside its namespace 127.0.0.1 is its
 * own, and only relays that sim puts there reach anything else.
 *
 * A namespace lives while its netns object (an open descriptor of it),
 * a process inside it or a socket made inside it remains. Sim's own
 * namespace is the one the process started in, recorded by the first
 * call into this module: make that call (netns_supported() will do) from
 * a thread that has never left sim's namespace, before anything else in
 * the process unshares. Sockets belong to the namespace of the thread
 * that creates them, so the socket helpers switch the calling thread in
 * and back to where it was.
 * Any thread; each call affects only the calling thread.
 */
#ifndef SIM_NETNS_H
#define SIM_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct netns netns;

/* A new namespace with its loopback up. NULL with the reason in err when
 * the machine does not allow it (no CAP_SYS_ADMIN, no user namespaces):
 * callers then say so and skip what needs namespaces. */
netns *netns_new(char *err, size_t errlen);
void netns_free(netns *ns);

/* True when netns_new works here (tries once, caches the answer). */
bool netns_supported(void);

/* A path another process of this machine can open as ns while ns lives
 * ("/proc/PID/fd/FD" of sim's descriptor of it), for a child that joins
 * it itself (sim kafka's nodes: sim/kafka/kafka.h). */
void netns_path(const netns *ns, char *out, size_t cap);

/* Moves the calling thread into ns (NULL: sim's own namespace). Used by a
 * forked child before exec, and by the socket helpers. 0 or ERR_IO. */
int netns_enter(const netns *ns) WARN_UNUSED;

/* A listening, non-blocking, close-on-exec TCP socket on 127.0.0.1:port
 * inside ns (NULL: sim's own; port 0: any free port, written to *bound).
 * The fd, or a negative ERR_*. */
int netns_listen(const netns *ns, int port, int *bound);

/* A non-blocking, close-on-exec TCP socket made inside ns, not yet
 * connected (the caller connects it to 127.0.0.1 of that namespace).
 * The fd, or a negative ERR_*. */
int netns_socket(const netns *ns);

#endif
