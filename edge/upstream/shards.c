/* shards.c - the shard map of central.ops (pure) and the router that owns
 * one central client per address (loop thread of its base). See shards.h.
 */
#include "edge/upstream/shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "xmem.h"

/* --- the map (pure) --------------------------------------------------------- */

void shards_free(shard_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nshards; i++)
		for (size_t j = 0; j < m->shards[i].naddrs; j++)
			free(m->shards[i].addrs[j]);
	free(m->shards);
	free(m->of_part);
	memset(m, 0, sizeof *m);
}

/* A decimal partition number of s[0..n): 0 or ERR_INVAL. */
static int parse_num(const char *s, size_t n, uint32_t *out)
{
	if (n == 0 || n > 5)
		return ERR_INVAL;
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_INVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Marks the partitions of "0-3,8" (s[0..n)) as served by shard idx. */
static int parse_ranges(shard_map *m, const char *s, size_t n, uint16_t idx, char *err,
                        size_t errlen)
{
	if (n == 0) {
		snprintf(err, errlen, "central.ops: entry %u has no partitions before '='",
		         (unsigned)idx + 1);
		return ERR_CONFIG;
	}
	const char *end = s + n;
	while (s <= end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		const char *dash = memchr(s, '-', (size_t)(e - s));
		uint32_t lo = 0, hi = 0;
		int rc = dash ? parse_num(s, (size_t)(dash - s), &lo) ||
		                    parse_num(dash + 1, (size_t)(e - dash - 1), &hi)
		              : parse_num(s, (size_t)(e - s), &lo);
		if (!dash)
			hi = lo;
		if (rc || lo > hi) {
			snprintf(
			    err, errlen,
			    "central.ops: \"%.*s\" is not a partition or range lo-hi (lo <= hi)",
			    (int)(e - s > 40 ? 40 : e - s), s);
			return ERR_CONFIG;
		}
		if (hi >= m->partitions) {
			snprintf(
			    err, errlen,
			    "central.ops: partition %u is out of range: topics.partitions is %u",
			    hi, m->partitions);
			return ERR_CONFIG;
		}
		for (uint32_t p = lo; p <= hi; p++) {
			if (m->of_part[p] != UINT16_MAX) {
				snprintf(err, errlen,
				         "central.ops: partition %u is in two entries (%u and %u)",
				         p, (unsigned)m->of_part[p] + 1, (unsigned)idx + 1);
				return ERR_CONFIG;
			}
			m->of_part[p] = idx;
		}
		if (!comma)
			break;
		s = comma + 1;
	}
	return 0;
}

/* Adds the '|' alternatives of s[0..n) to shard sh. */
static int parse_addrs(shard_entry *sh, const char *s, size_t n, size_t idx, char *err,
                       size_t errlen)
{
	const char *end = s + n;
	while (s <= end) {
		const char *bar = memchr(s, '|', (size_t)(end - s));
		const char *e = bar ? bar : end;
		if (sh->naddrs == SHARD_ALTS_MAX) {
			snprintf(err, errlen, "central.ops: entry %zu has more than %d addresses",
			         idx + 1, SHARD_ALTS_MAX);
			return ERR_CONFIG;
		}
		char *a = xmalloc((size_t)(e - s) + 1);
		memcpy(a, s, (size_t)(e - s));
		a[e - s] = 0;
		sh->addrs[sh->naddrs++] = a;
		if (central_check_address(a)) {
			snprintf(err, errlen,
			         "central.ops: address \"%.80s\" of entry %zu: want a numeric "
			         "IPv4:port or [IPv6]:port",
			         a, idx + 1);
			return ERR_CONFIG;
		}
		if (!bar)
			break;
		s = bar + 1;
	}
	return 0;
}

static int parse_entries(shard_map *m, const char *spec, char *err, size_t errlen)
{
	const char *s = spec, *end = spec + strlen(spec);
	while (s <= end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *e = semi ? semi : end;
		if (e == s && !semi) /* a trailing ';' */
			break;
		if (m->nshards == SHARDS_MAX) {
			snprintf(err, errlen, "central.ops: more than %d entries", SHARDS_MAX);
			return ERR_CONFIG;
		}
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!eq) {
			snprintf(err, errlen,
			         "central.ops: entry %zu \"%.*s\" is not RANGES=ADDR[|ADDR...]",
			         m->nshards + 1, (int)(e - s > 60 ? 60 : e - s), s);
			return ERR_CONFIG;
		}
		size_t idx = m->nshards++;
		m->shards = xrealloc(m->shards, m->nshards * sizeof *m->shards);
		memset(&m->shards[idx], 0, sizeof m->shards[idx]);
		int rc = parse_ranges(m, s, (size_t)(eq - s), (uint16_t)idx, err, errlen);
		if (!rc)
			rc = parse_addrs(&m->shards[idx], eq + 1, (size_t)(e - eq - 1), idx, err,
			                 errlen);
		if (rc)
			return rc;
		if (!semi)
			break;
		s = semi + 1;
	}
	for (uint32_t p = 0; p < m->partitions; p++)
		if (m->of_part[p] == UINT16_MAX) {
			snprintf(err, errlen,
			         "central.ops: partition %u is in no entry (every partition 0..%u "
			         "needs a shard)",
			         p, m->partitions - 1);
			return ERR_CONFIG;
		}
	return 0;
}

