/* drill_words.c - the drill parser's readers of one word (drill_int.h):
 * a number in a range, a node's name, and the error that names the
 * file and line. Below drill.c and drill_steps.c, which both read words
 * with them; calls nothing of the parser.
 */
#include "sim/drill/drill_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_INDEX_MAX 999

int drill_fail(parser *p, const char *fmt, ...)
{
	if (p->err && p->errlen) {
		int k = snprintf(p->err, p->errlen, "%s:%d: ", p->path, p->line);
		if (k >= 0 && (size_t)k < p->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return ERR_CONFIG;
}

bool drill_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Past [+-]digits at s (a sign only when sign_ok); NULL when no digit. */
static const char *skip_digits(const char *s, bool sign_ok)
{
	if (sign_ok && (*s == '-' || *s == '+'))
		s++;
	if (!drill_is_digit(*s))
		return NULL;
	while (drill_is_digit(*s))
		s++;
	return s;
}

/* [+-]digits, nothing else (no hex, no spaces, no suffix). */
static bool int_syntax(const char *s, bool sign_ok)
{
	s = skip_digits(s, sign_ok);
	return s && *s == '\0';
}

/* [+-]digits[.digits]: no exponent, no inf or nan. */
static bool real_syntax(const char *s, bool sign_ok)
{
	s = skip_digits(s, sign_ok);
	if (s && *s == '.')
		s = skip_digits(s + 1, false);
	return s && *s == '\0';
}

int drill_get_int(parser *p, const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	if (!int_syntax(s, true))
		return drill_fail(p, "bad number '%s' for %s (a whole number)", s, what);
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE || v < lo || v > hi)
		return drill_fail(p, "%s %s out of range %lld..%lld", what, s, (long long)lo,
		                  (long long)hi);
	*out = v;
	return 0;
}

int drill_get_real(parser *p, const char *what, const char *s, double lo, double hi, double *out)
{
	if (!real_syntax(s, true))
		return drill_fail(p, "bad number '%s' for %s", s, what);
	double v = strtod(s, NULL);
	if (!isfinite(v) || v < lo || v > hi)
		return drill_fail(p, "%s %s out of range %g..%g", what, s, lo, hi);
	*out = v;
	return 0;
}

int drill_get_u64(parser *p, const char *what, const char *s, uint64_t *out)
{
	if (!int_syntax(s, false))
		return drill_fail(p, "bad number '%s' for %s (a whole number)", s, what);
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno == ERANGE)
		return drill_fail(p, "%s %s out of range 0..%llu", what, s,
		                  (unsigned long long)UINT64_MAX);
	*out = v;
	return 0;
}

int drill_get_kafka_node(parser *p, const char *word, bool leader_ok, bool others_ok, int *region,
                         int *id)
{
	const char *dot = strchr(word, '.');
	char num[8];
	size_t nl = dot ? (size_t)(dot - word) - 5 : 0;
	if (strncmp(word, "kafka", 5) != 0 || !dot || nl == 0 || nl >= sizeof num)
		return drill_fail(p,
		                  "bad Kafka node '%s' (kafkaR.nodeN, kafkaR.leader or "
		                  "kafkaR.others)",
		                  word);
	memcpy(num, word + 5, nl);
	num[nl] = '\0';
	int64_t r;
	int rc = drill_get_int(p, "Kafka cluster's region", num, 0, DRILL_REGIONS_MAX - 1, &r);
	if (rc)
		return rc;
	*region = (int)r;
	const char *what = dot + 1;
	if (strcmp(what, "leader") == 0 || strcmp(what, "others") == 0) {
		bool leader = what[0] == 'l';
		if (leader ? !leader_ok : !others_ok)
			return drill_fail(p, "'%s' does not fit here (%s)", word,
			                  leader ? "leader names the first node of a cut"
			                         : "others names the second node of a cut");
		*id = leader ? DRILL_BROKER_LEADER : DRILL_BROKER_OTHERS;
		return 0;
	}
	if (strncmp(what, "node", 4) != 0)
		return drill_fail(p,
		                  "bad Kafka node '%s' (kafkaR.nodeN, kafkaR.leader or "
		                  "kafkaR.others)",
		                  word);
	int64_t v;
	if ((rc = drill_get_int(p, "Kafka node", what + 4, 1, DRILL_REGIONAL_BROKERS, &v)))
		return rc;
	*id = (int)v;
	return 0;
}

/* "edgeN" or "centralN"; "edgeN.standby" too when standby is not NULL
 * (*standby then says which was written). */
int drill_get_node(parser *p, const char *word, drill_node_kind *kind, int *index, bool *standby)
{
	static const char suffix[] = ".standby";
	const char *wanted = standby ? "edgeN, edgeN.standby or centralN" : "edgeN or centralN";
	char buf[16];
	const char *s = word, *num;
	size_t n = strlen(word), sl = sizeof suffix - 1;
	if (standby)
		*standby = false;
	if (standby && n > sl && n - sl < sizeof buf && strncmp(word, "edge", 4) == 0 &&
	    strcmp(word + n - sl, suffix) == 0) {
		memcpy(buf, word, n - sl);
		buf[n - sl] = '\0';
		s = buf;
		*standby = true;
	}
	if (strncmp(s, "edge", 4) == 0) {
		*kind = DRILL_EDGE;
		num = s + 4;
	} else if (strncmp(s, "central", 7) == 0) {
		*kind = DRILL_CENTRAL;
		num = s + 7;
	} else {
		return drill_fail(p, "bad node '%s' (%s)", word, wanted);
	}
	if (!int_syntax(num, false) || strlen(num) > 3)
		return drill_fail(p, "bad node '%s' (%s)", word, wanted);
	long v = strtol(num, NULL, 10);
	if (v > NODE_INDEX_MAX)
		return drill_fail(p, "bad node '%s' (%s)", word, wanted);
	*index = (int)v;
	return 0;
}
