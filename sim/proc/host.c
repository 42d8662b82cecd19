/* host.c - a free port, a tree removed (host.h). */
#include "sim/proc/host.h"

#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsa.h"

/* The first port of the kernel's ephemeral range (the ports it hands
 * to outgoing connections and to a bind of port 0), or 0 when it cannot
 * be read. */
static int ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int lo = 0, hi = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%d %d", &lo, &hi) != 2)
		lo = 0;
	fclose(f);
	return lo;
}

/* Binds 127.0.0.1:port (0: the kernel's pick) and lets it go: the port
 * bound, or -1. */
static int try_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                        .sin_port = htons((uint16_t)port)};
	socklen_t l = sizeof a;
	int got = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		got = ntohs(a.sin_port);
	close(fd);
	return got;
}

/* The draw's state and the ports this process handed out last: a
 * caller picks several ports before it starts any daemon, so "free now"
 * cannot tell two picks apart, and two edges given one port both bind
 * it (SO_REUSEPORT) and share its connections. */
static struct {
	tsa_mutex mu;
	uint64_t x;
	int given[HOST_PORTS_KEPT];
	size_t ngiven;
} pick = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool given_before(int port) TSA_REQUIRES(pick.mu)
{
	size_t n = pick.ngiven < HOST_PORTS_KEPT ? pick.ngiven : HOST_PORTS_KEPT;
	for (size_t i = 0; i < n; i++)
		if (pick.given[i] == port)
			return true;
	return false;
}

int host_free_port(void)
{
	/* Below the ephemeral range, no outgoing connection is given the
	 * port between this pick and the caller's bind, nor while a killed
	 * server is down and its port free for a restart on it (a client's
	 * connection to another node took a drilled broker's port once).
	 * Drawn at random so that two processes picking at once rarely meet,
	 * and below the tests' own range (tests/support/proc.h: 20000 and
	 * up), which a test's daemons take while a sim it started picks;
	 * the kernel's pick when the range leaves no room below it. */
	int lo = ephemeral_low();
	if (lo > HOST_PORT_CEIL)
		lo = HOST_PORT_CEIL;
	bool room = lo > HOST_PORT_FLOOR + 1024;
	int got = -1;
	tsa_lock(&pick.mu);
	if (!pick.x)
		pick.x = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15u;
	for (int i = 0; room && i < 256 && got < 0; i++) {
		pick.x ^= pick.x << 13;
		pick.x ^= pick.x >> 7;
		pick.x ^= pick.x << 17;
		int port = HOST_PORT_FLOOR + (int)(pick.x % (uint64_t)(lo - HOST_PORT_FLOOR));
		if (!given_before(port) && try_port(port) == port)
			got = port;
	}
	/* The kernel's pick when the range has no room: it may hand out a
	 * port it gave before, so that one is passed over too. */
	for (int i = 0; i < 256 && got < 0; i++) {
		int port = try_port(0);
		if (port > 0 && !given_before(port))
			got = port;
	}
	if (got > 0)
		pick.given[pick.ngiven++ % HOST_PORTS_KEPT] = got;
	tsa_unlock(&pick.mu);
	return got;
}

int host_free_ports(int *ports, int n)
{
	/* host_free_port never hands out one of its last HOST_PORTS_KEPT
	 * picks again, so n <= HOST_PORTS_KEPT picks are all different. */
	if (n < 0 || n > HOST_PORTS_KEPT)
		return -1;
	for (int i = 0; i < n; i++)
		if ((ports[i] = host_free_port()) < 0)
			return -1;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int host_rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
