/* test_opsapi.c - central's ops API over a real store filled through the
 * applier, asked with a real HTTP/1.1 client (a raw socket): the bearer
 * token and its loopback exemptions, /healthz, /metrics, /v1/counts
 * (shape, limits, validation), the item route with its region and day
 * breakdowns, the users route and /v1/totals. Also the calendar helpers
 * the day breakdown uses.
 *
 * Each test gets its own temp dir with a store, an applier for 4
 * partitions, and the API on 127.0.0.1 at a port the kernel picks.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/thread.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/support/apply_util.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "tests/support/prom_util.h"
#include "central/apply/apply.h"
#include "central/ops/cmetrics.h"
#include "central/apply/day.h"
#include "central/ops/opsapi.h"
#include "clock.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "wire.h"
#include "xmem.h"

#define NPARTS 4
#define TOKEN "s3cret-token"
#define DAY0 20000u /* 2024-10-04 */

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
	cmetrics *cm; /* fed by the applier, as central's run loop does */
	ops_run_stats run;
	ops_api *api;
	int port;
	uint64_t seq[3][NPARTS];
	int64_t offset[NPARTS];
	/* every message applied, to feed a replica the same log */
	struct {
		uint32_t p;
		int64_t offset;
		char *buf;
		size_t len;
	} log[32];
	size_t nlog;
} T;

/* The fixture's API on listen, with a readiness hook when fn is set. */
static ops_api *start_api_ready(const char *listen, const char *token, ops_readiness_fn fn,
                                void *ctx)
{
	ops_api_opts o = {.listen = listen,
	                  .token = token,
	                  .db = T.db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = T.a,
	                  .run = &T.run,
	                  .metrics = T.cm,
	                  .readiness = fn,
	                  .readiness_ctx = ctx};
	char err[256];
	ops_api *api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(api, "ops_api_start: %s", err);
	cr_assert_gt(ops_api_port(api), 0);
	return api;
}

static ops_api *start_api(const char *listen, const char *token)
{
	return start_api_ready(listen, token, NULL, NULL);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	cr_assert_eq(evthread_use_pthreads(), 0);
	T.a = apply_util_open("test_opsapi", "likes,saves", "views,shares", NPARTS, T.dir,
	                      sizeof T.dir, &T.ctr, &T.db);
	cmetrics_opts mo = {
	    .ctr = &T.ctr, .partitions = NPARTS, .ap = T.a, .run = &T.run, .db = T.db};
	T.cm = cmetrics_new(&mo);
	cmetrics_feed(T.cm, T.a);
	T.api = start_api("127.0.0.1:0", TOKEN);
	T.port = ops_api_port(T.api);
}

static void teardown(void)
{
	for (size_t i = 0; i < T.nlog; i++)
		free(T.log[i].buf);
	ops_api_stop(T.api);
	cmetrics_free(T.cm);
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
}

TestSuite(opsapi, .init = setup, .fini = teardown, .timeout = 60);

/* ---- filling the store --------------------------------------------------- */

static const char *const edges[3] = {"m1", "v1", "s1"};
static const char *const regions[3] = {"mumbai", "virginia", "singapore"};

static uint64_t hlc_on(uint32_t d, uint64_t ms)
{
	return hlc_make((uint64_t)d * DAY_MS + ms, 0);
}

static wire_op op(const char *counter, const char *item, const char *user, int kind, uint32_t n,
                  uint64_t ts)
{
	return wire_util_op(counter, item, user, (uint8_t)kind, n, ts);
}

/* Sends ops (all of one partition) as the next batch of edge e. */
static void send_ops(int e, const wire_op *ops, size_t n)
{
	uint32_t p = partition_of(ops[0].item.p, ops[0].item.n, NPARTS);
	wire_util_msg m = wire_util_batch(edges[e], regions[e], p, ++T.seq[e][p], ops, n, NULL, 0);
	char *buf = m.buf;
	size_t len = m.len;
	int rc = applier_apply(T.a, p, T.offset[p], buf, len, 0);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
	cr_assert_lt(T.nlog, sizeof T.log / sizeof T.log[0]);
	T.log[T.nlog].p = p;
	T.log[T.nlog].offset = T.offset[p]++;
	T.log[T.nlog].buf = buf;
	T.log[T.nlog++].len = len;
}

/* post:1 likes: u1 (mumbai, DAY0), u3 (virginia, DAY0+1), u4 (mumbai,
 * today); u2 liked then unliked. views 7: 5 mumbai DAY0, 2 virginia
 * DAY0+2. reel:9 saves: u1. */
static uint64_t today_hlc;

