/* elections.c - leader changes out of a dumped KRaft metadata log
 * (elections.h). Topics and partitions are few (tens), so both maps are
 * arrays walked in full.
 */
#include "sim/kafka/elections.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "xmem.h"

typedef struct topic_id {
	char id[32]; /* Kafka's topic id, base64 */
	char name[KTOPIC_NAME_MAX + 1];
} topic_id;

typedef struct part_leader {
	char id[32];
	int partition;
	int leader;
} part_leader;

typedef struct metalog {
	topic_id *topics;
	size_t ntopics, captopics;
	part_leader *parts;
	size_t nparts, capparts;
} metalog;

static const char *topic_name(const metalog *m, const char *id)
{
	for (size_t i = 0; i < m->ntopics; i++)
		if (strcmp(m->topics[i].id, id) == 0)
			return m->topics[i].name;
	return "?";
}

static void topic_add(metalog *m, const char *id, const char *name)
{
	if (m->ntopics == m->captopics) {
		m->captopics = m->captopics ? m->captopics * 2 : 16;
		m->topics = xrealloc(m->topics, m->captopics * sizeof *m->topics);
	}
	topic_id *t = &m->topics[m->ntopics++];
	snprintf(t->id, sizeof t->id, "%s", id);
	snprintf(t->name, sizeof t->name, "%s", name);
}

/* The partition's entry, made (leaderless) when new. */
static part_leader *part_at(metalog *m, const char *id, int partition)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].partition == partition && strcmp(m->parts[i].id, id) == 0)
			return &m->parts[i];
	if (m->nparts == m->capparts) {
		m->capparts = m->capparts ? m->capparts * 2 : 64;
		m->parts = xrealloc(m->parts, m->capparts * sizeof *m->parts);
	}
	part_leader *p = &m->parts[m->nparts++];
	snprintf(p->id, sizeof p->id, "%s", id);
	p->partition = partition;
	p->leader = KELECT_NONE;
	return p;
}

/* "CreateTime: MS" in a record's line, or 0. */
static int64_t create_time(const char *line)
{
	const char *t = strstr(line, "CreateTime: ");
	return t ? strtoll(t + 12, NULL, 10) : 0;
}

/* One record's payload; true when it moved a leader (*e filled). */
static bool payload(metalog *m, json_t *rec, int64_t at_ms, kelection *e)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	json_t *data = json_object_get(rec, "data");
	if (!type || !json_is_object(data))
		return false;
	const char *id = json_string_value(json_object_get(data, "topicId"));
	if (strcmp(type, "TOPIC_RECORD") == 0) {
		const char *name = json_string_value(json_object_get(data, "name"));
		if (id && name)
			topic_add(m, id, name);
		return false;
	}
	bool created = strcmp(type, "PARTITION_RECORD") == 0;
	if (!id || (!created && strcmp(type, "PARTITION_CHANGE_RECORD") != 0))
		return false;
	json_t *pj = json_object_get(data, "partitionId"), *lj = json_object_get(data, "leader");
	if (!json_is_integer(pj) || !json_is_integer(lj))
		return false; /* a change of the ISR or the replicas only */
	int leader = (int)json_integer_value(lj);
	if (leader < KELECT_NONE)
		return false; /* -2: "no change", should a writer spell it out */
	part_leader *p = part_at(m, id, (int)json_integer_value(pj));
	int from = p->leader;
	p->leader = leader;
	if (created || from == leader)
		return false;
	snprintf(e->topic, sizeof e->topic, "%s", topic_name(m, id));
	e->partition = p->partition;
	e->from = from;
	e->to = leader;
	e->at_ms = at_ms;
	return true;
}

size_t kelections_read(FILE *f, kelection *out, size_t cap)
{
	metalog m = {0};
	size_t n = 0, len = 0;
	char *line = NULL;
	while (getline(&line, &len, f) > 0) {
		const char *p = strstr(line, "payload: {");
		if (strncmp(line, "| offset: ", 10) != 0 || !p)
			continue;
		json_t *rec = json_loads(p + 9, JSON_DISABLE_EOF_CHECK, NULL);
		if (!rec)
			continue;
		kelection e;
		if (payload(&m, rec, create_time(line), &e)) {
			if (n < cap)
				out[n] = e;
			n++;
		}
		json_decref(rec);
	}
	free(line);
	free(m.topics);
	free(m.parts);
	return n;
}
