/* test_sdnotify.c - sd_notify datagrams to a real AF_UNIX socket named
 * by NOTIFY_SOCKET (a path and an abstract name), the no-op without it,
 * and the watchdog interval from WATCHDOG_USEC. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "tests/support/testdir.h"

static char dir[256];
static int sock = -1;

static void setup(void)
{
	testdir_make(dir, sizeof dir, "likes-sdnotify");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	if (sock >= 0)
		close(sock);
	testdir_remove(dir);
}

TestSuite(sdnotify, .init = setup, .fini = teardown, .timeout = 10);

/* Binds a datagram socket at name ('@' = abstract) and points
 * NOTIFY_SOCKET at it. */
static void listen_at(const char *name)
{
	sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(sock, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sa.sun_path, name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sa.sun_path[0] = 0;
	else
		len++;
	cr_assert_eq(bind(sock, (struct sockaddr *)&sa, len), 0, "bind %s", name);
	setenv("NOTIFY_SOCKET", name, 1);
}

/* The next datagram, within a second; "" when none came. */
static const char *next_datagram(void)
{
	static char buf[1024];
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, 1000) != 1)
		return "";
	ssize_t n = recv(sock, buf, sizeof buf - 1, 0);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	return buf;
}

Test(sdnotify, states_arrive_as_datagrams_on_a_path_socket)
{
	char path[512];
	snprintf(path, sizeof path, "%s/notify", dir);
	listen_at(path);
	cr_assert_eq(sdnotify_send("READY=1"), 0);
	cr_assert_str_eq(next_datagram(), "READY=1");
	cr_assert_eq(sdnotify_status("serving %d connections", 3), 0);
	cr_assert_str_eq(next_datagram(), "STATUS=serving 3 connections");
	cr_assert_eq(sdnotify_send("STOPPING=1"), 0);
	cr_assert_str_eq(next_datagram(), "STOPPING=1");
}

Test(sdnotify, abstract_socket_names_work)
{
	char name[64];
	snprintf(name, sizeof name, "@likes-sdnotify-test-%d", (int)getpid());
	listen_at(name);
	cr_assert_eq(sdnotify_send("READY=1"), 0);
	cr_assert_str_eq(next_datagram(), "READY=1");
}

Test(sdnotify, unset_socket_is_a_quiet_noop_and_a_bad_one_an_error)
{
	cr_assert_eq(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/name", 1);
	cr_assert_eq(sdnotify_send("READY=1"), ERR_INVAL);
	char path[512];
	snprintf(path, sizeof path, "%s/nobody-listens", dir);
	setenv("NOTIFY_SOCKET", path, 1);
	cr_assert_eq(sdnotify_send("READY=1"), ERR_IO);
}

Test(sdnotify, watchdog_interval_is_half_of_watchdog_usec_for_this_process)
{
	cr_assert_eq(sdnotify_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	cr_assert_eq(sdnotify_watchdog_ms(), 15000);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(sdnotify_watchdog_ms(), 15000);
	setenv("WATCHDOG_PID", "1", 1);
	cr_assert_eq(sdnotify_watchdog_ms(), 0, "meant for another process");
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "junk", 1);
	cr_assert_eq(sdnotify_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "0", 1);
	cr_assert_eq(sdnotify_watchdog_ms(), 0);
}

Test(sdnotify, watchdog_tick_sends_keepalives_at_its_interval)
{
	char path[512];
	snprintf(path, sizeof path, "%s/notify", dir);
	listen_at(path);
	setenv("WATCHDOG_USEC", "200000", 1); /* 100 ms between keepalives */
	sdnotify_watchdog w;
	sdnotify_watchdog_init(&w);
	cr_assert_eq(w.interval_ms, 100);
	cr_assert(sdnotify_watchdog_tick(&w, 1000), "the first tick sends");
	cr_assert_str_eq(next_datagram(), "WATCHDOG=1");
	cr_assert_not(sdnotify_watchdog_tick(&w, 1050), "not yet due");
	cr_assert(sdnotify_watchdog_tick(&w, 1100));
	cr_assert_str_eq(next_datagram(), "WATCHDOG=1");
	unsetenv("WATCHDOG_USEC");
	sdnotify_watchdog_init(&w);
	cr_assert_not(sdnotify_watchdog_tick(&w, 5000), "no watchdog, nothing sent");
}
