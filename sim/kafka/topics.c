/* topics.c - configs/deploy/topics.conf, parsed (topics.h). Pure. */
#include "sim/kafka/topics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "sim/proc/service.h"

#define FILE_MAX (256 * 1024)

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > KTOPIC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool last_star = c == '*' && i == n - 1 && n > 1;
		if (!last_star && !item_name_char(c))
			return false;
	}
	return true;
}

static bool int_in(const char *s, int lo, int hi, int *out)
{
	long v;
	if (!service_parse_long(s, lo, hi, &v))
		return false;
	*out = (int)v;
	return true;
}

/* One line's words into t; NULL, or why not. */
static const char *parse_line(char **w, size_t nw, ktopic *t)
{
	if (nw < 4)
		return "want CLUSTER TOPIC PARTITIONS REPLICATION [KEY=VALUE ...]";
	if (strcmp(w[0], "central") != 0 && strcmp(w[0], "regional") != 0)
		return "the cluster is central or regional";
	if (!name_ok(w[1]))
		return "not a topic name (or a prefix ending in '*')";
	if (!int_in(w[2], 1, 10000, &t->partitions))
		return "partitions: 1..10000";
	if (!int_in(w[3], 1, 16, &t->replication))
		return "replication: 1..16";
	if (nw - 4 > KTOPIC_CONFIGS_MAX)
		return "too many configs";
	snprintf(t->cluster, sizeof t->cluster, "%s", w[0]);
	snprintf(t->name, sizeof t->name, "%s", w[1]);
	for (size_t i = 4; i < nw; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq || eq == w[i] || !eq[1] || strlen(w[i]) >= KTOPIC_CONFIG_MAX)
			return "a config is KEY=VALUE";
		ktopic_config *c = &t->configs[t->nconfigs++];
		snprintf(c->key, sizeof c->key, "%.*s", (int)(eq - w[i]), w[i]);
		snprintf(c->value, sizeof c->value, "%s", eq + 1);
	}
	return NULL;
}

int ktopics_parse(const char *name, const char *text, ktopics *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	char *copy = strdup(text);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return ERR_IO;
	}
	int rc = 0, line = 0;
	char *next = copy;
	while (next && *next) {
		char *l = next;
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		line++;
		char *hash = strchr(l, '#');
		if (hash)
			*hash = '\0';
		char *w[4 + KTOPIC_CONFIGS_MAX + 1], *ws = NULL;
		size_t nw = 0;
		for (char *t = strtok_r(l, " \t\r", &ws); t; t = strtok_r(NULL, " \t\r", &ws)) {
			if (nw == sizeof w / sizeof w[0]) {
				nw++;
				break;
			}
			w[nw++] = t;
		}
		if (nw == 0)
			continue;
		if (out->n == KTOPICS_MAX) {
			snprintf(err, errlen, "%s:%d: more than %d topics", name, line,
			         KTOPICS_MAX);
			rc = ERR_CONFIG;
			break;
		}
		ktopic *t = &out->t[out->n];
		memset(t, 0, sizeof *t);
		const char *why =
		    nw > 4 + KTOPIC_CONFIGS_MAX ? "too many configs" : parse_line(w, nw, t);
		if (!why && ktopics_find(out, t->name) &&
		    strcmp(ktopics_find(out, t->name)->name, t->name) == 0)
			why = "the topic is listed twice";
		if (why) {
			snprintf(err, errlen, "%s:%d: %s", name, line, why);
			rc = ERR_CONFIG;
			break;
		}
		out->n++;
	}
	free(copy);
	return rc;
}

int ktopics_load(const char *path, ktopics *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_IO;
	}
	char *buf = malloc(FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	bool bad = !buf || ferror(f) || n > FILE_MAX;
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: unreadable or over %d bytes", path, FILE_MAX);
		free(buf);
		return ERR_IO;
	}
	buf[n] = '\0';
	int rc = ktopics_parse(path, buf, out, err, errlen);
	free(buf);
	return rc;
}

const ktopic *ktopics_find(const ktopics *ts, const char *name)
{
	const ktopic *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < ts->n; i++) {
		const ktopic *t = &ts->t[i];
		size_t len = strlen(t->name);
		if (t->name[len - 1] != '*') {
			if (strcmp(t->name, name) == 0)
				return t;
			continue;
		}
		if (strncmp(t->name, name, len - 1) == 0 && strlen(name) >= len &&
		    len - 1 > best_len) {
			best = t;
			best_len = len - 1;
		}
	}
	return best;
}

const char *ktopic_config_get(const ktopic *t, const char *key)
{
	for (size_t i = 0; i < t->nconfigs; i++)
		if (strcmp(t->configs[i].key, key) == 0)
			return t->configs[i].value;
	return NULL;
}