int shards_parse(shard_map *m, const char *spec, uint32_t partitions, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (partitions == 0 || partitions > PARTITION_MAX) {
		snprintf(err, errlen, "central.ops: partition count %u out of 1..%d", partitions,
		         PARTITION_MAX);
		return ERR_CONFIG;
	}
	size_t n = spec ? strlen(spec) : 0;
	if (n == 0 || n > SHARDS_SPEC_MAX) {
		snprintf(err, errlen, "central.ops: empty, or longer than %d bytes",
		         SHARDS_SPEC_MAX);
		return ERR_CONFIG;
	}
	m->partitions = partitions;
	m->of_part = xmalloc(partitions * sizeof *m->of_part);
	for (uint32_t p = 0; p < partitions; p++)
		m->of_part[p] = UINT16_MAX;
	int rc;
	if (!strchr(spec, '=')) {
		/* One address: every partition. */
		m->shards = xcalloc(1, sizeof *m->shards);
		m->nshards = 1;
		memset(m->of_part, 0, partitions * sizeof *m->of_part);
		rc = parse_addrs(&m->shards[0], spec, n, 0, err, errlen);
		if (!rc && m->shards[0].naddrs > 1) {
			snprintf(err, errlen,
			         "central.ops: alternatives need a shard map: 0-%u=A|B",
			         partitions - 1);
			rc = ERR_CONFIG;
		}
	} else {
		rc = parse_entries(m, spec, err, errlen);
	}
	if (rc)
		shards_free(m);
	return rc;
}

/* --- router (loop thread) ------------------------------------------------ */

struct shard_router {
	shard_map m;
	central_client **cl; /* one per distinct address */
	char **addr;         /* and its address (points into m) */
	size_t ncl;
	size_t *client_of; /* shard s, alternative a: index in cl at s * ALTS + a */
};

static void copy_map(shard_map *dst, const shard_map *src)
{
	dst->partitions = src->partitions;
	dst->nshards = src->nshards;
	dst->of_part = xmalloc(src->partitions * sizeof *dst->of_part);
	memcpy(dst->of_part, src->of_part, src->partitions * sizeof *dst->of_part);
	dst->shards = xcalloc(src->nshards, sizeof *dst->shards);
	for (size_t i = 0; i < src->nshards; i++) {
		dst->shards[i].naddrs = src->shards[i].naddrs;
		for (size_t j = 0; j < src->shards[i].naddrs; j++)
			dst->shards[i].addrs[j] = xstrdup(src->shards[i].addrs[j]);
	}
}

shard_router *shards_router_new(struct event_base *base, const shard_map *m,
                                const central_client_opts *o, char *err, size_t errlen)
{
	shard_router *r = xcalloc(1, sizeof *r);
	copy_map(&r->m, m);
	size_t slots = m->nshards * SHARD_ALTS_MAX;
	r->cl = xcalloc(slots, sizeof *r->cl);
	r->addr = xcalloc(slots, sizeof *r->addr);
	r->client_of = xcalloc(slots, sizeof *r->client_of);
	for (size_t s = 0; s < r->m.nshards; s++) {
		for (size_t a = 0; a < r->m.shards[s].naddrs; a++) {
			char *addr = r->m.shards[s].addrs[a];
			size_t k = 0;
			while (k < r->ncl && strcmp(r->addr[k], addr) != 0)
				k++;
			if (k == r->ncl) {
				central_client_opts co = *o;
				co.address = addr;
				r->cl[k] = central_client_new(base, &co, err, errlen);
				if (!r->cl[k]) {
					shards_router_free(r);
					return NULL;
				}
				r->addr[k] = addr;
				r->ncl++;
			}
			r->client_of[s * SHARD_ALTS_MAX + a] = k;
		}
	}
	return r;
}

void shards_router_free(shard_router *r)
{
	if (!r)
		return;
	for (size_t k = 0; k < r->ncl; k++)
		central_client_free(r->cl[k]);
	free(r->cl);
	free(r->addr);
	free(r->client_of);
	shards_free(&r->m);
	free(r);
}

const shard_map *shards_router_map(const shard_router *r)
{
	return &r->m;
}

size_t shards_router_shard_of(const shard_router *r, const char *item, size_t len)
{
	return shards_of(&r->m, partition_of(item, len, r->m.partitions));
}

int shards_router_pick(const shard_router *r, size_t s, size_t from)
{
	const shard_entry *sh = &r->m.shards[s];
	if (from >= sh->naddrs)
		return -1;
	for (size_t a = from; a < sh->naddrs; a++)
		if (central_client_usable(shards_router_client(r, s, a)))
			return (int)a;
	return (int)from;
}

central_client *shards_router_client(const shard_router *r, size_t s, size_t alt)
{
	return r->cl[r->client_of[s * SHARD_ALTS_MAX + alt]];
}

const char *shards_router_address(const shard_router *r, size_t s, size_t alt)
{
	return r->m.shards[s].addrs[alt];
}

void shards_router_get_stats(const shard_router *r, central_client_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t k = 0; k < r->ncl; k++) {
		central_client_stats cs;
		central_client_get_stats(r->cl[k], &cs);
		out->requests += cs.requests;
		out->coalesced += cs.coalesced;
		out->failures += cs.failures;
		out->timeouts += cs.timeouts;
		out->circuit_open_rejects += cs.circuit_open_rejects;
		out->busy_rejects += cs.busy_rejects;
		out->inflight += cs.inflight;
		out->circuit_open = out->circuit_open || cs.circuit_open;
	}
}
