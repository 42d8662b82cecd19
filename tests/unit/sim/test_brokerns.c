/* test_brokerns.c - Kafka nodes' namespaces and the relays between them
 * (sim/drill/brokerns.c), with plain sockets standing in for the nodes:
 * a node's port reached from another node's namespace and from sim's,
 * a one-way cut holding what one node sends on either node's
 * connections while the other way flows, a heal letting the held bytes
 * through, and pairs that name no link refused. Skipped where network
 * namespaces are not allowed.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/drill/brokerns.h"

static relay *r;
static brokerns b;
static int fds[8];
static int nfds;

static void setup(void)
{
	memset(&b, 0, sizeof b);
	nfds = 0;
	r = NULL;
	if (!netns_supported())
		return;
	char err[256];
	r = relay_new("t-brokerns", err, sizeof err);
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(brokerns_make(&b, 2, r, "t", err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
	relay_free(r);
	brokerns_free(&b);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

TestSuite(brokerns, .init = setup, .fini = teardown, .timeout = 20);

static int keep(int fd)
{
	cr_assert_geq(fd, 0);
	fds[nfds++] = fd;
	return fd;
}

/* A listener on node id's own port inside its namespace. */
static int node_listen(int id)
{
	return keep(netns_listen(brokerns_of(&b, id), b.ports[id - 1], NULL));
}

/* A connection from inside ns (NULL: sim's) to 127.0.0.1:port there,
 * and the peer that listener accepts. */
static int dial(const netns *ns, int port, int lfd, int *accepted)
{
	int fd = keep(netns_socket(ns));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 5000), 1, "no connection reached the listener");
	*accepted = keep(accept(lfd, NULL, NULL));
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	cr_assert_eq(poll(&p, 1, 5000), 1);
	return fd;
}

static void say(int fd, char c)
{
	cr_assert_eq(write(fd, &c, 1), 1);
}

/* The byte that arrives at fd within ms, or 0 when none does. */
static char heard(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c = 0;
	if (poll(&p, 1, ms) == 1 && read(fd, &c, 1) != 1)
		c = 0;
	return c;
}

Test(brokerns, a_node_is_reached_from_its_peer_and_from_sim_on_its_own_port)
{
	if (!r)
		cr_skip_test("no network namespaces here");
	int lfd = node_listen(2);
	int got;
	int from_peer = dial(brokerns_of(&b, 1), b.ports[1], lfd, &got);
	say(from_peer, 'p');
	cr_assert_eq(heard(got, 2000), 'p');
	int from_sim = dial(NULL, b.ports[1], lfd, &got);
	say(from_sim, 's');
	cr_assert_eq(heard(got, 2000), 's');
}

Test(brokerns, a_one_way_cut_holds_what_one_node_sends_until_healed)
{
	if (!r)
		cr_skip_test("no network namespaces here");
	/* Node 1 dials node 2, and node 2 dials node 1. */
	int l2 = node_listen(2), l1 = node_listen(1);
	int at2, at1;
	int out1 = dial(brokerns_of(&b, 1), b.ports[1], l2, &at2);
	int out2 = dial(brokerns_of(&b, 2), b.ports[0], l1, &at1);
	cr_assert_eq(brokerns_cut(&b, 1, 2, RELAY_FORWARD), 0);
	/* What node 1 sends, on its connection or as an answer on node 2's,
	 * is held; node 2's bytes still reach node 1. */
	say(out1, 'a');
	say(at1, 'b');
	cr_assert_eq(heard(at2, 300), 0, "node 1's request got through a cut");
	cr_assert_eq(heard(out2, 300), 0, "node 1's answer got through a cut");
	say(at2, 'c');
	say(out2, 'd');
	cr_assert_eq(heard(out1, 2000), 'c');
	cr_assert_eq(heard(at1, 2000), 'd');
	cr_assert_eq(brokerns_heal(&b, 2, 1), 0);
	cr_assert_eq(heard(at2, 2000), 'a', "held bytes flow after the heal");
	cr_assert_eq(heard(out2, 2000), 'b');
}

Test(brokerns, pairs_that_name_no_link_are_refused)
{
	if (!r)
		cr_skip_test("no network namespaces here");
	cr_assert_eq(brokerns_cut(&b, 1, 1, RELAY_BOTH), ERR_INVAL);
	cr_assert_eq(brokerns_cut(&b, 0, 2, RELAY_BOTH), ERR_INVAL);
	cr_assert_eq(brokerns_cut(&b, 1, 3, RELAY_BOTH), ERR_INVAL);
	cr_assert_eq(brokerns_heal(&b, 3, 1), ERR_INVAL);
	cr_assert_null(brokerns_of(&b, 3));
	cr_assert_not_null(brokerns_of(&b, 2));
	cr_assert_neq(b.ports[0], b.ports[1]);
	cr_assert_neq(b.cports[0], b.ports[1]);
}
