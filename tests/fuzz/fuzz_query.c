/* fuzz_query.c - libFuzzer target for the query-string parser
 * (common/query.c), differential: each input (up to its first NUL) is
 * parsed by query_parse and by libevent's evhttp_parse_query_str, whose
 * rules query.h promises, and any difference in verdict, names, values
 * or the first-match lookup aborts. Inputs with more parameters than
 * QUERY_PARAMS_MAX are refused by query_parse on purpose and only need
 * not crash. Single-threaded.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "err.h"
#include "query.h"
#include "xmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	query q;
	int ours = query_parse(&q, s);
	struct evkeyvalq kv;
	TAILQ_INIT(&kv);
	int theirs = evhttp_parse_query_str(s, &kv);
	if (ours != ERR_TOOBIG) {
		if ((ours != 0) != (theirs != 0))
			abort();
		size_t n = 0;
		for (struct evkeyval *e = TAILQ_FIRST(&kv); !theirs && e; e = TAILQ_NEXT(e, next)) {
			if (n >= q.n || strcmp(q.p[n].name, e->key) != 0 ||
			    strcmp(q.p[n].value, e->value) != 0)
				abort();
			const char *a = query_get(&q, e->key), *b = evhttp_find_header(&kv, e->key);
			if (!a || !b || strcmp(a, b) != 0)
				abort();
			n++;
		}
		if (!theirs && n != q.n)
			abort();
	}
	evhttp_clear_headers(&kv);
	query_free(&q);
	free(s);
	return 0;
}