static void fill(void)
{
	today_hlc = hlc_make(clock_wall_ms(), 0);
	wire_op m[3] = {op("likes", "post:1", "u1", WIRE_ADD, 1, hlc_on(DAY0, 1)),
	                op("likes", "post:1", "u2", WIRE_ADD, 1, hlc_on(DAY0 + 1, 1)),
	                op("views", "post:1", "u1", WIRE_ADD, 5, hlc_on(DAY0, 2))};
	send_ops(0, m, 3);
	wire_op v[3] = {op("likes", "post:1", "u3", WIRE_ADD, 1, hlc_on(DAY0 + 1, 2)),
	                op("likes", "post:1", "u2", WIRE_REMOVE, 1, hlc_on(DAY0 + 2, 1)),
	                op("views", "post:1", "u9", WIRE_ADD, 2, hlc_on(DAY0 + 2, 2))};
	send_ops(1, v, 3);
	wire_op t = op("likes", "post:1", "u4", WIRE_ADD, 1, today_hlc);
	send_ops(0, &t, 1);
	wire_op r = op("saves", "reel:9", "u1", WIRE_ADD, 1, hlc_on(DAY0, 3));
	send_ops(0, &r, 1);
	wire_op x = op("likes", "post:1", "x@y", WIRE_ADD, 1, hlc_on(DAY0, 4));
	send_ops(2, &x, 1);
}

/* ---- the client ---------------------------------------------------------- */

typedef struct resp {
	int status;
	char head[4096];
	char *body;
	json_t *json; /* NULL when the body is not JSON */
} resp;

static void resp_free(resp *r)
{
	free(r->body);
	if (r->json)
		json_decref(r->json);
}

/* GET path from host:port with an optional Authorization header value. */
static resp get_from(const char *host, int port, const char *path, const char *auth)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect %s:%d", host,
	             port);
	size_t cap = strlen(path) + 512;
	char *req = xmalloc(cap);
	int n = snprintf(req, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%s\r\n",
	                 path, host, auth ? "Authorization: " : "", auth ? auth : "",
	                 auth ? "\r\n" : "");
	cr_assert_eq(write(fd, req, (size_t)n), n);
	free(req);
	size_t len = 0, bufcap = 1 << 16;
	char *buf = xmalloc(bufcap);
	for (;;) {
		if (len + 1 == bufcap)
			buf = xrealloc(buf, bufcap *= 2);
		ssize_t got = read(fd, buf + len, bufcap - len - 1);
		cr_assert_geq(got, 0, "read failed or timed out");
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	buf[len] = 0;
	resp r = {0};
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &r.status), 1, "no status line: %s", buf);
	char *sep = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(sep);
	size_t hn =
	    (size_t)(sep - buf) < sizeof r.head - 1 ? (size_t)(sep - buf) : sizeof r.head - 1;
	memcpy(r.head, buf, hn);
	r.body = xstrdup(sep + 4);
	free(buf);
	r.json = json_loads(r.body, 0, NULL);
	return r;
}

static resp get(const char *path, bool with_token)
{
	return get_from("127.0.0.1", T.port, path, with_token ? "Bearer " TOKEN : NULL);
}

static const char *error_code(const resp *r)
{
	cr_assert_not_null(r->json, "not JSON: %s", r->body);
	return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static void expect_error(const char *path, int status, const char *code)
{
	resp r = get(path, true);
	cr_assert_eq(r.status, status, "%s -> %d %s", path, r.status, r.body);
	const char *c = error_code(&r);
	cr_assert(c && strcmp(c, code) == 0, "%s -> %s, wanted %s", path, r.body, code);
	resp_free(&r);
}

static uint64_t num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	cr_assert(json_is_integer(v), "%s is not an integer", key);
	return (uint64_t)json_integer_value(v);
}

/* Sum of the integer values of an object. */
static uint64_t obj_sum(json_t *obj)
{
	cr_assert(json_is_object(obj));
	const char *k;
	json_t *v;
	uint64_t s = 0;
	json_object_foreach(obj, k, v)
	{
		cr_assert(json_is_integer(v), "%s", k);
		cr_assert_gt(json_integer_value(v), 0, "a zero bucket %s is listed", k);
		s += (uint64_t)json_integer_value(v);
	}
	return s;
}

/* ---- auth ---------------------------------------------------------------- */

