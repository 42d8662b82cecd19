/* hot.c - the /v1/hot limit and answer (hot.h). */
#include "hot.h"

#include <inttypes.h>
#include <string.h>

bool hot_limit(const char *s, size_t k, size_t *limit)
{
	if (!s) {
		*limit = HOT_LIMIT_DEFAULT < k ? HOT_LIMIT_DEFAULT : k;
		return true;
	}
	size_t v = 0, n = strlen(s);
	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (v < 1 || v > k)
		return false;
	*limit = v;
	return true;
}

void hot_render(sbuf *b, const topk_entry *e, size_t n, uint64_t window_ms, size_t k)
{
	double secs = window_ms ? (double)window_ms / 1000.0 : 1.0;
	sbuf_addf(b, "{\"window_ms\":%" PRIu64 ",\"k\":%zu,\"items\":[", window_ms, k);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		const char *sp = strchr(e[i].key, ' ');
		if (!sp || sp == e[i].key)
			continue;
		/* The daemons count only validated counter and item names:
		 * nothing to escape. */
		sbuf_addf(b,
		          "%s{\"item\":\"%s\",\"counter\":\"%.*s\",\"rate\":%.3f,\"count\":%" PRIu64
		          ",\"error\":%" PRIu64 "}",
		          first ? "" : ",", sp + 1, (int)(sp - e[i].key), e[i].key,
		          e[i].rate / secs, e[i].count, e[i].error);
		first = false;
	}
	sbuf_adds(b, "]}");
}
