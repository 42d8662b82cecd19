/* itest_startup.c - what the real daemons refuse at start-up: the
 * development identity mode on an address others can reach, central's
 * ops API without a token off loopback, and config files with unknown
 * keys or bad values (named by file:line), a store made for another
 * partition count, and a central.ops shard map that does not cover
 * every partition; and what `-t` (check the config and exit) refuses
 * without starting anything. Each case runs build/edge or
 * build/central on a config written to the test's temp dir and expects
 * it to exit non-zero at once with the reason in its log; no broker is
 * needed, since nothing gets that far. One more runs the shipped region
 * config (configs/deploy/edge-mumbai.ini) with throwaway keys and paths: it
 * starts, serves TLS only, and takes bearer tokens and nothing else.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>

#include "clock.h"
#include "tests/support/proc.h"
#include "tests/support/prom_util.h"
#include "tests/support/testdir.h"

static struct {
	char dir[256];
	char cfg[300];
	char log[300];
	pid_t pid;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "itest_startup");
	snprintf(T.cfg, sizeof T.cfg, "%s/daemon.ini", T.dir);
	snprintf(T.log, sizeof T.log, "%s/daemon.log", T.dir);
}

static void teardown(void)
{
	if (T.pid > 0)
		proc_stop(T.pid, SIGKILL);
	testdir_remove(T.dir);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);

static void write_cfg(const char *text)
{
	FILE *f = fopen(T.cfg, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
}

/* Runs bin on T.cfg; its exit status once it exits (within 10 s), with
 * its log in out. -1 if it is still running then (and T.pid is set). */
static int run(const char *bin, char *out, size_t cap)
{
	char *argv[] = {(char *)bin, "-c", T.cfg, NULL};
	T.pid = proc_spawn(T.log, argv);
	cr_assert_gt(T.pid, 0);
	int status = 0, rc = -1;
	uint64_t end = clock_mono_ms() + 10000;
	while (clock_mono_ms() < end) {
		pid_t w = waitpid(T.pid, &status, WNOHANG);
		if (w == T.pid) {
			T.pid = 0;
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		proc_sleep_ms(10);
	}
	FILE *f = fopen(T.log, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	return rc;
}

/* The log of a refused start-up holds every needle. */
static void refused(const char *bin, const char *needle1, const char *needle2)
{
	static char out[65536]; /* the config dump alone is over 8 KB */
	int rc = run(bin, out, sizeof out);
	cr_assert_neq(rc, -1, "%s did not exit: %s", bin, out);
	cr_assert_neq(rc, 0, "%s started: %s", bin, out);
	cr_assert(strstr(out, needle1), "no \"%s\" in: %s", needle1, out);
	if (needle2)
		cr_assert(strstr(out, needle2), "no \"%s\" in: %s", needle2, out);
}

static void edge_cfg(const char *listen, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof text,
	         "[edge]\nid = e1\nregion = r1\ndata_dir = %s/edge\n"
	         "[http]\nlisten = %s\n[identity]\ndev_header = true\n%s",
	         T.dir, listen, extra);
	write_cfg(text);
}

Test(startup, the_edge_refuses_dev_identity_on_an_open_address)
{
	char listen[32];
	snprintf(listen, sizeof listen, "0.0.0.0:%d", proc_free_port());
	edge_cfg(listen, "");
	refused("build/edge", "identity.dev_header = true on the non-loopback address",
	        "dev_header_force");
}

Test(startup, the_edge_with_dev_identity_forced_starts_and_says_so_loudly)
{
	char listen[32];
	snprintf(listen, sizeof listen, "0.0.0.0:%d", proc_free_port());
	edge_cfg(listen, "[identity]\ndev_header_force = true\n[central]\nops =\n");
	char out[16384] = "";
	int rc = run("build/edge", out, sizeof out);
	cr_assert_eq(rc, -1, "the forced edge exited (%d): %s", rc, out);
	cr_assert(strstr(out, "DEVELOPMENT IDENTITY MODE FORCED"), "%s", out);
	cr_assert(strstr(out, "level=warn"), "%s", out);
}

Test(startup, an_unknown_key_stops_the_edge_naming_file_and_line)
{
	edge_cfg("127.0.0.1:0", "[limits]\nuser_writes_per_minute = 5\n");
	char where[320];
	snprintf(where, sizeof where, "%s:10:", T.cfg);
	refused("build/edge", where, "user_writes_per_minute");
}

Test(startup, a_bad_value_stops_the_edge_naming_file_and_line)
{
	edge_cfg("127.0.0.1:0", "[http]\nmax_streams = -5\n");
	char where[320];
	snprintf(where, sizeof where, "%s:10:", T.cfg);
	refused("build/edge", where, "max_streams");
}

Test(startup, the_edge_refuses_a_store_made_for_another_partition_count)
{
	/* The first start records partitions = 4 in the store, then stops
	 * on a Kafka property that does not exist (after the store check). */
	edge_cfg("127.0.0.1:0", "[topics]\npartitions = 4\n[kafka]\nno.such.property = 1\n");
	refused("build/edge", "no.such.property", NULL);
	edge_cfg("127.0.0.1:0", "[topics]\npartitions = 8\n");
	refused("build/edge", "records partitions=4, configuration says 8", NULL);
}

Test(startup, a_shard_map_that_misses_a_partition_stops_the_edge)
{
	edge_cfg(
	    "127.0.0.1:0",
	    "[topics]\npartitions = 8\n[central]\nops = 0-3=127.0.0.1:9090;5-7=127.0.0.1:9091\n");
	refused("build/edge", "central.ops: partition 4 is in no entry", NULL);
}

Test(startup, central_refuses_an_ops_api_without_token_off_loopback)
{
	char text[2048];
	snprintf(text, sizeof text,
	         "[central]\nid = c1\ndata_dir = %s/central\nops_listen = 0.0.0.0:%d\n", T.dir,
	         proc_free_port());
	write_cfg(text);
	refused("build/central", "central.ops_token is empty", "not a loopback address");
}

/* Runs a shell command; its exit status. */
static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, fmt, a, b);
	return system(cmd);
}