Test(opsapi, missing_or_wrong_token_is_401)
{
	fill();
	const char *paths[] = {"/v1/counts?items=post:1", "/v1/items/post/1/likes",
	                       "/v1/items/post/1/likes/users/u1", "/v1/totals/likes", "/nowhere"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		resp r = get(paths[i], false);
		cr_assert_eq(r.status, 401, "%s without a token -> %d", paths[i], r.status);
		cr_assert_str_eq(error_code(&r), "unauthorized");
		cr_assert_not_null(strcasestr(r.head, "WWW-Authenticate: Bearer"));
		resp_free(&r);
	}
	const char *bad[] = {
	    "Bearer wrong", "Bearer " TOKEN "x", "Bearer s3cret-toke", "Basic " TOKEN, TOKEN,
	    "Bearer "};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		resp r = get_from("127.0.0.1", T.port, "/v1/totals/likes", bad[i]);
		cr_assert_eq(r.status, 401, "Authorization: %s -> %d", bad[i], r.status);
		resp_free(&r);
	}
	resp r = get_from("127.0.0.1", T.port, "/v1/totals/likes", "bearer " TOKEN);
	cr_assert_eq(r.status, 200, "the scheme is case-insensitive");
	resp_free(&r);
}

Test(opsapi, healthz_and_metrics_are_open_from_loopback)
{
	resp r = get("/healthz", false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
	resp_free(&r);
	r = get("/metrics", false);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
}

/* The readiness hook's answer for the test below. */
static ops_readiness hook_ready;
static _Atomic int hook_calls;
static void *_Atomic hook_ctx; /* what the hook was handed, checked by the test */

/* Runs on the ops API's thread: it records, the test asserts. */
static void fake_readiness(void *ctx, ops_readiness *out)
{
	hook_ctx = ctx;
	hook_calls++;
	*out = hook_ready;
}

/* The check of name in a /readyz body: its "ok" and "reason". */
static void expect_check(const resp *r, const char *name, bool ok, const char *reason)
{
	json_t *c = json_object_get(json_object_get(r->json, "checks"), name);
	cr_assert_not_null(c, "no check %s in %s", name, r->body);
	cr_assert_eq(json_is_true(json_object_get(c, "ok")), ok, "%s: %s", name, r->body);
	cr_assert_str_eq(json_string_value(json_object_get(c, "reason")), reason, "%s", r->body);
}

Test(opsapi, readyz_answers_what_the_readiness_hook_says)
{
	/* The fixture's API has no hook: nothing has said it is ready. */
	resp r = get("/readyz", false);
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_assert(json_is_false(json_object_get(r.json, "ready")));
	expect_check(&r, "store", false, "not started");
	resp_free(&r);

	ops_api_stop(T.api);
	T.api = start_api_ready("127.0.0.1:0", TOKEN, fake_readiness, &hook_ready);
	T.port = ops_api_port(T.api);

	hook_ready = (ops_readiness){.store = {true, ""}, .kafka = {false, ""}, .lag = {true, ""}};
	snprintf(hook_ready.kafka.reason, sizeof hook_ready.kafka.reason, "no fetch for 10s");
	r = get("/readyz", false);
	cr_assert_eq(r.status, 503, "%s", r.body);
	expect_check(&r, "store", true, "");
	expect_check(&r, "kafka", false, "no fetch for 10s");
	expect_check(&r, "lag", true, "");
	resp_free(&r);

	hook_ready.kafka = (ops_check){true, ""};
	r = get("/readyz", false);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(json_is_true(json_object_get(r.json, "ready")));
	resp_free(&r);
	cr_assert_eq(hook_calls, 2, "the hook is asked once per GET /readyz");
	cr_assert_eq(hook_ctx, &hook_ready, "with the context it was registered with");
}

/* A non-loopback IPv4 address of this host, or false. */
static bool other_address(char *out, size_t cap)
{
	struct ifaddrs *ifs, *i;
	bool found = false;
	if (getifaddrs(&ifs))
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		struct sockaddr_in *sa = (struct sockaddr_in *)i->ifa_addr;
		found = inet_ntop(AF_INET, &sa->sin_addr, out, (socklen_t)cap) != NULL;
	}
	freeifaddrs(ifs);
	return found;
}

Test(opsapi, healthz_and_metrics_need_the_token_from_other_addresses)
{
	char addr[64], listen[96];
	if (!other_address(addr, sizeof addr))
		cr_skip_test("no non-loopback IPv4 address on this host");
	snprintf(listen, sizeof listen, "%s:0", addr);
	ops_api *api = start_api(listen, TOKEN);
	int port = ops_api_port(api);
	resp r = get_from(addr, port, "/healthz", NULL);
	cr_assert_eq(r.status, 401);
	resp_free(&r);
	r = get_from(addr, port, "/metrics", NULL);
	cr_assert_eq(r.status, 401);
	resp_free(&r);
	r = get_from(addr, port, "/healthz", "Bearer " TOKEN);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	ops_api_stop(api);
}

Test(opsapi, empty_token_serves_without_auth_on_loopback)
{
	/* Any 127/8 address is loopback, not only 127.0.0.1. */
	const char *const hosts[] = {"127.0.0.1", "127.0.0.2"};
	for (size_t i = 0; i < 2; i++) {
		char listen[32];
		snprintf(listen, sizeof listen, "%s:0", hosts[i]);
		ops_api *api = start_api(listen, "");
		resp r = get_from(hosts[i], ops_api_port(api), "/v1/totals/likes", NULL);
		cr_assert_eq(r.status, 200, "%s -> %d", hosts[i], r.status);
		resp_free(&r);
		ops_api_stop(api);
	}
}

