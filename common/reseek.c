/* reseek.c - one partition of a manual assignment restarted at a new
 * offset (see reseek.h). The consumer's poller's thread.
 */
#include "reseek.h"

#include <stdio.h>
#include <stdlib.h>

#include "xmem.h"

void reseek_init(reseek *r, uint32_t nparts)
{
	r->nparts = nparts;
	r->to = xmalloc((nparts ? nparts : 1) * sizeof *r->to);
	for (uint32_t p = 0; p < nparts; p++)
		r->to[p] = -1;
}

void reseek_free(reseek *r)
{
	free(r->to);
	r->to = NULL;
	r->nparts = 0;
}

bool reseek_wanted(const reseek *r, uint32_t p, int64_t event_offset)
{
	return p >= r->nparts || r->to[p] < 0 || r->to[p] == event_offset;
}

void reseek_note_fetch(reseek *r, uint32_t p, int64_t offset)
{
	if (p < r->nparts && r->to[p] >= 0 && offset >= r->to[p])
		r->to[p] = -1;
}

bool reseek_pending(const reseek *r, uint32_t p)
{
	return p < r->nparts && r->to[p] >= 0;
}

bool reseek_went_backwards(int64_t stored, int64_t lo, int64_t hi)
{
	(void)hi; /* above it or not, the log changed under the stored offset */
	return stored >= 0 && stored >= lo;
}

int reseek_partition(reseek *r, rd_kafka_t *rk, const char *topic, uint32_t p, int64_t offset,
                     char *err, size_t errlen)
{
	if (p >= r->nparts || offset < 0) {
		snprintf(err, errlen, "partition %u or offset %lld out of range", p,
		         (long long)offset);
		return ERR_KAFKA;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, (int32_t)p)->offset = offset;
	int rc = 0;
	rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, l);
	/* __INVALID_ARG: p is not assigned (an assign below failed last
	 * time), which the assign puts right. */
	if (e && rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR__INVALID_ARG) {
		snprintf(err, errlen, "incremental unassign: %s", rd_kafka_error_string(e));
		rc = ERR_KAFKA;
	}
	if (e)
		rd_kafka_error_destroy(e);
	if (!rc && (e = rd_kafka_incremental_assign(rk, l))) {
		snprintf(err, errlen, "incremental assign: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		rc = ERR_KAFKA;
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (!rc)
		r->to[p] = offset;
	return rc;
}