/* An ES256 token for sub, signed with the private key in pem. */
static char *token(const char *pem, const char *sub)
{
	FILE *f = fopen(pem, "r");
	cr_assert_not_null(f);
	char key[2048];
	size_t kn = fread(key, 1, sizeof key, f);
	fclose(f);
	jwt_t *j;
	cr_assert_eq(jwt_new(&j), 0);
	cr_assert_eq(jwt_add_grant(j, "sub", sub), 0);
	cr_assert_eq(jwt_add_grant_int(j, "exp", (long)time(NULL) + 600), 0);
	cr_assert_eq(jwt_add_grant(j, "iss", "https://auth.example.com"), 0);
	cr_assert_eq(jwt_add_grant(j, "aud", "likes-edge"), 0);
	cr_assert_eq(jwt_add_header(j, "kid", "k2026a"), 0);
	cr_assert_eq(jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)key, (int)kn), 0);
	char *s = jwt_encode_str(j);
	cr_assert_not_null(s);
	jwt_free(j);
	return s;
}

/* POSTs a like over TLS (HTTP/2) with one extra header; the status. */
static int like(int port, const char *header)
{
	char cmd[2048], out[64] = "";
	snprintf(cmd, sizeof cmd,
	         "curl -sk --http2 -o /dev/null -w '%%{http_code}' -X POST -H '%s' "
	         "https://127.0.0.1:%d/v1/items/post/1/likes",
	         header, port);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = 0;
	pclose(p);
	return atoi(out);
}

/* Throwaway stand-ins for the key and certificate files a shipped region
 * config names under /etc/likes: the JWT signing key (private, for
 * token()) and the -s overrides that point the config at the rest. */
static struct {
	char jwt_key[300];
	char s_crt[400], s_key[400], s_jwt[400];
} K;