/* ops_api_start with o->listen and no token: NULL or the API, err. */
static ops_api *start_tokenless(const char *listen, char *err, size_t errlen)
{
	ops_api_opts o = {.listen = listen,
	                  .token = "",
	                  .db = T.db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = T.a,
	                  .run = &T.run};
	err[0] = 'x'; /* must be overwritten */
	err[1] = 0;
	return ops_api_start(&o, err, errlen);
}

Test(opsapi, empty_token_on_a_non_loopback_address_is_refused)
{
	char other[64], listen[96];
	const char *addrs[5] = {"0.0.0.0:0", ":0", "[::]:0", "10.1.2.3:0", NULL};
	if (other_address(other, sizeof other)) {
		snprintf(listen, sizeof listen, "%s:0", other);
		addrs[4] = listen;
	}
	for (size_t i = 0; i < 5 && addrs[i]; i++) {
		char err[256];
		ops_api *api = start_tokenless(addrs[i], err, sizeof err);
		if (api)
			ops_api_stop(api);
		cr_assert_null(api, "%s served without a token", addrs[i]);
		cr_assert_not_null(strstr(err, "not a loopback address"), "%s: %s", addrs[i], err);
		cr_assert_not_null(strstr(err, "central.ops_token"), "%s: %s", addrs[i], err);
	}
	/* A null token is an empty one. */
	ops_api_opts o = {
	    .listen = "0.0.0.0:0", .token = NULL, .db = T.db, .ctr = &T.ctr, .partitions = NPARTS};
	char err[256];
	ops_api *api = ops_api_start(&o, err, sizeof err);
	if (api)
		ops_api_stop(api);
	cr_assert_null(api);
}

Test(opsapi, empty_token_on_localhost_or_ipv6_loopback_is_not_refused_for_it)
{
	/* Binding may fail where the host has no ::1, but never for the
	 * token. */
	const char *const addrs[] = {"localhost:0", "LocalHost:0", "[::1]:0"};
	for (size_t i = 0; i < 3; i++) {
		char err[256];
		ops_api *api = start_tokenless(addrs[i], err, sizeof err);
		if (api) {
			ops_api_stop(api);
			continue;
		}
		cr_assert_null(strstr(err, "loopback"), "%s: %s", addrs[i], err);
		cr_assert_not_null(strstr(err, "cannot listen"), "%s: %s", addrs[i], err);
	}
}

Test(opsapi, token_on_every_interface_serves_and_needs_it)
{
	ops_api *api = start_api("0.0.0.0:0", TOKEN);
	int port = ops_api_port(api);
	resp r = get_from("127.0.0.1", port, "/v1/totals/likes", NULL);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "unauthorized");
	resp_free(&r);
	r = get_from("127.0.0.1", port, "/v1/totals/likes", "Bearer wrong");
	cr_assert_eq(r.status, 401);
	resp_free(&r);
	r = get_from("127.0.0.1", port, "/v1/totals/likes", "Bearer " TOKEN);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	ops_api_stop(api);
}

Test(opsapi, only_get_is_allowed)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	const char req[] = "DELETE /v1/items/post/1/likes HTTP/1.1\r\nHost: x\r\nConnection: "
	                   "close\r\nAuthorization: Bearer " TOKEN "\r\nContent-Length: 0\r\n\r\n";
	cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)sizeof req - 1);
	char buf[1024] = "";
	cr_assert_gt(read(fd, buf, sizeof buf - 1), 0);
	close(fd);
	cr_assert(strncmp(buf, "HTTP/1.1 405", 12) == 0, "%s", buf);
}

/* ---- /metrics ------------------------------------------------------------ */

