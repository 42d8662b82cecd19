/* brokerns.c - a real cluster's nodes in namespaces of their own, and
 * the relay paths between them (brokerns.h). Owns the namespaces; the
 * paths belong to the relay. One thread.
 */
#include "sim/drill/brokerns.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static relay_path *path(relay *r, const char *name, const char *what, int from, int to,
                        const netns *in, const netns *target, int port, char *err, size_t errlen)
{
	char pname[RELAY_NAME_MAX];
	if (from)
		snprintf(pname, sizeof pname, "%s-n%d-to-n%d%s", name, from, to, what);
	else
		snprintf(pname, sizeof pname, "%s-to-n%d", name, to);
	return relay_add(r, pname, in, port, target, port, NULL, err, errlen);
}

int brokerns_make(brokerns *b, int n, relay *r, const char *name, char *err, size_t errlen)
{
	memset(b, 0, sizeof *b);
	if (n < 1 || n > SIM_KAFKA_NODES_MAX) {
		snprintf(err, errlen, "bad node count %d", n);
		return ERR_INVAL;
	}
	b->n = n;
	/* Free in sim's namespace now. Only the client ports are listened
	 * on in it (the home paths); the controller ports only inside the
	 * nodes' namespaces, which are new and empty. */
	int rc = sim_kafka_pick_ports(n, b->ports, b->cports, err, errlen);
	if (rc)
		return rc;
	sim_kafka_ports_arg(n, b->ports, b->cports, b->ports_arg, sizeof b->ports_arg);
	size_t nl = 0;
	for (int i = 0; i < n; i++) {
		if (!(b->ns[i] = netns_new(err, errlen)))
			return ERR_IO;
		char p[64];
		netns_path(b->ns[i], p, sizeof p);
		nl += (size_t)snprintf(b->netns_arg + nl, sizeof b->netns_arg - nl, "%s%s",
		                       i ? "," : "", p);
	}
	for (int k = 0; k < n; k++) {
		if (!(b->home[k] =
		          path(r, name, "", 0, k + 1, NULL, b->ns[k], b->ports[k], err, errlen)))
			return ERR_IO;
		for (int j = 0; j < n; j++) {
			if (j == k)
				continue;
			if (!(b->peer[j][k][0] = path(r, name, "", j + 1, k + 1, b->ns[j], b->ns[k],
			                              b->ports[k], err, errlen)) ||
			    !(b->peer[j][k][1] = path(r, name, "-ctl", j + 1, k + 1, b->ns[j],
			                              b->ns[k], b->cports[k], err, errlen)))
				return ERR_IO;
		}
	}
	log_info("kafka nodes in namespaces of their own", "name=%s nodes=%d ports=%s", name, n,
	         b->ports_arg);
	return 0;
}

const netns *brokerns_of(const brokerns *b, int id)
{
	return id >= 1 && id <= b->n ? b->ns[id - 1] : NULL;
}

static bool pair_ok(const brokerns *b, int x, int y)
{
	return x >= 1 && x <= b->n && y >= 1 && y <= b->n && x != y;
}

/* Holds what x sends y: on x's paths to y the forward bytes, on y's
 * paths to x the answers. */
static void hold(brokerns *b, int x, int y)
{
	for (int w = 0; w < 2; w++) {
		relay_block(b->peer[x - 1][y - 1][w], RELAY_FORWARD);
		relay_block(b->peer[y - 1][x - 1][w], RELAY_BACKWARD);
	}
}

int brokerns_cut(brokerns *b, int from, int to, relay_dir dir)
{
	if (!pair_ok(b, from, to))
		return ERR_INVAL;
	if (dir & RELAY_FORWARD)
		hold(b, from, to);
	if (dir & RELAY_BACKWARD)
		hold(b, to, from);
	log_info("kafka nodes cut", "from=%d to=%d dir=%d", from, to, (int)dir);
	return 0;
}

int brokerns_heal(brokerns *b, int x, int y)
{
	if (!pair_ok(b, x, y))
		return ERR_INVAL;
	for (int w = 0; w < 2; w++) {
		relay_heal(b->peer[x - 1][y - 1][w]);
		relay_heal(b->peer[y - 1][x - 1][w]);
	}
	log_info("kafka nodes healed", "x=%d y=%d", x, y);
	return 0;
}

void brokerns_free(brokerns *b)
{
	for (int i = 0; i < b->n; i++) {
		netns_free(b->ns[i]);
		b->ns[i] = NULL;
	}
	b->n = 0;
}
