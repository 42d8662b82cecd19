/* bus.c - librdkafka clients built from a config's [kafka] sections.
 *
 * Role defaults first (idempotent producer with acks=all; a consumer that
 * never commits or stores offsets by itself), then [kafka], then the
 * role's own section, every property unchanged, so an operator can
 * override anything; and the dead-letter producer both daemons use for
 * what they refuse (bus_dlq_*). Start-up only, except bus_property_scope
 * (its table is read once, under pthread_once), bus_log_line, which runs
 * on librdkafka's threads (log_emit may be called from any), and
 * bus_dlq_send/bus_dlq_report, on the thread that polls the producer.
 */
#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "wire.h"
#include "xmem.h"

struct kv_default {
	const char *key;
	const char *value;
};

static const struct kv_default producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "5"},
    {"compression.type", "lz4"},
    {"message.timeout.ms", "0"}, /* the edge re-sends from its store; never give up */
    {"queue.buffering.max.kbytes", "65536"},
    /* A request the broker never answers holds its partition until this
     * runs out; Kafka's 60 s made every drill with a broker outage wait
     * a minute after the brokers were back. */
    {"socket.timeout.ms", "10000"},
};

static const struct kv_default consumer_defaults[] = {
    {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "error"},  {"enable.partition.eof", "false"},
    {"socket.timeout.ms", "10000"}, /* as for the producer */
};

/* Every client: a fatal error (an idempotent producer that can no longer
 * guarantee order) ends the process, because both daemons keep what they
 * have not handed over durably and a restart resumes from there; other
 * errors are logged and librdkafka retries them. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_fatal_error(rk, why, sizeof why);
		log_error("fatal kafka error; exiting", "client=%s reason=\"%s\"",
		          rd_kafka_name(rk), why);
		_exit(3);
	}
	log_warn("kafka", "client=%s err=\"%s\" reason=\"%s\"", rd_kafka_name(rk),
	         rd_kafka_err2name(err), reason);
}

void bus_log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* librdkafka's levels are syslog's: 0-3 emerg..err, 4 warning,
	 * 5-6 notice and info, 7 debug. */
	int lvl = level <= 3   ? LOG_ERROR
	          : level == 4 ? LOG_WARN
	          : level <= 6 ? LOG_INFO
	                       : LOG_DEBUG;
	LOG_AT(lvl, "librdkafka", "kafka_fac=%s kafka_client=%s detail=\"%s\"", fac ? fac : "",
	       rk ? rd_kafka_name(rk) : "", buf ? buf : "");
}

/* One offset of (topic, partition) by librdkafka's time lookup: ts -2
 * is the first offset, -1 the next one to be written. */
static rd_kafka_resp_err_t offset_at(rd_kafka_t *rk, const char *topic, int32_t partition,
                                     int64_t ts, int timeout_ms, int64_t *out)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = ts;
	rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms);
	if (!e)
		e = l->elems[0].err;
	if (!e)
		*out = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return e;
}

/* An answer that says "ask again": the partition's leadership is moving
 * (a broker restarted, an election under way) or the connection broke.
 * Not an unknown topic: a name the cluster does not have is most often a
 * wrong name, and every caller asks partition by partition, each then
 * waiting out its timeout. librdkafka refreshes its metadata on these, but an
 * offsets query returns them to its caller instead of trying again. */
static bool ends_retriable(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
	case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
	case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR__TRANSPORT: return true;
	default: return false;
	}
}

#define ENDS_RETRY_MS 50 /* between two tries of a retriable answer */

rd_kafka_resp_err_t bus_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
                                   int timeout_ms, int64_t *lo, int64_t *hi)
{
	uint64_t until = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
	for (;;) {
		uint64_t now = clock_mono_ms();
		int left = now < until ? (int)(until - now) : 1;
		rd_kafka_resp_err_t e = offset_at(rk, topic, partition, -2, left, lo);
		if (!e) {
			now = clock_mono_ms();
			left = now < until ? (int)(until - now) : 1;
			e = offset_at(rk, topic, partition, -1, left, hi);
		}
		if (!e || !ends_retriable(e) || clock_mono_ms() + ENDS_RETRY_MS >= until)
			return e;
		struct timespec pause = {0, ENDS_RETRY_MS * 1000000L};
		nanosleep(&pause, NULL);
	}
}