Test(opsapi, metrics_report_the_applier_and_run_loop_counters)
{
	fill();
	atomic_store(&T.run.snapshot_messages, 7);
	atomic_store(&T.run.offset_resets, 2);
	wire_op bad = op("hugs", "post:1", "u1", WIRE_ADD, 1, 5);
	send_ops(0, &bad, 1);
	resp r = get("/metrics", false);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.head, "text/plain"));
	applier_stats st;
	applier_get_stats(T.a, &st);
	cr_assert_eq(st.batches_applied, 6);
	char want[256];
	const struct {
		const char *name;
		uint64_t v;
	} lines[] = {
	    {"likes_central_batches_applied_total", st.batches_applied},
	    {"likes_central_batches_duplicate_total", 0},
	    {"likes_central_batches_held_total", 0},
	    {"likes_central_snapshots_sent_total", 7},
	    {"likes_central_input_offset_resets_total", 2},
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		snprintf(want, sizeof want, "\n%s %" PRIu64 "\n", lines[i].name, lines[i].v);
		cr_assert_not_null(strstr(r.body, want), "missing %s", want + 1);
		snprintf(want, sizeof want, "# TYPE %s counter\n", lines[i].name);
		cr_assert_not_null(strstr(r.body, want), "missing %s", want);
	}
	/* Split by counter and by reason: sum() is the total. */
	cr_assert_eq(prom_util_sum(r.body, "likes_central_ops_applied_total"),
	             (double)st.ops_applied);
	cr_assert_eq(prom_util_sum(r.body, "likes_central_ops_invalid_total"), 1);
	cr_assert_eq(
	    prom_util_get(r.body, "likes_central_ops_invalid_total{reason=\"unknown_counter\"}"),
	    1);
	uint32_t p = partition_of("post:1", 6, NPARTS);
	snprintf(want, sizeof want,
	         "likes_central_input_next_offset{partition=\"%u\"} %" PRId64 "\n", p, T.offset[p]);
	cr_assert_not_null(strstr(r.body, want), "missing %s", want);
	resp_free(&r);
}

/* ---- /v1/counts ---------------------------------------------------------- */

Test(opsapi, counts_answer_every_item_from_one_view)
{
	fill();
	uint64_t before = clock_wall_ms();
	resp r = get("/v1/counts?items=post:1,reel:9,post:404&edge=m1", true);
	uint64_t after = clock_wall_ms();
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_object_size(items), 3);

	json_t *p1 = json_object_get(items, "post:1");
	cr_assert_not_null(p1);
	uint32_t part = partition_of("post:1", 6, NPARTS);
	cr_assert_eq(num(p1, "partition"), part);
	cr_assert_eq(num(p1, "version"), (uint64_t)T.offset[part]);
	cr_assert_eq((int64_t)num(p1, "version"), applier_input_offset(T.a, part));
	cr_assert_eq(num(p1, "applied"), T.seq[0][part], "m1's applied sequence there");
	cr_assert_geq(num(p1, "as_of"), before);
	cr_assert_leq(num(p1, "as_of"), after);
	json_t *c = json_object_get(p1, "counts");
	cr_assert_eq(json_object_size(c), 4, "every configured counter by default");
	cr_assert_eq(num(c, "likes"), 4);
	cr_assert_eq(num(c, "views"), 7);
	cr_assert_eq(num(c, "saves"), 0);
	cr_assert_eq(num(c, "shares"), 0);

	json_t *r9 = json_object_get(items, "reel:9");
	cr_assert_eq(num(json_object_get(r9, "counts"), "saves"), 1);
	json_t *none = json_object_get(items, "post:404");
	cr_assert_eq(num(json_object_get(none, "counts"), "likes"), 0);
	resp_free(&r);

	r = get("/v1/counts?items=post:1,post:1&counters=views,likes,views", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	items = json_object_get(r.json, "items");
	cr_assert_eq(json_object_size(items), 1, "a repeated item is answered once");
	p1 = json_object_get(items, "post:1");
	c = json_object_get(p1, "counts");
	cr_assert_eq(json_object_size(c), 2);
	cr_assert_eq(num(c, "views"), 7);
	cr_assert_eq(num(p1, "applied"), 0, "no edge asked: applied is 0");
	resp_free(&r);

	r = get("/v1/counts?items=post%3A1%2Creel%3A9&edge=nobody", true);
	cr_assert_eq(r.status, 200, "percent-encoded lists decode: %s", r.body);
	cr_assert_eq(json_object_size(json_object_get(r.json, "items")), 2);
	cr_assert_eq(num(json_object_get(json_object_get(r.json, "items"), "post:1"), "applied"),
	             0);
	resp_free(&r);
}

Test(opsapi, counts_validate_items_counters_and_parameters)
{
	char path[2048];
	int n = snprintf(path, sizeof path, "/v1/counts?items=");
	for (int i = 0; i < 101; i++)
		n += snprintf(path + n, sizeof path - (size_t)n, "%spost:%d", i ? "," : "", i);
	resp r = get(path, true);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "too_many_items");
	const char *msg =
	    json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
	cr_assert(msg && strstr(msg, "100"), "the message says the limit: %s", msg);
	resp_free(&r);

	/* Exactly 100 is fine. */
	*strrchr(path, ',') = 0;
	r = get(path, true);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(json_object_size(json_object_get(r.json, "items")), 100);
	resp_free(&r);

	expect_error("/v1/counts", 400, "invalid_item");
	expect_error("/v1/counts?items=", 400, "invalid_item");
	expect_error("/v1/counts?items=post", 400, "invalid_item");
	expect_error("/v1/counts?items=post:1,,reel:9", 400, "invalid_item");
	expect_error("/v1/counts?items=post:a%20b", 400, "invalid_item");
	expect_error("/v1/counts?items=post:1&counters=hugs", 400, "unknown_counter");
	expect_error("/v1/counts?items=post:1&counters=likes,", 400, "unknown_counter");
	expect_error("/v1/counts?items=post:1&edge=Bad%20Edge", 400, "bad_request");
	expect_error("/v1/counts?items=post:1&colour=red", 400, "bad_request");
	expect_error("/v1/counts?items=post:1&items=post:2", 400, "bad_request");
}