static void throwaway_keys(void)
{
	char pub[300], crt[300], key[300];
	snprintf(K.jwt_key, sizeof K.jwt_key, "%s/jwt.pem", T.dir);
	snprintf(pub, sizeof pub, "%s/jwt.pub", T.dir);
	snprintf(crt, sizeof crt, "%s/tls.crt", T.dir);
	snprintf(key, sizeof key, "%s/tls.key", T.dir);
	cr_assert_eq(sh("openssl ecparam -genkey -name prime256v1 -noout -out %s%s", K.jwt_key, ""),
	             0);
	cr_assert_eq(sh("openssl ec -in %s -pubout -out %s 2>/dev/null", K.jwt_key, pub), 0);
	cr_assert_eq(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	                "-subj /CN=localhost -days 1 -keyout %s -out %s 2>/dev/null",
	                key, crt),
	             0);
	snprintf(K.s_crt, sizeof K.s_crt, "http.tls_cert=%s", crt);
	snprintf(K.s_key, sizeof K.s_key, "http.tls_key=%s", key);
	snprintf(K.s_jwt, sizeof K.s_jwt, "identity.jwt_keys=k2026a:ES256:%s", pub);
}

Test(startup, the_shipped_region_config_serves_tls_and_bearer_tokens_only)
{
	throwaway_keys();
	int port = proc_free_port();
	char s_data[400], s_tls[64];
	snprintf(s_data, sizeof s_data, "edge.data_dir=%s/edge", T.dir);
	snprintf(s_tls, sizeof s_tls, "http.tls_listen=127.0.0.1:%d", port);
	char *argv[] = {"build/edge", "-c", "configs/deploy/edge-mumbai.ini", "-s", s_data, "-s",
	                s_tls, "-s", K.s_crt, "-s", K.s_key, "-s", K.s_jwt, "-s",
	                "central.ops=", "-s", "kafka.bootstrap.servers=127.0.0.1:1",
	                /* No region's Kafka here: the changelog is another test's
	                 * (itest_takeover); this one is about TLS and tokens. */
	                "-s", "changelog.brokers=", NULL};
	T.pid = proc_spawn(T.log, argv);
	cr_assert_gt(T.pid, 0);
	uint64_t end = clock_mono_ms() + 20000;
	char probe[400];
	snprintf(probe, sizeof probe, "curl -skf --http2 -o /dev/null https://127.0.0.1:%d/healthz",
	         port);
	while (system(probe) != 0) {
		cr_assert(proc_alive(T.pid), "the edge exited; see %s", T.log);
		cr_assert_lt(clock_mono_ms(), end, "the edge never answered /healthz");
		proc_sleep_ms(100);
	}
	cr_assert_eq(like(port, "x-user-id: mallory"), 401, "the dev header is off when shipped");
	char *tok = token(K.jwt_key, "alice");
	char auth[1200];
	snprintf(auth, sizeof auth, "authorization: Bearer %s", tok);
	free(tok);
	cr_assert_eq(like(port, auth), 200);
	cr_assert_eq(like(port, "authorization: Bearer eyJhbGciOiJub25lIn0.e30."), 401);
	/* The certificate's expiry is on /metrics, for the renewal alert. */
	static char m[1 << 18];
	cr_assert_eq(proc_capture(m, sizeof m, "curl -skf https://127.0.0.1:%d/metrics", port), 0);
	double exp = prom_util_get(m, "likes_edge_tls_cert_expiry_timestamp_seconds");
	double now = (double)time(NULL);
	cr_assert(exp > now + 86000 && exp < now + 86800, "expiry %.0f, now %.0f (-days 1)", exp,
	          now);
}

/* The text between begin and end markers of docs/config.md. */
static char *doc_section(const char *which)
{
	FILE *f = fopen("docs/config.md", "r");
	cr_assert_not_null(f, "docs/config.md is missing");
	static char doc[65536];
	size_t n = fread(doc, 1, sizeof doc - 1, f);
	fclose(f);
	doc[n] = 0;
	char begin[64], end[64];
	snprintf(begin, sizeof begin, "<!-- begin %s options -->\n", which);
	snprintf(end, sizeof end, "<!-- end %s options -->", which);
	char *a = strstr(doc, begin), *b = a ? strstr(a, end) : NULL;
	cr_assert(a && b, "no %s markers in docs/config.md", which);
	*b = 0;
	return a + strlen(begin);
}