int bus_read_bootstrap(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	int rc = 0;
	if (!fgets(buf, (int)cap, f)) {
		rc = ERR_CORRUPT;
	} else {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (!buf[0])
			rc = ERR_CORRUPT;
	}
	fclose(f);
	return rc;
}

/* --- which client reads a property ------------------------------------- */

typedef struct scope_ent {
	char *name;
	enum bus_scope scope;
} scope_ent;

static scope_ent *scopes;
static size_t nscopes;
static pthread_once_t scopes_once = PTHREAD_ONCE_INIT;

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

/* The lookup itself, without the once: load_scopes uses it while it
 * fills the table. */
static enum bus_scope find_scope(const char *name)
{
	for (size_t i = 0; i < nscopes; i++)
		if (strcmp(scopes[i].name, name) == 0)
			return scopes[i].scope;
	return BUS_SCOPE_UNKNOWN;
}

/* librdkafka prints its properties as Markdown tables (what its
 * CONFIGURATION.md is made from): "name | C/P | range | default | ...",
 * the C/P column "C" (consumer), "P" (producer) or "*" (both); the global
 * table first, then the topic-level one. The first row of a name wins. */
static void load_scopes(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	rd_kafka_conf_properties_show(f);
	fclose(f);
	size_t cap = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *bar = strchr(line, '|');
		char *bar2 = bar ? strchr(bar + 1, '|') : NULL;
		if (!bar2)
			continue;
		char *name = trim(line, bar);
		char *col = trim(bar + 1, bar2);
		enum bus_scope s = strcmp(col, "*") == 0   ? BUS_SCOPE_BOTH
		                   : strcmp(col, "P") == 0 ? BUS_SCOPE_PRODUCER
		                   : strcmp(col, "C") == 0 ? BUS_SCOPE_CONSUMER
		                                           : BUS_SCOPE_UNKNOWN;
		if (s == BUS_SCOPE_UNKNOWN || !name[0] || find_scope(name) != BUS_SCOPE_UNKNOWN)
			continue;
		if (nscopes == cap) {
			cap = cap ? 2 * cap : 256;
			scopes = xrealloc(scopes, cap * sizeof *scopes);
		}
		scopes[nscopes++] = (scope_ent){xstrdup(name), s};
	}
	free(buf);
	if (nscopes == 0)
		log_warn(
		    "librdkafka listed no properties; properties are not checked for their role",
		    "%s", "");
}

enum bus_scope bus_property_scope(const char *name)
{
	pthread_once(&scopes_once, load_scopes);
	return find_scope(name);
}

/* --- checks and confs ---------------------------------------------------- */

/* The sections as the config names them, for messages. */
#define SEC_COMMON "kafka"
#define SEC_PRODUCER "kafka.producer"
#define SEC_CONSUMER "kafka.consumer"

/* One section: refuses a property of scope `wrong` (and, for [kafka],
 * of scope `wrong2`), naming the section it belongs in. */
static int check_section(const cfg_kv *kv, const char *sec, enum bus_scope wrong,
                         enum bus_scope wrong2, rd_kafka_conf_t *scratch, char *err, size_t errlen)
{
	for (; kv; kv = kv->next) {
		enum bus_scope s = bus_property_scope(kv->key);
		const char *where = kv->where ? kv->where : "-s";
		if (s != BUS_SCOPE_UNKNOWN && (s == wrong || s == wrong2)) {
			bool prod = s == BUS_SCOPE_PRODUCER;
			snprintf(err, errlen,
			         "%s: %s.%s is a %s property, which the %s does not read: move it "
			         "to [%s]",
			         where, sec, kv->key, prod ? "producer" : "consumer",
			         strcmp(sec, SEC_COMMON) == 0 ? "other client"
			         : prod                       ? "consumer"
			                                      : "producer",
			         prod ? SEC_PRODUCER : SEC_CONSUMER);
			return ERR_CONFIG;
		}
		char kerr[256];
		if (scratch && rd_kafka_conf_set(scratch, kv->key, kv->value, kerr, sizeof kerr) !=
		                   RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "%s: %s.%s: %s", where, sec, kv->key, kerr);
			return ERR_CONFIG;
		}
	}
	return 0;
}

