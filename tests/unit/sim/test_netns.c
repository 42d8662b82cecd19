/* test_netns.c - network namespaces for sim (sim/drill/netns.c): a new
 * namespace has its own loopback and ports, netns_enter moves only the
 * calling thread, and the socket helpers make their sockets inside the
 * namespace they are given while leaving the caller where it was.
 * Namespaces are compared by the inode of /proc/thread-self/ns/net.
 * Every test is skipped when the machine does not allow namespaces.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sim/drill/netns.h"

static netns *a, *b;
static int fds[8];
static int nfds;

static int keep(int fd)
{
	cr_assert_geq(fd, 0, "got %d", fd);
	cr_assert_lt(nfds, 8);
	fds[nfds++] = fd;
	return fd;
}

static void setup(void)
{
	log_set_level("error");
	if (!netns_supported())
		cr_skip_test("network namespaces are not available here (needs CAP_SYS_ADMIN)");
	char err[256];
	a = netns_new(err, sizeof err);
	cr_assert_not_null(a, "netns_new: %s", err);
	b = netns_new(err, sizeof err);
	cr_assert_not_null(b, "netns_new: %s", err);
}

static void teardown(void)
{
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	nfds = 0;
	netns_free(a);
	netns_free(b);
	a = b = NULL;
}

TestSuite(netns, .init = setup, .fini = teardown, .timeout = 10);

static ino_t current_ns(void)
{
	struct stat st;
	cr_assert_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

/* Connects a plain blocking socket of the calling thread's namespace;
 * 0 or the errno. */
static int try_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? errno : 0;
	close(fd);
	return rc;
}

Test(netns, each_namespace_has_its_own_loopback_ports)
{
	int pa = 0;
	keep(netns_listen(a, 0, &pa));
	cr_assert_gt(pa, 0);
	/* The same port again in a: taken. In b: free, loopback up. */
	cr_assert_lt(netns_listen(a, pa, NULL), 0);
	int pb = 0;
	keep(netns_listen(b, pa, &pb));
	cr_assert_eq(pb, pa);
	/* And from sim's namespace neither listener answers. */
	cr_assert_eq(try_connect(pa), ECONNREFUSED);
}

Test(netns, socket_made_in_a_namespace_connects_there)
{
	int port = 0;
	int lfd = keep(netns_listen(a, 0, &port));
	int s = keep(netns_socket(a));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
	cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
	struct pollfd pf = {.fd = s, .events = POLLOUT};
	cr_assert_eq(poll(&pf, 1, 2000), 1);
	int e = -1;
	socklen_t len = sizeof e;
	cr_assert_eq(getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len), 0);
	cr_assert_eq(e, 0, "connect in namespace: %s", strerror(e));
	struct pollfd lp = {.fd = lfd, .events = POLLIN};
	cr_assert_eq(poll(&lp, 1, 2000), 1, "listener saw no connection");

	/* The same port from a socket of b is refused. */
	int o = keep(netns_socket(b));
	rc = connect(o, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd op = {.fd = o, .events = POLLOUT};
		cr_assert_eq(poll(&op, 1, 2000), 1);
		cr_assert_eq(getsockopt(o, SOL_SOCKET, SO_ERROR, &e, &len), 0);
	} else {
		e = rc < 0 ? errno : 0;
	}
	cr_assert_eq(e, ECONNREFUSED, "b reached a's port: %s", strerror(e));
}

Test(netns, helpers_leave_the_calling_thread_where_it_was)
{
	ino_t home = current_ns();
	int port = 0;
	keep(netns_listen(a, 0, &port));
	keep(netns_socket(b));
	cr_assert_eq(current_ns(), home);
}

typedef struct hop {
	const netns *ns;
	ino_t before, inside, after_helper, back;
	int port; /* a listener made by netns_listen(NULL) from inside */
	int lfd;
	int inside_connect; /* errno of connecting to it from inside */
} hop;

static void *hop_thread(void *arg)
{
	hop *h = arg;
	h->before = current_ns();
	if (netns_enter(h->ns) < 0)
		return NULL;
	h->inside = current_ns();
	h->lfd = netns_listen(NULL, 0, &h->port);
	h->after_helper = current_ns();
	h->inside_connect = try_connect(h->port);
	if (netns_enter(NULL) < 0)
		return NULL;
	h->back = current_ns();
	return NULL;
}

Test(netns, enter_moves_only_the_calling_thread)
{
	ino_t home = current_ns();
	hop h = {.ns = a, .lfd = -1};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, hop_thread, &h), 0);
	pthread_join(t, NULL);
	if (h.lfd >= 0)
		keep(h.lfd);
	cr_assert_eq(h.before, home);
	cr_assert_neq(h.inside, home, "netns_enter did not move the thread");
	cr_assert_eq(h.after_helper, h.inside, "netns_listen moved its caller");
	cr_assert_eq(h.back, home, "netns_enter(NULL) did not come back");
	cr_assert_eq(current_ns(), home, "the main thread moved");

	/* The listener made from inside with NULL lives in sim's namespace:
	 * reachable here, refused in the namespace the thread was in. */
	cr_assert_geq(h.lfd, 0);
	cr_assert_eq(h.inside_connect, ECONNREFUSED);
	cr_assert_eq(try_connect(h.port), 0);
}

Test(netns, listen_rejects_bad_ports)
{
	cr_assert_eq(netns_listen(a, -1, NULL), ERR_INVAL);
	cr_assert_eq(netns_listen(NULL, 65536, NULL), ERR_INVAL);
}
