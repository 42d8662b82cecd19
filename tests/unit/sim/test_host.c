/* test_host.c - sim's free port (sim/proc/host.c): a pick lies below the
 * kernel's ephemeral range and below the integration tests' ports
 * (HOST_PORT_FLOOR to HOST_PORT_CEIL, while the range starts above it),
 * is free to bind at once, is not a port someone listens on, and is not
 * one this process was given among its last HOST_PORTS_KEPT (picked
 * before any daemon binds them, a caller's picks must differ); where the
 * ephemeral range leaves no room below it (a namespace of the test's
 * own, its range set low), the kernel's picks, still all different.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sim/drill/netns.h"
#include "sim/proc/host.h"

static int range_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 0, hi = 0;
	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 0;
		fclose(f);
	}
	return lo;
}

/* A listening socket on 127.0.0.1:port, or -1. */
static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                        .sin_port = htons((uint16_t)port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

Test(host, a_pick_is_below_the_ephemeral_range_and_binds)
{
	int lo = range_low();
	for (int i = 0; i < 200; i++) {
		int port = host_free_port();
		cr_assert_gt(port, 0);
		if (lo > HOST_PORT_FLOOR + 1024) {
			cr_assert_geq(port, HOST_PORT_FLOOR, "pick %d", port);
			cr_assert_lt(port, HOST_PORT_CEIL, "pick %d", port);
			cr_assert_lt(port, lo, "pick %d in the ephemeral range from %d", port, lo);
		}
		int fd = listen_on(port);
		cr_assert_geq(fd, 0, "port %d was handed out free but does not bind", port);
		close(fd);
	}
}

Test(host, a_port_someone_listens_on_is_never_picked)
{
	/* Hold listeners on the picks themselves: each later pick must miss
	 * every port held so far. */
	int held[64], n = 0;
	for (int i = 0; i < 64; i++) {
		int port = host_free_port();
		cr_assert_gt(port, 0);
		for (int j = 0; j < n; j++) {
			struct sockaddr_in a;
			socklen_t l = sizeof a;
			cr_assert_eq(getsockname(held[j], (struct sockaddr *)&a, &l), 0);
			cr_assert_neq(ntohs(a.sin_port), port, "pick %d is held by listener %d",
			              port, j);
		}
		held[n] = listen_on(port);
		cr_assert_geq(held[n], 0);
		n++;
	}
	for (int j = 0; j < n; j++)
		close(held[j]);
}

Test(host, no_port_is_handed_out_twice_before_any_binds)
{
	int got[200];
	for (int i = 0; i < 200; i++) {
		got[i] = host_free_port();
		cr_assert_gt(got[i], 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(got[j], got[i], "picks %d and %d are both %d", j, i, got[i]);
	}
}

Test(host, many_ports_at_once_are_all_different_and_bind)
{
	int got[40];
	cr_assert_eq(host_free_ports(got, 40), 0);
	int fd[40];
	for (int i = 0; i < 40; i++) {
		for (int j = 0; j < i; j++)
			cr_assert_neq(got[j], got[i], "ports %d and %d are both %d", j, i, got[i]);
		fd[i] = listen_on(got[i]);
		cr_assert_geq(fd[i], 0, "port %d does not bind", got[i]);
	}
	for (int i = 0; i < 40; i++)
		close(fd[i]);
}

/* The calling thread's namespace's ephemeral range set to lo..hi. */
static void set_range(int lo, int hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w");
	cr_assert_not_null(f);
	cr_assert_gt(fprintf(f, "%d %d\n", lo, hi), 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(range_low(), lo);
}

Test(host, with_no_room_below_the_ephemeral_range_the_kernel_picks_all_different)
{
	log_set_level("error");
	if (!netns_supported())
		cr_skip_test("network namespaces are not available here (needs CAP_SYS_ADMIN)");
	char err[256];
	netns *ns = netns_new(err, sizeof err);
	cr_assert_not_null(ns, "netns_new: %s", err);
	/* This thread only: its namespace's range, read by the picks. */
	cr_assert_eq(netns_enter(ns), 0);
	const int lo = HOST_PORT_FLOOR + 500, hi = HOST_PORT_FLOOR + 1500;
	set_range(lo, hi);
	int got[200];
	for (int i = 0; i < 200; i++) {
		got[i] = host_free_port();
		cr_assert(got[i] >= lo && got[i] <= hi, "pick %d is %d, outside the kernel's %d-%d",
		          i, got[i], lo, hi);
		for (int j = 0; j < i; j++)
			cr_assert_neq(got[j], got[i], "picks %d and %d are both %d", j, i, got[i]);
	}
	int fd = listen_on(got[199]);
	cr_assert_geq(fd, 0, "port %d does not bind", got[199]);
	close(fd);
	cr_assert_eq(netns_enter(NULL), 0);
	netns_free(ns);
}