static void doc_matches(const char *bin, const char *which)
{
	char cmd[128], out[65536];
	snprintf(cmd, sizeof cmd, "%s --options", bin);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = 0;
	cr_assert_eq(pclose(p), 0);
	cr_assert_str_eq(doc_section(which), out,
	                 "docs/config.md is out of date: run sim/gen_config_md.sh");
}

Test(startup, docs_config_lists_every_option_as_the_binaries_do)
{
	doc_matches("build/edge", "edge");
	doc_matches("build/central", "central");
}

/* build/edge or build/central -t on path with extra arguments; its exit
 * status (2 for a refused config). */
static int check(const char *bin, const char *path, const char *extra)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "%s -t -c %s %s >/dev/null 2>>%s", bin, path, extra, T.log);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* -t makes every check start-up makes before the store and Kafka, so
 * the key and certificate files a config names must be readable: the
 * shipped region configs are checked with throwaway ones. */
Test(startup, every_shipped_config_passes_the_check_and_a_broken_one_does_not)
{
	throwaway_keys();
	char keys[1400];
	snprintf(keys, sizeof keys, "-s '%s' -s '%s' -s '%s'", K.s_crt, K.s_key, K.s_jwt);
	const char *deploy[] = {"configs/deploy/edge-mumbai.ini",
	                        "configs/deploy/edge-virginia.ini",
	                        "configs/deploy/edge-singapore.ini",
	                        "configs/deploy/edge-mumbai-standby.ini",
	                        "configs/deploy/edge-virginia-standby.ini",
	                        "configs/deploy/edge-singapore-standby.ini"};
	for (size_t i = 0; i < sizeof deploy / sizeof deploy[0]; i++)
		cr_assert_eq(check("build/edge", deploy[i], keys), 0, "%s", deploy[i]);
	const char *local[] = {"configs/local/edge-mumbai.ini", "configs/local/edge-mumbai-b.ini",
	                       "configs/local/edge-virginia.ini",
	                       "configs/local/edge-singapore.ini"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		cr_assert_eq(check("build/edge", local[i], ""), 0, "%s", local[i]);
	const char *centrals[] = {"configs/deploy/central.ini",
	                          "configs/deploy/central-replica.ini",
	                          "configs/local/central.ini"};
	for (size_t i = 0; i < sizeof centrals / sizeof centrals[0]; i++)
		cr_assert_eq(check("build/central", centrals[i], ""), 0, "%s", centrals[i]);
	edge_cfg("127.0.0.1:0", "[http]\nmax_streams = many\n");
	cr_assert_eq(check("build/edge", T.cfg, ""), 2);
}

/* Runs bin -t on T.cfg with extra arguments on an empty log: it must
 * exit 2 with needle on stderr. */
static void check_refuses_with(const char *bin, const char *extra, const char *needle)
{
	cr_assert(unlink(T.log) == 0 || errno == ENOENT);
	cr_assert_eq(check(bin, T.cfg, extra), 2, "%s -t %s accepted the config", bin, extra);
	char out[8192];
	FILE *f = fopen(T.log, "r");
	cr_assert_not_null(f);
	size_t n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	fclose(f);
	cr_assert(strstr(out, needle), "no \"%s\" in: %s", needle, out);
}

/* What -t refuses beyond the file's syntax: each case exits 2 and names
 * the reason on stderr. */
static void check_refuses(const char *bin, const char *needle)
{
	check_refuses_with(bin, "", needle);
}

Test(startup, central_check_refuses_a_partition_list_outside_the_topic)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "[central]\nid = c1\ndata_dir = %s/central\npartitions = 8-19\n"
	         "[topics]\npartitions = 16\n",
	         T.dir);
	write_cfg(text);
	check_refuses("build/central", "central.partitions");
}

/* The change feed's settings: thresholds ascending and whole, a session
 * longer than a message's timeout (checked only while a topic is on). */