int bus_check_props(const bus_props *p, bool values, char *err, size_t errlen)
{
	rd_kafka_conf_t *scratch = values ? rd_kafka_conf_new() : NULL;
	int rc = check_section(p->common, SEC_COMMON, BUS_SCOPE_PRODUCER, BUS_SCOPE_CONSUMER,
	                       scratch, err, errlen);
	if (!rc)
		rc = check_section(p->producer, SEC_PRODUCER, BUS_SCOPE_CONSUMER,
		                   BUS_SCOPE_CONSUMER, scratch, err, errlen);
	if (!rc)
		rc = check_section(p->consumer, SEC_CONSUMER, BUS_SCOPE_PRODUCER,
		                   BUS_SCOPE_PRODUCER, scratch, err, errlen);
	if (scratch)
		rd_kafka_conf_destroy(scratch);
	return rc;
}

static int set(rd_kafka_conf_t *conf, const char *sec, const char *k, const char *v, char *err,
               size_t errlen)
{
	char kerr[256];
	if (rd_kafka_conf_set(conf, k, v, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "%s.%s: %s", sec, k, kerr);
		return ERR_CONFIG;
	}
	return 0;
}

/* Sets a section's properties; notes whether it named bootstrap.servers. */
static int set_section(rd_kafka_conf_t *conf, const char *sec, const cfg_kv *kv,
                       bool *have_bootstrap, char *err, size_t errlen)
{
	for (; kv; kv = kv->next) {
		if (set(conf, sec, kv->key, kv->value, err, errlen))
			return ERR_CONFIG;
		if (strcmp(kv->key, "bootstrap.servers") == 0)
			*have_bootstrap = true;
	}
	return 0;
}

rd_kafka_conf_t *bus_conf_new(enum bus_role role, const bus_props *props,
                              const char *bootstrap_file, const char *group, char *err,
                              size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, bus_log_line);
	const struct kv_default *defs =
	    role == BUS_PRODUCER ? producer_defaults : consumer_defaults;
	size_t ndefs = role == BUS_PRODUCER
	                   ? sizeof producer_defaults / sizeof producer_defaults[0]
	                   : sizeof consumer_defaults / sizeof consumer_defaults[0];
	for (size_t i = 0; i < ndefs; i++)
		if (set(conf, "default", defs[i].key, defs[i].value, err, errlen))
			goto fail;
	if (role == BUS_CONSUMER && group && set(conf, "default", "group.id", group, err, errlen))
		goto fail;

	bool have_bootstrap = false;
	if (props && set_section(conf, SEC_COMMON, props->common, &have_bootstrap, err, errlen))
		goto fail;
	if (props && role == BUS_PRODUCER &&
	    set_section(conf, SEC_PRODUCER, props->producer, &have_bootstrap, err, errlen))
		goto fail;
	if (props && role == BUS_CONSUMER &&
	    set_section(conf, SEC_CONSUMER, props->consumer, &have_bootstrap, err, errlen))
		goto fail;
	if (!have_bootstrap && bootstrap_file && bootstrap_file[0]) {
		char list[1024];
		int rc = bus_read_bootstrap(bootstrap_file, list, sizeof list);
		if (rc) {
			snprintf(err, errlen, "bootstrap file %s: %s", bootstrap_file, err_str(rc));
			goto fail;
		}
		if (set(conf, "bus.bootstrap_file", "bootstrap.servers", list, err, errlen))
			goto fail;
	}
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *bus_client_new(enum bus_role role, rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	rd_kafka_t *rk = rd_kafka_new(role == BUS_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER,
	                              conf, err, errlen);
	if (!rk)
		rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
	return rk;
}

