/* drill_int.h - the drill file parser's own state, shared by drill.c
 * (lines, settings, the second pass), drill_steps.c (the action table
 * and one step line) and drill_words.c (one word: numbers, node names,
 * the error), in that order of layers: the parser, the settings that
 * may appear once each, the bounds they check against, and the few
 * calls down between the files. Private to sim/drill/. Any thread (one
 * parser per call).
 */
#ifndef SIM_DRILL_DRILL_INT_H
#define SIM_DRILL_DRILL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/drill/drill.h"

#define TIME_MAX_S 86400.0
#define MS_MAX 60000
#define RATE_MAX 1000000.0

/* The settings that may appear once each; skew is tracked per edge. */
enum {
	SET_NAME,
	SET_REGIONS,
	SET_CENTRALS,
	SET_PARTITIONS,
	SET_SHARDS,
	SET_DURATION,
	SET_RATE,
	SET_USERS,
	SET_ITEMS,
	SET_ZIPF,
	SET_VIRAL,
	SET_UNLIKE,
	SET_SUM,
	SET_ROAM,
	SET_UNDO,
	SET_READS,
	SET_ME,
	SET_GIVE_UP,
	SET_SNAPSHOT,
	SET_BATCH_AGE,
	SET_CONVERGE,
	SET_SEED,
	SET_PROCS,
	SET_STORE_CACHE,
	SET_LATENCY_EVERY,
	SET_BROKER_IDLE,
	SET_NETNS,
	SET_CLIENT_RELAY,
	SET_CHANGELOG,
	SET_STANDBY,
	SET_TAKEOVER,
	SET_REGIONAL,
	SET_DURABILITY,
	SET_FEED,
	SET_SNAPSHOT_CHECK,
	SET_FETCH_WAIT,
	SET_MILESTONES,
	SET_KAFKA,
	SET_KAFKA_NODES,
	SET_REGIONAL_NODES,
	SET_REGIONAL_NETNS,
	SET_KAFKA_FULL_JIT,
	SET_CLIENT_CONNS,
	SET_COUNT,
};

typedef struct parser {
	const char *path;
	char *err;
	size_t errlen;
	int line;
	drill *d;
	size_t cap;                          /* of d->steps */
	int seen[SET_COUNT];                 /* line where each setting was given, 0: not yet */
	int skew_line[2][DRILL_REGIONS_MAX]; /* [1]: edgeN.standby's */
	int nodes_line[DRILL_REGIONS_MAX];   /* regional_nodes edgeK N */
	bool short_given;                    /* "duration F short S" */
	bool short_rate_given;
	int late_line; /* earliest failure of the second pass, 0: none */
	char late_msg[160];
} parser;

/* --- one word (drill_words.c) ----------------------------------------------- */

/* Writes "path:line: " and the message into p->err; returns ERR_CONFIG. */
int drill_fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* c is a decimal digit. */
bool drill_is_digit(char c);
/* s as a whole number 0..UINT64_MAX (no sign). 0, or drill_fail's code. */
int drill_get_u64(parser *p, const char *what, const char *s, uint64_t *out);
/* s as a whole number in lo..hi (what names it in the error). 0, or
 * drill_fail's code. */
int drill_get_int(parser *p, const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out);
/* s as a decimal in lo..hi (no exponent, inf or nan). 0, or drill_fail's
 * code. */
int drill_get_real(parser *p, const char *what, const char *s, double lo, double hi, double *out);
/* "edgeN" or "centralN"; "edgeN.standby" too when standby is not NULL
 * (*standby then says which was written). 0, or drill_fail's code. */
int drill_get_node(parser *p, const char *word, drill_node_kind *kind, int *index, bool *standby);
/* "kafkaR.nodeN" (N 1..DRILL_REGIONAL_BROKERS), "kafkaR.leader" when
 * leader_ok (DRILL_BROKER_LEADER), "kafkaR.others" when others_ok
 * (DRILL_BROKER_OTHERS): a node of region R's own cluster. */
int drill_get_kafka_node(parser *p, const char *word, bool leader_ok, bool others_ok, int *region,
                         int *id);
/* --- one step (drill_steps.c) ---------------------------------------------- */

/* One "at T ACTION ARGS..." line split into its nw words w (w[0] is
 * "at"), text the statement as written: appended to p->d->steps. 0, or
 * drill_fail's code. drill_steps.c. */
int drill_parse_step(parser *p, char **w, int nw, const char *text);

#endif