/* ---- /v1/items ----------------------------------------------------------- */

Test(opsapi, item_count_with_version)
{
	fill();
	resp r = get("/v1/items/post/1/likes", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "item")), "post:1");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "counter")), "likes");
	cr_assert_eq(num(r.json, "count"), 4);
	cr_assert_eq(num(r.json, "version"), (uint64_t)T.offset[partition_of("post:1", 6, NPARTS)]);
	cr_assert_gt(num(r.json, "as_of"), 0);
	cr_assert_null(json_object_get(r.json, "by_region"));
	resp_free(&r);
}

Test(opsapi, by_region_splits_the_count)
{
	fill();
	resp r = get("/v1/items/post/1/likes?by=region", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *br = json_object_get(r.json, "by_region");
	cr_assert_eq(obj_sum(br), num(r.json, "count"));
	cr_assert_eq(num(br, "mumbai"), 2);
	cr_assert_eq(num(br, "virginia"), 1);
	cr_assert_eq(num(br, "singapore"), 1);
	resp_free(&r);

	r = get("/v1/items/post/1/views?by=region", true);
	br = json_object_get(r.json, "by_region");
	cr_assert_eq(num(r.json, "count"), 7);
	cr_assert_eq(obj_sum(br), 7);
	cr_assert_eq(num(br, "mumbai"), 5);
	cr_assert_eq(num(br, "virginia"), 2);
	resp_free(&r);

	r = get("/v1/items/post/2/likes?by=region", true);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(num(r.json, "count"), 0);
	cr_assert_eq(json_object_size(json_object_get(r.json, "by_region")), 0);
	resp_free(&r);
}

Test(opsapi, by_day_splits_the_count_over_a_range)
{
	fill();
	/* 2024-10-04 is DAY0. */
	resp r = get("/v1/items/post/1/likes?by=day&from=2024-10-01&to=2024-10-31", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "from")), "2024-10-01");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "to")), "2024-10-31");
	json_t *bd = json_object_get(r.json, "by_day");
	cr_assert_eq(num(bd, "2024-10-04"), 2, "u1 and x@y");
	cr_assert_eq(num(bd, "2024-10-05"), 1, "u3; u2's like was taken back");
	cr_assert_eq(json_object_size(bd), 2, "only days with a count: %s", r.body);
	resp_free(&r);

	r = get("/v1/items/post/1/views?by=day&from=2024-10-05&to=2024-10-06", true);
	bd = json_object_get(r.json, "by_day");
	cr_assert_eq(json_object_size(bd), 1);
	cr_assert_eq(num(bd, "2024-10-06"), 2);
	resp_free(&r);

	/* The default range is the 30 days to today: only today's like. */
	r = get("/v1/items/post/1/likes?by=day", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	char today[DAY_TEXT_MAX], first[DAY_TEXT_MAX];
	day_format(day_of_hlc(today_hlc), today);
	day_format(day_of_hlc(today_hlc) - 29, first);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "to")), today);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "from")), first);
	bd = json_object_get(r.json, "by_day");
	cr_assert_eq(json_object_size(bd), 1);
	cr_assert_eq(num(bd, today), 1);
	resp_free(&r);
}

Test(opsapi, every_breakdown_sums_to_the_count_over_a_covering_range)
{
	fill();
	char path[256];
	char from[DAY_TEXT_MAX], to[DAY_TEXT_MAX];
	uint32_t t = day_of_hlc(today_hlc);
	/* One range of 366 days may not reach from DAY0 to today: use the
	 * largest one ending today when DAY0 is in it, else split in two. */
	uint64_t sum = 0;
	for (uint32_t end = t;; end -= 366) {
		uint32_t start = end >= 365 ? end - 365 : 0;
		day_format(start, from);
		day_format(end, to);
		snprintf(path, sizeof path, "/v1/items/post/1/likes?by=day&from=%s&to=%s", from,
		         to);
		resp r = get(path, true);
		cr_assert_eq(r.status, 200, "%s", r.body);
		sum += obj_sum(json_object_get(r.json, "by_day"));
		resp_free(&r);
		if (start <= DAY0)
			break;
	}
	resp r = get("/v1/items/post/1/likes", true);
	cr_assert_eq(sum, num(r.json, "count"));
	resp_free(&r);
}