int bus_conf_set(rd_kafka_conf_t *conf, const char *who, const char *k, const char *v, char *err,
                 size_t errlen)
{
	char why[256];
	if (rd_kafka_conf_set(conf, k, v, why, sizeof why) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(err, errlen, "%s: %s: %s", who, k, why);
	return ERR_CONFIG;
}

/* One topic's metadata (*md, the caller destroys it), or NULL (a failed
 * request and a topic's error are logged, each at most once in 10 s: a
 * cluster out of reach fails every request of every poll). */
static log_limit metadata_failures, metadata_errors;

static const struct rd_kafka_metadata_topic *topic_metadata(rd_kafka_t *rk, const char *topic,
                                                            int timeout_ms,
                                                            const struct rd_kafka_metadata **md)
{
	*md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		return NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, md, timeout_ms);
	rd_kafka_topic_destroy(rkt);
	uint64_t skipped;
	if (e) {
		if (log_every(&metadata_failures, 10000, &skipped))
			log_warn("metadata request failed",
			         "topic=%s err=\"%s\" similar_since_last=%" PRIu64, topic,
			         rd_kafka_err2str(e), skipped);
		*md = NULL;
		return NULL;
	}
	if ((*md)->topic_cnt != 1)
		return NULL;
	if ((*md)->topics[0].err) {
		if (log_every(&metadata_errors, 10000, &skipped))
			log_warn("topic metadata error",
			         "topic=%s err=\"%s\" similar_since_last=%" PRIu64, topic,
			         rd_kafka_err2str((*md)->topics[0].err), skipped);
		return NULL;
	}
	return &(*md)->topics[0];
}

int bus_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
	const struct rd_kafka_metadata *md;
	const struct rd_kafka_metadata_topic *t = topic_metadata(rk, topic, timeout_ms, &md);
	int n = t ? t->partition_cnt : ERR_KAFKA;
	if (md)
		rd_kafka_metadata_destroy(md);
	return n;
}

int bus_partition_isr(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                      int *isr, int *replicas)
{
	const struct rd_kafka_metadata *md;
	const struct rd_kafka_metadata_topic *t = topic_metadata(rk, topic, timeout_ms, &md);
	int rc = ERR_KAFKA;
	for (int i = 0; t && i < t->partition_cnt; i++) {
		if (t->partitions[i].id != partition)
			continue;
		*isr = t->partitions[i].isr_cnt;
		*replicas = t->partitions[i].replica_cnt;
		rc = 0;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	return rc;
}

int bus_config_ask(rd_kafka_t *rk, const char *topic, int timeout_ms, rd_kafka_queue_t *q)
{
	rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_AdminOptions_t *ao =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	char why[256];
	int rc = ERR_KAFKA;
	if (r && ao &&
	    rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, why, sizeof why) == 0) {
		rd_kafka_DescribeConfigs(rk, &r, 1, ao, q);
		rc = 0;
	}
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	if (r)
		rd_kafka_ConfigResource_destroy(r);
	return rc;
}

