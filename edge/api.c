/* api.c - the edge's routes (api.h). Validates everything before it
 * touches the ledger; every refusal is a JSON error body. Loop thread.
 */
#include "api.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "display.h"
#include "item.h"
#include "log.h"
#include "xmem.h"

/* --- answers -------------------------------------------------------------- */

static void respond(http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void respond(http_response *resp, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	int n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		resp->status = 500;
		return;
	}
	resp->status = status;
	resp->body = body;
	resp->body_len = (size_t)n;
}

/* Response headers here are short literals; a refusal would be a bug. */
static void add_header(http_response *resp, const char *name, const char *value)
{
	int rc = http_add_header(resp, name, value);
	if (rc)
		log_error("response header dropped", "name=%s err=\"%s\"", name, err_str(rc));
}

static void error(http_response *resp, int status, const char *code, const char *message)
{
	respond(resp, status, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
}

/* --- routing -------------------------------------------------------------- */

typedef struct route {
	char item[ITEM_MAX + 1];
	char counter[COUNTER_MAX + 1];
	bool me;
} route;

/* Parses /v1/items/{type}/{id}/{counter}[/me]. Returns 0, or 404 / 400
 * with *why set. */
static int parse_item_route(const api *a, const char *path, route *r, const char **code,
			    const char **why)
{
	const char *p = path + strlen("/v1/items/");
	const char *end = p + strcspn(p, "?");
	const char *seg[4];
	size_t len[4];
	int n = 0;
	while (p < end) {
		if (n == 4)
			goto notfound;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t l = slash ? (size_t)(slash - p) : (size_t)(end - p);
		seg[n] = p;
		len[n++] = l;
		p += l + (slash ? 1 : 0);
		if (slash && p == end)
			goto notfound; /* trailing slash */
	}
	if (n == 4 && !(len[3] == 2 && memcmp(seg[3], "me", 2) == 0))
		goto notfound;
	if (n < 3)
		goto notfound;
	if (!item_in_names(a->types, seg[0], len[0])) {
		*code = "invalid_item";
		*why = "unknown item type";
		return 400;
	}
	if (!item_id_valid(seg[1], len[1])) {
		*code = "invalid_item";
		*why = "item id must match [A-Za-z0-9_-]{1,64}";
		return 400;
	}
	if (!item_in_names(a->counters, seg[2], len[2])) {
		*code = "unknown_counter";
		*why = "no such counter";
		return 404;
	}
	snprintf(r->item, sizeof r->item, "%.*s:%.*s", (int)len[0], seg[0], (int)len[1], seg[1]);
	snprintf(r->counter, sizeof r->counter, "%.*s", (int)len[2], seg[2]);
	r->me = n == 4;
	return 0;
notfound:
	*code = "not_found";
	*why = "no such route";
	return 404;
}

static void answer_write(api *a, const http_request *req, http_response *resp, const route *r,
			 bool add)
{
	char user[USER_MAX + 1];
	const char *why;
	if (identity_user(&a->ic, req, user, &why)) {
		error(resp, 401, "unauthenticated", why);
		return;
	}
	ledger_answer ans;
	int rc = ledger_write(a->lg, r->counter, r->item, user, add, clock_wall_ms(), &ans);
	if (rc == ERR_FULL) {
		add_header(resp, "retry-after", "5");
		error(resp, 503, "over_budget",
		      "this edge cannot record more writes until its backlog drains");
		return;
	}
	if (rc) {
		log_error("write failed", "item=%s counter=%s err=\"%s\"", r->item, r->counter,
			  err_str(rc));
		add_header(resp, "retry-after", "1");
		error(resp, 503, "store_unavailable", "the write could not be recorded");
		return;
	}
	char disp[DISPLAY_MAX];
	display_count(ans.count, disp, sizeof disp);
	respond(resp, 200,
		"{\"item\":\"%s\",\"counter\":\"%s\",\"member\":%s,\"changed\":%s,"
		"\"count\":%" PRIu64 ",\"display\":\"%s\",\"hlc\":%" PRIu64 "}",
		r->item, r->counter, ans.member ? "true" : "false", ans.changed ? "true" : "false",
		ans.count, disp, ans.hlc);
}

static void answer_count(api *a, http_response *resp, const route *r)
{
	uint64_t count, version;
	int rc = ledger_count(a->lg, r->counter, r->item, &count, &version);
	if (rc) {
		error(resp, 503, "store_unavailable", "the count could not be read");
		return;
	}
	char disp[DISPLAY_MAX];
	display_count(count, disp, sizeof disp);
	respond(resp, 200,
		"{\"item\":\"%s\",\"counter\":\"%s\",\"count\":%" PRIu64 ",\"display\":\"%s\","
		"\"version\":%" PRIu64 "}",
		r->item, r->counter, count, disp, version);
}

static void answer_me(api *a, const http_request *req, http_response *resp, const route *r)
{
	char user[USER_MAX + 1];
	const char *why;
	if (identity_user(&a->ic, req, user, &why)) {
		error(resp, 401, "unauthenticated", why);
		return;
	}
	int state;
	if (ledger_member(a->lg, r->counter, r->item, user, &state)) {
		error(resp, 503, "store_unavailable", "membership could not be read");
		return;
	}
	add_header(resp, "cache-control", "private, no-store");
	respond(resp, 200, "{\"item\":\"%s\",\"counter\":\"%s\",\"member\":%s,\"source\":\"%s\"}",
		r->item, r->counter, state == 1 ? "true" : "false",
		state < 0 ? "unknown_here" : "local");
}

void api_handle(void *ctx, const http_request *req, http_response *resp)
{
	api *a = ctx;
	const char *path = req->path;
	bool get = strcmp(req->method, "GET") == 0;
	size_t plen = strcspn(path, "?");

	if (plen == 8 && strncmp(path, "/healthz", 8) == 0) {
		if (!get) {
			add_header(resp, "allow", "GET");
			error(resp, 405, "method_not_allowed", "use GET");
		} else if (ledger_accepting(a->lg)) {
			respond(resp, 200, "{\"status\":\"ok\",\"edge\":\"%s\"}", a->edge_id);
		} else {
			respond(resp, 503, "{\"status\":\"over_budget\",\"edge\":\"%s\"}", a->edge_id);
		}
		return;
	}
	if (strncmp(path, "/v1/items/", 10) != 0) {
		error(resp, 404, "not_found", "no such route");
		return;
	}
	route r;
	const char *code = NULL, *why = NULL;
	int st = parse_item_route(a, path, &r, &code, &why);
	if (st) {
		error(resp, st, code, why);
		return;
	}
	if (r.me) {
		if (get)
			answer_me(a, req, resp, &r);
		else {
			add_header(resp, "allow", "GET");
			error(resp, 405, "method_not_allowed", "use GET");
		}
		return;
	}
	if (get)
		answer_count(a, resp, &r);
	else if (strcmp(req->method, "POST") == 0)
		answer_write(a, req, resp, &r, true);
	else if (strcmp(req->method, "DELETE") == 0)
		answer_write(a, req, resp, &r, false);
	else {
		add_header(resp, "allow", "GET, POST, DELETE");
		error(resp, 405, "method_not_allowed", "use GET, POST or DELETE");
	}
}
