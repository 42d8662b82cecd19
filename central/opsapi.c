/* opsapi.c - central's ops API on evhttp, one thread, read-only. */
#include "opsapi.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "item.h"
#include "log.h"
#include "merge.h"
#include "xmem.h"

struct ops_api {
	struct event_base *base;
	struct evhttp *http;
	store *db;
	pthread_t thread;
};

static void reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(out, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
}

static void reply_error(struct evhttp_request *req, int code, const char *ecode, const char *msg)
{
	char body[256];
	snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", ecode, msg);
	reply(req, code, body);
}

/* Splits "/v1/items/T/I/C[/users/U]" into its parts, all validated. */
static int parse(const char *path, char *item, char *counter, char *user)
{
	char type[ITEM_TYPE_MAX + 1], id[ITEM_ID_MAX + 1];
	const char *p = path;
	if (strncmp(p, "/v1/items/", 10))
		return -1;
	p += 10;
	const char *parts[5];
	size_t lens[5];
	int n = 0;
	while (*p && n < 5) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		parts[n] = p;
		lens[n++] = len;
		p += len;
		if (*p == '/')
			p++;
	}
	if (*p || (n != 3 && n != 5))
		return -1;
	if (!item_type_valid(parts[0], lens[0]) || !item_id_valid(parts[1], lens[1]) ||
	    !item_counter_valid(parts[2], lens[2]))
		return -1;
	memcpy(type, parts[0], lens[0]);
	type[lens[0]] = 0;
	memcpy(id, parts[1], lens[1]);
	id[lens[1]] = 0;
	snprintf(item, ITEM_MAX + 1, "%s:%s", type, id);
	memcpy(counter, parts[2], lens[2]);
	counter[lens[2]] = 0;
	user[0] = 0;
	if (n == 5) {
		if (lens[3] != 5 || strncmp(parts[3], "users", 5) ||
		    !item_user_valid(parts[4], lens[4]))
			return -1;
		memcpy(user, parts[4], lens[4]);
		user[lens[4]] = 0;
	}
	return 0;
}

/* Sum and number of items of one counter: a full scan, for operators and
 * tests (the ops export command will grow from it). */
static void totals(struct evhttp_request *req, ops_api *api, const char *counter)
{
	if (!item_counter_valid(counter, strlen(counter))) {
		reply_error(req, 404, "not_found", "no such counter");
		return;
	}
	char prefix[COUNTER_MAX + 2];
	int pn = snprintf(prefix, sizeof prefix, "C%s", counter);
	store_iter *it = store_iter_new(api->db, prefix, (size_t)pn + 1);
	const char *k, *v;
	size_t kn, vn;
	uint64_t items = 0, sum = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (vn != 8)
			continue;
		items++;
		sum += store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		reply_error(req, 503, "store_error", "the store could not be read");
		return;
	}
	char body[256];
	snprintf(body, sizeof body,
		 "{\"counter\":\"%s\",\"items\":%" PRIu64 ",\"sum\":%" PRIu64 "}", counter, items,
		 sum);
	reply(req, 200, body);
}

static void handle(struct evhttp_request *req, void *arg)
{
	ops_api *api = arg;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		reply_error(req, 405, "method_not_allowed", "the ops API is read-only");
		return;
	}
	const char *uri = evhttp_request_get_uri(req);
	if (strcmp(uri, "/healthz") == 0) {
		reply(req, 200, "{\"status\":\"ok\"}");
		return;
	}
	if (strncmp(uri, "/v1/totals/", 11) == 0) {
		totals(req, api, uri + 11);
		return;
	}
	char item[ITEM_MAX + 1], counter[COUNTER_MAX + 1], user[USER_MAX + 1];
	if (parse(uri, item, counter, user)) {
		reply_error(req, 404, "not_found", "no such route");
		return;
	}
	char key[1 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX];
	int kn = snprintf(key, sizeof key, "%c%s%c%s", user[0] ? 'S' : 'C', counter, 0, item);
	if (user[0])
		kn += snprintf(key + kn, sizeof key - (size_t)kn, "%c%s", 0, user);
	char *val;
	size_t vlen;
	int rc = store_get(api->db, key, (size_t)kn, &val, &vlen);
	if (rc && rc != ERR_NOTFOUND) {
		reply_error(req, 503, "store_error", "the store could not be read");
		return;
	}
	char body[512];
	if (user[0]) {
		merge_state st = {0};
		bool member = rc == 0 && merge_state_decode(val, vlen, &st) == 0 && st.present;
		snprintf(body, sizeof body,
			 "{\"item\":\"%s\",\"counter\":\"%s\",\"user\":\"%s\",\"member\":%s,"
			 "\"known\":%s}",
			 item, counter, user, member ? "true" : "false", rc == 0 ? "true" : "false");
	} else {
		uint64_t count = rc == 0 && vlen == 8 ? store_get_u64((unsigned char *)val) : 0;
		snprintf(body, sizeof body, "{\"item\":\"%s\",\"counter\":\"%s\",\"count\":%" PRIu64 "}",
			 item, counter, count);
	}
	if (rc == 0)
		free(val);
	reply(req, 200, body);
}

static void *run(void *arg)
{
	ops_api *api = arg;
	event_base_dispatch(api->base);
	return NULL;
}

ops_api *ops_api_start(const char *listen, store *db, char *err, size_t errlen)
{
	if (!listen || !listen[0])
		return NULL;
	char host[256];
	int port;
	if (cfg_parse_hostport(listen, host, sizeof host, &port)) {
		snprintf(err, errlen, "ops listen address '%s' is not host:port", listen);
		return NULL;
	}
	ops_api *api = xcalloc(1, sizeof *api);
	api->db = db;
	api->base = event_base_new();
	api->http = api->base ? evhttp_new(api->base) : NULL;
	if (!api->http || evhttp_bind_socket(api->http, host[0] ? host : "0.0.0.0",
					     (ev_uint16_t)port)) {
		snprintf(err, errlen, "ops API cannot listen on %s", listen);
		goto fail;
	}
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
						      EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_gencb(api->http, handle, api);
	if (pthread_create(&api->thread, NULL, run, api)) {
		snprintf(err, errlen, "ops API thread could not start");
		goto fail;
	}
	return api;
fail:
	if (api->http)
		evhttp_free(api->http);
	if (api->base)
		event_base_free(api->base);
	free(api);
	return NULL;
}

void ops_api_stop(ops_api *api)
{
	if (!api)
		return;
	event_base_loopbreak(api->base);
	pthread_join(api->thread, NULL);
	evhttp_free(api->http);
	event_base_free(api->base);
	free(api);
}