Test(startup, central_check_refuses_bad_feed_settings)
{
	char text[1024];
	snprintf(text, sizeof text, "[central]\nid = c1\ndata_dir = %s/central\n", T.dir);
	write_cfg(text);
	check_refuses_with("build/central", "-s feed.milestones=10,100,", "feed.milestones");
	check_refuses_with("build/central", "-s feed.milestones=100,10", "feed.milestones");
	check_refuses_with("build/central", "-s feed.milestones=0,10", "feed.milestones");
	check_refuses_with("build/central", "-s feed.session_ms=5000", "feed.session_ms");
	cr_assert_eq(check("build/central", T.cfg,
	                   "-s feed.session_ms=5000 -s topics.changes= -s topics.milestones="),
	             0, "with the feed off its session does not matter");
}

Test(startup, central_check_refuses_an_open_ops_api_without_token)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "[central]\nid = c1\ndata_dir = %s/central\nops_listen = 0.0.0.0:9999\n", T.dir);
	write_cfg(text);
	check_refuses("build/central", "central.ops_token is empty");
}

Test(startup, edge_check_refuses_a_shard_map_with_a_hole)
{
	edge_cfg(
	    "127.0.0.1:0",
	    "[topics]\npartitions = 8\n[central]\nops = 0-3=127.0.0.1:9090;5-7=127.0.0.1:9091\n");
	check_refuses("build/edge", "partition 4 is in no entry");
}

Test(startup, edge_check_refuses_a_missing_demo_dir_or_certificate)
{
	char extra[1024];
	snprintf(extra, sizeof extra, "[demo]\ndir = %s/no-such-dir\n", T.dir);
	edge_cfg("127.0.0.1:0", extra);
	check_refuses("build/edge", "no-such-dir");

	snprintf(
	    extra, sizeof extra,
	    "[http]\ntls_listen = 127.0.0.1:0\ntls_cert = %s/none.crt\ntls_key = %s/none.key\n",
	    T.dir, T.dir);
	edge_cfg("127.0.0.1:0", extra);
	check_refuses("build/edge", "none.crt");
}

Test(startup, edge_check_refuses_a_commit_thread_that_is_not_auto_true_or_false)
{
	edge_cfg("127.0.0.1:0", "[store]\ncommit_thread = sometimes\n");
	check_refuses("build/edge", "store.commit_thread");
}

/* A librdkafka property in a section whose client would ignore it stops
 * start-up, and -t, naming file:line and the section it belongs in. */
Test(startup, a_kafka_property_in_the_wrong_role_section_is_refused)
{
	/* line 10 (after edge_cfg's nine): [kafka] holds what both clients take */
	edge_cfg("127.0.0.1:0", "[kafka]\nlinger.ms = 5\n");
	char where[400];
	snprintf(where, sizeof where, "%s:10: kafka.linger.ms is a producer property", T.cfg);
	refused("build/edge", where, "move it to [kafka.producer]");
	check_refuses_with("build/edge", "", where);

	char text[1024];
	snprintf(text, sizeof text,
	         "[central]\nid = c1\ndata_dir = %s/central\n[kafka.producer]\n"
	         "fetch.wait.max.ms = 10\n",
	         T.dir);
	write_cfg(text);
	snprintf(where, sizeof where,
	         "%s:5: kafka.producer.fetch.wait.max.ms is a consumer property", T.cfg);
	refused("build/central", where, "move it to [kafka.consumer]");
	check_refuses_with("build/central", "", where);
}

/* -t also hands every property to librdkafka: an unknown name in a role
 * section is refused without a client; an override is named -s. */
Test(startup, check_refuses_an_unknown_kafka_property_and_names_an_override)
{
	edge_cfg("127.0.0.1:0", "[kafka.consumer]\nno.such.property = 1\n");
	check_refuses_with("build/edge", "", "kafka.consumer.no.such.property");
	edge_cfg("127.0.0.1:0", "");
	check_refuses_with("build/edge", "-s kafka.consumer.acks=all",
	                   "-s: kafka.consumer.acks is a producer property");
}