Test(opsapi, bad_breakdowns_and_ranges_are_400)
{
	expect_error("/v1/items/post/1/likes?by=week", 400, "bad_breakdown");
	expect_error("/v1/items/post/1/likes?by=", 400, "bad_breakdown");
	expect_error("/v1/items/post/1/likes?by=day&from=2024-10-05&to=2024-10-04", 400,
	             "bad_range");
	expect_error("/v1/items/post/1/likes?by=day&from=2023-10-01&to=2024-10-01", 400,
	             "bad_range"); /* 367 days */
	expect_error("/v1/items/post/1/likes?by=day&from=2024-02-30&to=2024-03-01", 400,
	             "bad_range");
	expect_error("/v1/items/post/1/likes?by=day&to=2024-1-01", 400, "bad_range");
	expect_error("/v1/items/post/1/likes?by=region&from=2024-10-01", 400, "bad_range");
	expect_error("/v1/items/post/1/likes?from=2024-10-01", 400, "bad_range");
	expect_error("/v1/items/post/1/likes?size=9", 400, "bad_request");
	/* 366 days is allowed. */
	resp r = get("/v1/items/post/1/likes?by=day&from=2023-10-02&to=2024-10-01", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	resp_free(&r);
}

Test(opsapi, bad_items_counters_and_routes)
{
	expect_error("/v1/items/post/1/hugs", 404, "unknown_counter");
	expect_error("/v1/items/po%20st/1/likes", 400, "invalid_item");
	expect_error("/v1/items/post/a.b/likes", 400, "invalid_item");
	expect_error("/v1/items/post/1", 404, "not_found");
	expect_error("/v1/items/post/1/likes/", 404, "not_found");
	expect_error("/v1/items/post/1/likes/members/u1", 404, "not_found");
	expect_error("/v1/nothing", 404, "not_found");
	expect_error("/v1/totals/hugs", 404, "unknown_counter");
}

/* ---- users --------------------------------------------------------------- */

Test(opsapi, users_route_tells_membership_with_its_origin)
{
	fill();
	resp r = get("/v1/items/post/1/likes/users/u1", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "item")), "post:1");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "counter")), "likes");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "u1");
	cr_assert(json_is_true(json_object_get(r.json, "member")));
	cr_assert(json_is_true(json_object_get(r.json, "known")));
	cr_assert_eq(num(r.json, "hlc"), hlc_on(DAY0, 1));
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "edge")), "m1");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "region")), "mumbai");
	resp_free(&r);

	/* u2 liked in mumbai, unliked later in virginia. */
	r = get("/v1/items/post/1/likes/users/u2", true);
	cr_assert(json_is_false(json_object_get(r.json, "member")));
	cr_assert(json_is_true(json_object_get(r.json, "known")));
	cr_assert_eq(num(r.json, "hlc"), hlc_on(DAY0 + 2, 1));
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "region")), "virginia");
	resp_free(&r);

	r = get("/v1/items/post/1/likes/users/x%40y", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "x@y");
	cr_assert(json_is_true(json_object_get(r.json, "member")));
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "region")), "singapore");
	resp_free(&r);

	r = get("/v1/items/post/1/likes/users/stranger", true);
	cr_assert_eq(r.status, 200);
	cr_assert(json_is_false(json_object_get(r.json, "member")));
	cr_assert(json_is_false(json_object_get(r.json, "known")));
	cr_assert_eq(num(r.json, "hlc"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "edge")), "");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "region")), "");
	resp_free(&r);

	expect_error("/v1/items/post/1/views/users/u1", 400, "not_a_set_counter");
	expect_error("/v1/items/post/1/likes/users/a%22b", 400, "invalid_user");
	expect_error("/v1/items/post/1/likes/users/a%00b", 400, "invalid_user");
	expect_error("/v1/items/post/1/likes/users/u1?by=region", 400, "bad_request");
}

