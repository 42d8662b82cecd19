/* netaddr.h - the one rule for "loopback", wherever the daemons judge an
 * address: 127.0.0.0/8, ::1, and an IPv4-mapped 127.0.0.0/8
 * (::ffff:127.x.y.z). The loopback-only routes judge clients with it,
 * and the config checks judge listen addresses with it. Pure, any thread.
 */
#ifndef LIKES_NETADDR_H
#define LIKES_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address in its 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d). */
bool netaddr_ip_is_loopback(const uint8_t ip[16]);
/* n bytes of host text: a numeric IPv4 or IPv6 address, or "localhost"
 * (any case). Any other name is not resolved: false. */
bool netaddr_host_is_loopback(const char *host, size_t n);
/* A listen address "host:port" or "[v6]:port"; an empty host (every
 * interface) is not loopback. */
bool netaddr_listen_is_loopback(const char *hostport);

#endif