int bus_config_int(rd_kafka_event_t *ev, const char *name, int64_t *out)
{
	const rd_kafka_DescribeConfigs_result_t *res = rd_kafka_event_DescribeConfigs_result(ev);
	if (!res || rd_kafka_event_error(ev))
		return ERR_KAFKA;
	size_t nres, nent;
	const rd_kafka_ConfigResource_t **rs =
	    rd_kafka_DescribeConfigs_result_resources(res, &nres);
	for (size_t i = 0; i < nres; i++) {
		if (rd_kafka_ConfigResource_error(rs[i]))
			return ERR_KAFKA;
		const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[i], &nent);
		for (size_t j = 0; j < nent; j++) {
			const char *v = rd_kafka_ConfigEntry_value(es[j]);
			if (strcmp(rd_kafka_ConfigEntry_name(es[j]), name) != 0 || !v)
				continue;
			char *end;
			errno = 0;
			long long n = strtoll(v, &end, 10);
			if (errno || end == v || *end)
				return ERR_NOTFOUND;
			*out = n;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

int bus_dlq_init(bus_dlq *d, rd_kafka_t *producer, const char *topic, const char *source,
                 const char *by, const char *what, void *mark, char *err, size_t errlen)
{
	*d = (bus_dlq){.producer = producer,
	               .topic_name = topic ? topic : "",
	               .source = source,
	               .by = by,
	               .what = what,
	               .mark = mark};
	if (!topic || !topic[0])
		return 0;
	d->topic = rd_kafka_topic_new(producer, topic, NULL);
	if (!d->topic) {
		snprintf(err, errlen, "topic %s: %s", topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
		return ERR_KAFKA;
	}
	return 0;
}

void bus_dlq_free(bus_dlq *d)
{
	if (d->topic)
		rd_kafka_topic_destroy(d->topic);
	d->topic = NULL;
}

int bus_dlq_send(const bus_dlq *d, int32_t partition, int64_t offset, const void *msg, size_t len,
                 const char *reason)
{
	char what[96];
	if (!d->topic) {
		snprintf(what, sizeof what,
		         "%s refused; no dead-letter topic, so only this line records it", d->what);
		log_warn(what,
		         "topic=%s partition=%" PRId32 " offset=%" PRId64
		         " bytes=%zu reason=\"%s\"",
		         d->source, partition, offset, len, reason);
		return 0;
	}
	char part[16], off[24];
	snprintf(part, sizeof part, "%" PRId32, partition);
	snprintf(off, sizeof off, "%" PRId64, offset);
	for (int tries = 0;; tries++) {
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    d->producer, RD_KAFKA_V_RKT(d->topic), RD_KAFKA_V_VALUE((void *)msg, len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_HEADER("reason", reason, -1),
		    RD_KAFKA_V_HEADER("source_topic", d->source, -1),
		    RD_KAFKA_V_HEADER("source_partition", part, -1),
		    RD_KAFKA_V_HEADER("source_offset", off, -1),
		    RD_KAFKA_V_HEADER("dlq_by", d->by, -1), RD_KAFKA_V_OPAQUE(d->mark),
		    RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(what, sizeof what, "%s refused; copied to the dead-letter topic",
			         d->what);
			log_warn(what,
			         "topic=%s partition=%" PRId32 " offset=%" PRId64
			         " dlq=%s reason=\"%s\"",
			         d->source, partition, offset, d->topic_name, reason);
			return 0;
		}
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= BUS_DLQ_FULL_TRIES) {
			snprintf(what, sizeof what,
			         "%s refused and not dead-lettered; only this line records it",
			         d->what);
			log_error(what,
			          "topic=%s partition=%" PRId32 " offset=%" PRId64
			          " bytes=%zu reason=\"%s\" err=\"%s\"",
			          d->source, partition, offset, len, reason, rd_kafka_err2str(e));
			return ERR_KAFKA;
		}
		rd_kafka_poll(d->producer, BUS_DLQ_FULL_POLL_MS);
	}
}

bool bus_dlq_report(const bus_dlq *d, const rd_kafka_message_t *m, bool *failed)
{
	*failed = false;
	if (m->_private != d->mark)
		return false;
	if (m->err) {
		*failed = true;
		char what[96];
		snprintf(what, sizeof what, "dead letter not delivered; the %s is only in the log",
		         d->what);
		log_error(what, "topic=%s err=\"%s\"", d->topic_name, rd_kafka_err2str(m->err));
	}
	return true;
}

uint64_t bus_batch_writer(rd_kafka_message_t *m)
{
	rd_kafka_headers_t *hs;
	const void *v;
	size_t n;
	if (rd_kafka_message_headers(m, &hs) ||
	    rd_kafka_header_get_last(hs, WIRE_WRITER_HEADER, &v, &n) || !v || n == 0 || n > 20)
		return 0;
	const char *d = v;
	uint64_t e = 0;
	for (size_t i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9' || e > (UINT64_MAX - (uint64_t)(d[i] - '0')) / 10)
			return 0;
		e = e * 10 + (uint64_t)(d[i] - '0');
	}
	return e;
}