Test(opsapi, memberships_answer_many_pairs_in_the_order_asked)
{
	fill();
	/* u1 member, u2 unliked, x@y member, stranger never seen; users in hex. */
	resp r = get("/v1/memberships?pairs=likes/post:1/7531,likes/post:1/7532,"
	             "likes/post:1/784079,likes/post:1/737472616e676572",
	             true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *m = json_object_get(r.json, "members");
	cr_assert_eq(json_array_size(m), 4, "%s", r.body);
	const bool member[4] = {true, false, true, false}, known[4] = {true, true, true, false};
	for (size_t i = 0; i < 4; i++) {
		json_t *e = json_array_get(m, i);
		cr_assert_eq(json_is_true(json_object_get(e, "member")), member[i], "pair %zu", i);
		cr_assert_eq(json_is_true(json_object_get(e, "known")), known[i], "pair %zu", i);
	}
	resp_free(&r);
	expect_error("/v1/memberships?pairs=views/post:1/7531", 400, "invalid_pairs");
	expect_error("/v1/memberships?pairs=likes/post:1/753", 400, "invalid_pairs");
	expect_error("/v1/memberships?pairs=likes/post:1/zz", 400, "invalid_pairs");
	expect_error("/v1/memberships?pairs=likes/post:1", 400, "invalid_pairs");
	expect_error("/v1/memberships?pairs=likes/post:1/7531,", 400, "invalid_pairs");
	expect_error("/v1/memberships", 400, "invalid_pairs");
}

Test(opsapi, totals_sum_a_counter_over_items)
{
	fill();
	resp r = get("/v1/totals/views", true);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(num(r.json, "items"), 1);
	cr_assert_eq(num(r.json, "sum"), 7);
	resp_free(&r);
}

/* ---- calendar ------------------------------------------------------------ */

Test(opsapi, dates_parse_and_format_both_ways)
{
	static const struct {
		const char *text;
		uint32_t day;
	} known[] = {
	    {"1970-01-01", 0},       {"1970-01-02", 1},     {"1972-02-29", 789},
	    {"2000-03-01", 11017},   {"2024-02-29", 19782}, {"2024-10-04", DAY0},
	    {"9999-12-31", 2932896},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		uint32_t d = 0;
		cr_assert_eq(day_parse(known[i].text, 10, &d), 0, "%s", known[i].text);
		cr_assert_eq(d, known[i].day, "%s -> %u", known[i].text, d);
		char out[DAY_TEXT_MAX];
		day_format(known[i].day, out);
		cr_assert_str_eq(out, known[i].text);
	}
	for (uint32_t d = 0; d < 30000; d += 7) {
		char out[DAY_TEXT_MAX];
		uint32_t back = UINT32_MAX;
		day_format(d, out);
		cr_assert_eq(day_parse(out, strlen(out), &back), 0, "%s", out);
		cr_assert_eq(back, d);
	}
	const char *bad[] = {"1969-12-31", "2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
	                     "2024-1-01",  "2024/01/01", "2024-01-0x", "20240101",   ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint32_t d = 42;
		cr_assert_eq(day_parse(bad[i], strlen(bad[i]), &d), ERR_INVAL, "%s", bad[i]);
		cr_assert_eq(d, 42);
	}
	cr_assert_eq(day_of_hlc(hlc_make(DAY0 * DAY_MS + DAY_MS - 1, 7)), DAY0);
	cr_assert_eq(day_of_hlc(hlc_make((DAY0 + 1) * DAY_MS, 0)), DAY0 + 1);
}

/* ---- replicas ------------------------------------------------------------ */

static char *digest_of(int port)
{
	resp r = get_from("127.0.0.1", port, "/v1/digest", "Bearer " TOKEN);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(r.json);
	const char *d = json_string_value(json_object_get(r.json, "digest"));
	cr_assert_not_null(d);
	cr_assert_eq(json_array_size(json_object_get(r.json, "offsets")), NPARTS);
	char *copy = strdup(d);
	resp_free(&r);
	return copy;
}

Test(opsapi, replicas_fed_the_same_log_have_the_same_digest)
{
	char *empty = digest_of(T.port);
	fill();
	char *full = digest_of(T.port);
	cr_assert_str_neq(empty, full, "the digest moves with the state");

	/* A replica: its own store and applier, the same messages in order. */
	char dir[64], err[256];
	testdir_make(dir, sizeof dir, "test_opsapi_replica");
	store *db = testdir_open_store(dir);
	applier *a = applier_new(db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(a, "%s", err);
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = TOKEN,
	                  .db = db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = a,
	                  .run = &T.run};
	ops_api *api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(api, "%s", err);
	for (size_t i = 0; i + 1 < T.nlog; i++)
		cr_assert_eq(
		    applier_apply(a, T.log[i].p, T.log[i].offset, T.log[i].buf, T.log[i].len, 0),
		    0);
	char *behind = digest_of(ops_api_port(api));
	cr_assert_str_neq(behind, full, "one message behind: a different digest");
	size_t last = T.nlog - 1;
	cr_assert_eq(applier_apply(a, T.log[last].p, T.log[last].offset, T.log[last].buf,
	                           T.log[last].len, 0),
	             0);
	char *caught_up = digest_of(ops_api_port(api));
	cr_assert_str_eq(caught_up, full, "caught up: the same digest");
	free(empty);
	free(full);
	free(behind);
	free(caught_up);
	ops_api_stop(api);
	applier_free(a);
	store_close(db);
	testdir_remove(dir);
}
