/* nemesis_shrink.c - the smaller schedules a failing drill is tried as
 * (nemesis.h, nemesis_shrink_candidate): its run cut short after its
 * last step, each fault dropped with its heal and its settling start,
 * each fault's time in force halved. Works on the file's text, line by
 * line, so a candidate keeps every other line (settings, comments) as
 * written and adds a comment saying what it changed.
 *
 * Owns nothing past a call but the text it hands back. Pure. Any thread.
 */
#include "sim/drill/nemesis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "xmem.h"

#define SHRINK_SHORTEST_S 5.0 /* a fault is not shortened below this */
#define SHRINK_TAIL_MIN_S 15.0

/* The text's lines, split in place in a copy: line k (1-based) at
 * lines[k - 1]. */
typedef struct lines {
	char *buf;
	char **at;
	size_t n;
} lines;

static void lines_split(lines *ls, const char *text)
{
	ls->buf = xstrdup(text);
	size_t cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == '\n';
	ls->at = xcalloc(cap, sizeof *ls->at);
	ls->n = 0;
	char *p = ls->buf;
	while (*p) {
		ls->at[ls->n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
}

static void lines_free(lines *ls)
{
	free(ls->buf);
	free(ls->at);
}

/* "at T REST" with T moved to at_s; NULL when the line is not a step. */
static char *retime(const char *line, double at_s)
{
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "at ", 3) != 0)
		return NULL;
	p += 3;
	while (*p == ' ')
		p++;
	const char *rest = strchr(p, ' ');
	if (!rest)
		return NULL;
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "at %.1f%s", at_s, rest);
	return sbuf_take(&b, NULL);
}

/* The text back from its lines, with drop[k] lines left out and
 * repl[k] (when not NULL) in place of line k; note first as a comment. */
static char *join(const lines *ls, const bool *drop, char *const *repl, const char *note)
{
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "# shrink: %s\n", note);
	for (size_t k = 0; k < ls->n; k++) {
		if (drop[k])
			continue;
		sbuf_addf(&b, "%s\n", repl[k] ? repl[k] : ls->at[k]);
	}
	return sbuf_take(&b, NULL);
}

/* The run cut to what its last step needs: the tail after it as
 * nemesis_draw keeps one (a tenth, 15 s at least), 60 s at least.
 * Applies to a file whose duration line is "duration N" alone. */
static int cut_duration(const drill *d, const lines *ls, bool *drop, char **repl, char *what,
                        size_t whatlen)
{
	double last = 0;
	for (size_t i = 0; i < d->nsteps; i++)
		if (d->steps[i].at_s > last)
			last = d->steps[i].at_s;
	double tail =
	    d->duration_s / 10 > SHRINK_TAIL_MIN_S ? d->duration_s / 10 : SHRINK_TAIL_MIN_S;
	double want = ceil(last + tail);
	if (want < NEMESIS_DURATION_MIN_S)
		want = NEMESIS_DURATION_MIN_S;
	if (want >= d->duration_s)
		return 0;
	for (size_t k = 0; k < ls->n; k++) {
		unsigned v;
		char extra;
		if (sscanf(ls->at[k], "duration %u %c", &v, &extra) != 1)
			continue;
		sbuf b;
		sbuf_init(&b);
		sbuf_addf(&b, "duration %.0f", want);
		repl[k] = sbuf_take(&b, NULL);
		snprintf(what, whatlen, "the run cut from %.0f s to %.0f s", d->duration_s, want);
		(void)drop;
		return 1;
	}
	return 0;
}

/* The step as written ("at T STEP"), quoted. */
static void step_note(char *dst, size_t len, const drill_step *s)
{
	snprintf(dst, len, "'%s'", s->text);
}

/* Fault f dropped: its opening, its heal and its settling start, and
 * the comment nemesis_draw wrote for it ("# fault K: KIND, FROM-TO s"). */
static int drop_fault(const drill *d, const lines *ls, const nemesis_fault *f, bool *drop,
                      char *what, size_t whatlen)
{
	const drill_step *s = &d->steps[f->open];
	drop[s->line - 1] = true;
	if (f->heal >= 0) {
		char span[64];
		snprintf(span, sizeof span, ", %.1f-%.1f s", s->at_s, d->steps[f->heal].at_s);
		for (size_t k = 0; k < ls->n; k++)
			if (strncmp(ls->at[k], "# fault ", 8) == 0 && strstr(ls->at[k], span))
				drop[k] = true;
	}
	if (f->heal >= 0)
		drop[d->steps[f->heal].line - 1] = true;
	if (f->settle >= 0)
		drop[d->steps[f->settle].line - 1] = true;
	char note[200];
	step_note(note, sizeof note, s);
	snprintf(what, whatlen, "dropped the fault %s", note);
	return 1;
}

/* Fault f in force half as long (not under SHRINK_SHORTEST_S): its heal
 * earlier, its settling start as much earlier. */
static int shorten_fault(const drill *d, const lines *ls, const nemesis_fault *f, char **repl,
                         char *what, size_t whatlen)
{
	if (f->heal < 0)
		return 0;
	const drill_step *o = &d->steps[f->open], *h = &d->steps[f->heal];
	double len = h->at_s - o->at_s;
	double want = floor(len * 5) / 10; /* half, in whole tenths */
	if (want < SHRINK_SHORTEST_S)
		want = SHRINK_SHORTEST_S;
	if (want >= len - 0.05)
		return 0;
	double moved = len - want;
	repl[h->line - 1] = retime(ls->at[h->line - 1], o->at_s + want);
	if (!repl[h->line - 1])
		return 0;
	if (f->settle >= 0) {
		const drill_step *st = &d->steps[f->settle];
		repl[st->line - 1] = retime(ls->at[st->line - 1], st->at_s - moved);
	}
	char note[200];
	step_note(note, sizeof note, o);
	snprintf(what, whatlen, "the fault %s in force %.1f s instead of %.1f s", note, want, len);
	return 1;
}

int nemesis_shrink_candidate(const char *text, size_t i, char **out, char *what, size_t whatlen)
{
	*out = NULL;
	drill *d = xcalloc(1, sizeof *d);
	char err[256];
	if (drill_parse("shrink", text, d, err, sizeof err)) {
		free(d);
		snprintf(what, whatlen, "%s", err);
		return -2;
	}
	nemesis_fault f[DRILL_STEPS_MAX];
	size_t nf = nemesis_faults(d, f, DRILL_STEPS_MAX);
	lines ls;
	lines_split(&ls, text);
	bool *drop = xcalloc(ls.n ? ls.n : 1, sizeof *drop);
	char **repl = xcalloc(ls.n ? ls.n : 1, sizeof *repl);
	char note[256] = "";
	int rc;
	if (i == 0)
		rc = cut_duration(d, &ls, drop, repl, note, sizeof note);
	else if (i <= nf)
		rc = drop_fault(d, &ls, &f[i - 1], drop, note, sizeof note);
	else if (i <= 2 * nf)
		rc = shorten_fault(d, &ls, &f[i - 1 - nf], repl, note, sizeof note);
	else
		rc = -1;
	if (rc == 1) {
		*out = join(&ls, drop, repl, note);
		snprintf(what, whatlen, "%s", note);
	}
	for (size_t k = 0; k < ls.n; k++)
		free(repl[k]);
	free(repl);
	free(drop);
	lines_free(&ls);
	drill_free(d);
	free(d);
	return rc;
}
