/* test_config.c - the INI option table: defaults, file values, every kind
 * of bad input with its file:line, overrides, masked logging, host:port. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/testdir.h"
#include "config.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Under ASan, fails the test now if anything allocated is unreachable: the
 * leak report at process exit would come too late to fail it. Without ASan
 * the callers' other checks still run. */
static void assert_no_leaks(void)
{
#ifdef HAVE_LSAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks reported above");
#endif
}

typedef struct test_cfg {
	char *name;
	char *dir;
	char *note; /* empty default */
	int64_t max_ops;
	int64_t bytes;
	int64_t offset;
	bool fsync;
	bool dev;
	char *token;
	cfg_kv *kafka;
} test_cfg;

#define OPT(sec, nm, ty, field, def, lo, hi, sec_)                                                 \
	{                                                                                          \
		sec, nm, ty, offsetof(test_cfg, field), def, lo, hi, sec_, ""                      \
	}

static const cfg_opt table[] = {
    OPT("server", "name", CFG_STR, name, "edge-1", 0, 0, false),
    OPT("server", "dir", CFG_STR, dir, "/var/lib/likes", 0, 0, false),
    OPT("server", "note", CFG_STR, note, "", 0, 0, false),
    OPT("batch", "max_ops", CFG_INT, max_ops, "1000", 1, 100000, false),
    OPT("batch", "bytes", CFG_INT, bytes, "64k", 1, INT64_MAX, false),
    OPT("batch", "offset", CFG_INT, offset, "-5", -1000, 1000, false),
    OPT("store", "fsync", CFG_BOOL, fsync, "false", 0, 0, false),
    OPT("store", "dev", CFG_BOOL, dev, "yes", 0, 0, false),
    OPT("auth", "token", CFG_STR, token, "changeme", 0, 0, true),
    OPT("kafka", NULL, CFG_PASSTHROUGH, kafka, NULL, 0, 0, false),
};
#define NOPT (sizeof table / sizeof table[0])

static char tmpdir[256];
static char cfgpath[300];
static test_cfg cfg;
static char err[512];

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_config");
	snprintf(cfgpath, sizeof cfgpath, "%s/likes.ini", tmpdir);
	memset(&cfg, 0, sizeof cfg);
	err[0] = '\0';
}

static void teardown(void)
{
	cfg_free(table, NOPT, &cfg);
	testdir_remove(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 10);

static void write_cfg(const char *text)
{
	FILE *f = fopen(cfgpath, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

static int load(const char *text)
{
	write_cfg(text);
	return cfg_load(table, NOPT, &cfg, cfgpath, err, sizeof err);
}

/* err must be exactly "<cfgpath>:<line>: <reason...>" with reason starting
 * with want. */
static void assert_err_at(int line, const char *want)
{
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s:%d: %s", cfgpath, line, want);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "error '%s', want prefix '%s'", err,
	          prefix);
}

static size_t kv_count(const cfg_kv *kv)
{
	size_t n = 0;
	for (; kv; kv = kv->next)
		n++;
	return n;
}

Test(config, defaults_fill_every_option)
{
	cfg_defaults(table, NOPT, &cfg);
	cr_assert_str_eq(cfg.name, "edge-1");
	cr_assert_str_eq(cfg.dir, "/var/lib/likes");
	cr_assert_not_null(cfg.note, "an empty default is \"\", never NULL");
	cr_assert_str_eq(cfg.note, "");
	cr_assert_eq(cfg.max_ops, 1000);
	cr_assert_eq(cfg.bytes, 64 * 1024);
	cr_assert_eq(cfg.offset, -5);
	cr_assert_eq(cfg.fsync, false);
	cr_assert_eq(cfg.dev, true);
	cr_assert_str_eq(cfg.token, "changeme");
	cr_assert_null(cfg.kafka);
}

Test(config, empty_file_gives_defaults)
{
	cr_assert_eq(load(""), 0, "%s", err);
	cr_assert_str_eq(cfg.name, "edge-1");
	cr_assert_eq(cfg.max_ops, 1000);
	cr_assert_null(cfg.kafka);
}

Test(config, file_values_override_defaults)
{
	int rc = load("; a comment\n"
	              "# another\n"
	              "[server]\n"
	              "name = edge-mumbai\n"
	              "  note = indented is fine   \n"
	              "\n"
	              "[batch]\n"
	              "max_ops=250 ; trailing comment\n"
	              "bytes = 2m\n"
	              "offset = -1000\n"
	              "[ store ]\n"
	              "fsync = on\n"
	              "dev = 0\n"
	              "[auth]\n"
	              "token = s3cret\n");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(cfg.name, "edge-mumbai");
	cr_assert_str_eq(cfg.dir, "/var/lib/likes", "unset options keep the default");
	cr_assert_str_eq(cfg.note, "indented is fine");
	cr_assert_eq(cfg.max_ops, 250);
	cr_assert_eq(cfg.bytes, 2 * 1024 * 1024);
	cr_assert_eq(cfg.offset, -1000);
	cr_assert_eq(cfg.fsync, true);
	cr_assert_eq(cfg.dev, false);
	cr_assert_str_eq(cfg.token, "s3cret");
}

Test(config, unknown_key_names_file_and_line)
{
	cr_assert_eq(load("[server]\nname = a\n\n[batch]\nmax_opps = 3\n"), ERR_CONFIG);
	assert_err_at(5, "unknown key 'batch.max_opps'");
}

Test(config, unknown_section_names_file_and_line)
{
	cr_assert_eq(load("[server]\nname = a\n[nosuch]\n"), ERR_CONFIG);
	assert_err_at(3, "unknown section [nosuch]");
}

Test(config, key_before_any_section_is_unknown)
{
	cr_assert_eq(load("\nname = a\n"), ERR_CONFIG);
	assert_err_at(2, "unknown key 'name'");
}

Test(config, line_without_equals_is_a_syntax_error)
{
	cr_assert_eq(load("[server]\nname = a\njust words\n"), ERR_CONFIG);
	assert_err_at(3, "expected");
}

Test(config, syntax_error_before_a_bad_key_is_reported_first)
{
	cr_assert_eq(load("[server]\nbroken\nnope = 1\n"), ERR_CONFIG);
	assert_err_at(2, "expected");
}

Test(config, overlong_line_is_an_error)
{
	char text[600];
	int k = snprintf(text, sizeof text, "[server]\nname = ");
	memset(text + k, 'x', 300);
	snprintf(text + k + 300, sizeof text - (size_t)k - 300, "\n");
	cr_assert_eq(load(text), ERR_CONFIG);
	assert_err_at(2, "line longer than");
}

Test(config, long_comment_line_is_fine)
{
	char text[600];
	int k = snprintf(text, sizeof text, "# ");
	memset(text + k, 'x', 400);
	snprintf(text + k + 400, sizeof text - (size_t)k - 400, "\n[batch]\nmax_ops = 7\n");
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert_eq(cfg.max_ops, 7);
}

Test(config, missing_file_is_a_config_error_naming_the_path)
{
	snprintf(cfgpath, sizeof cfgpath, "%s/absent.ini", tmpdir);
	cr_assert_eq(cfg_load(table, NOPT, &cfg, cfgpath, err, sizeof err), ERR_CONFIG);
	cr_assert(strncmp(err, cfgpath, strlen(cfgpath)) == 0, "%s", err);
}

typedef struct bad_value {
	char line[64];
	char reason[96];
} bad_value;

ParameterizedTestParameters(config, bad_values_are_rejected_with_reason)
{
	static bad_value cases[] = {
	    {"max_ops = 0", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 100001", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = -1", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = abc", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 12abc", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 1.5", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 0x10", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops =", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 1kb", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 1 000", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"max_ops = 98k", "'batch.max_ops' must be an integer in [1, 100000]"},
	    {"bytes = 99999999999999999999", "'batch.bytes' must be an integer in [1, "},
	    {"bytes = 9223372036854775807k", "'batch.bytes' must be an integer in [1, "},
	    {"bytes = 8589934592g", "'batch.bytes' must be an integer in [1, "},
	    {"offset = -1001", "'batch.offset' must be an integer in [-1000, 1000]"},
	    {"offset = --1", "'batch.offset' must be an integer in [-1000, 1000]"},
	};
	return cr_make_param_array(bad_value, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_value *c, config, bad_values_are_rejected_with_reason)
{
	char text[128];
	snprintf(text, sizeof text, "[batch]\n\n%s\n", c->line);
	cr_assert_eq(load(text), ERR_CONFIG, "'%s' was accepted", c->line);
	assert_err_at(3, c->reason);
}

typedef struct int_case {
	char text[32];
	int64_t want;
} int_case;

ParameterizedTestParameters(config, integers_and_size_suffixes)
{
	static int_case cases[] = {
	    {"1", 1},
	    {"007", 7},
	    {"4k", 4096},
	    {"4K", 4096},
	    {"3m", 3 * 1024 * 1024},
	    {"2G", INT64_C(2) * 1024 * 1024 * 1024},
	    {"8589934591g", INT64_C(8589934591) * 1024 * 1024 * 1024},
	    {"9223372036854775807", INT64_MAX},
	};
	return cr_make_param_array(int_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(int_case *c, config, integers_and_size_suffixes)
{
	char text[96];
	snprintf(text, sizeof text, "[batch]\nbytes = %s\n", c->text);
	cr_assert_eq(load(text), 0, "%s: %s", c->text, err);
	cr_assert_eq(cfg.bytes, c->want, "%s", c->text);
}

Test(config, negative_bound_is_accepted)
{
	cr_assert_eq(load("[batch]\noffset = -1000\n"), 0, "%s", err);
	cr_assert_eq(cfg.offset, -1000);
}

Test(config, every_boolean_spelling_is_accepted)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes"};
	static const char *const no[] = {"false", "no", "off", "0", "FALSE", "Off"};
	char text[64];
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		snprintf(text, sizeof text, "[store]\nfsync = %s\ndev = %s\n", yes[i], no[i]);
		cr_assert_eq(load(text), 0, "%s", err);
		cr_assert_eq(cfg.fsync, true, "%s", yes[i]);
		cr_assert_eq(cfg.dev, false, "%s", no[i]);
		cfg_free(table, NOPT, &cfg);
	}
}

Test(config, bad_boolean_is_rejected)
{
	static const char *const bad[] = {"maybe", "2", "", "truee", "y"};
	char text[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[store]\nfsync = %s\n", bad[i]);
		cr_assert_eq(load(text), ERR_CONFIG, "'%s' was accepted", bad[i]);
		assert_err_at(2, "'store.fsync' must be a boolean");
	}
}

Test(config, bad_secret_value_is_not_echoed)
{
	static const cfg_opt sec[] = {
	    {"auth", "pin", CFG_INT, offsetof(test_cfg, max_ops), "1", 0, 9999, true, ""},
	};
	write_cfg("[auth]\npin = hunter2\n");
	cr_assert_eq(cfg_load(sec, 1, &cfg, cfgpath, err, sizeof err), ERR_CONFIG);
	cr_assert_not_null(strstr(err, "'auth.pin' must be an integer"), "%s", err);
	cr_assert_null(strstr(err, "hunter2"), "%s", err);
}

Test(config, duplicate_key_is_an_error)
{
	cr_assert_eq(load("[batch]\nmax_ops = 5\n[server]\nname = a\n[batch]\nmax_ops = 6\n"),
	             ERR_CONFIG);
	assert_err_at(6, "'batch.max_ops' is set twice (first on line 2)");
}

Test(config, passthrough_keeps_file_order)
{
	int rc = load("[kafka]\n"
	              "bootstrap.servers = 127.0.0.1:9092\n"
	              "linger.ms = 5\n"
	              "[batch]\n"
	              "max_ops = 9\n"
	              "[kafka]\n"
	              "acks = all\n");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(kv_count(cfg.kafka), 3);
	const cfg_kv *kv = cfg.kafka;
	cr_assert_str_eq(kv->key, "bootstrap.servers");
	cr_assert_str_eq(kv->value, "127.0.0.1:9092");
	kv = kv->next;
	cr_assert_str_eq(kv->key, "linger.ms");
	cr_assert_str_eq(kv->value, "5");
	kv = kv->next;
	cr_assert_str_eq(kv->key, "acks");
	cr_assert_str_eq(kv->value, "all");
	cr_assert_eq(cfg.max_ops, 9);
}

Test(config, repeated_passthrough_key_is_an_error)
{
	cr_assert_eq(load("[kafka]\nacks = 1\nlinger.ms = 5\nacks = all\n"), ERR_CONFIG);
	assert_err_at(4, "'kafka.acks' is set twice");
}

Test(config, failed_load_releases_everything)
{
	cr_assert_eq(load("[kafka]\nacks = 1\n[server]\nname = x\n[batch]\nmax_ops = x\n"),
	             ERR_CONFIG);
	cr_assert_null(cfg.name);
	cr_assert_null(cfg.kafka);
	assert_no_leaks();
	/* and freeing again is harmless (teardown does it once more) */
	cfg_free(table, NOPT, &cfg);
}

Test(config, set_overrides_file_values)
{
	cr_assert_eq(load("[batch]\nmax_ops = 5\n[server]\nname = a\n"), 0, "%s", err);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "batch.max_ops=77", err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "server.name = edge-2 ", err, sizeof err), 0);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "store.fsync=yes", err, sizeof err), 0);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "server.note=a=b", err, sizeof err), 0);
	cr_assert_eq(cfg.max_ops, 77);
	cr_assert_str_eq(cfg.name, "edge-2");
	cr_assert_eq(cfg.fsync, true);
	cr_assert_str_eq(cfg.note, "a=b", "only the first '=' separates");
}

Test(config, set_passthrough_key_with_dots_replaces_or_appends)
{
	cr_assert_eq(load("[kafka]\nbootstrap.servers = a:1\nacks = 1\n"), 0, "%s", err);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "kafka.bootstrap.servers=b:2,c:3", err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "kafka.socket.timeout.ms=100", err, sizeof err), 0);
	cr_assert_eq(kv_count(cfg.kafka), 3);
	cr_assert_str_eq(cfg.kafka->key, "bootstrap.servers");
	cr_assert_str_eq(cfg.kafka->value, "b:2,c:3");
	cr_assert_str_eq(cfg.kafka->next->key, "acks");
	cr_assert_str_eq(cfg.kafka->next->next->key, "socket.timeout.ms");
	cr_assert_str_eq(cfg.kafka->next->next->value, "100");
}

Test(config, set_rejects_bad_assignments_and_keeps_old_value)
{
	cfg_defaults(table, NOPT, &cfg);
	static const char *const bad[] = {
	    "batch.max_ops", "max_ops=5", ".max_ops=5",      "batch.=5",           "batch.nope=5",
	    "nosuch.x=1",    "=5",        "batch.max_ops=0", "batch.max_ops=zero", "store.fsync=2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		cr_assert_eq(cfg_set(table, NOPT, &cfg, bad[i], err, sizeof err), ERR_CONFIG,
		             "'%s' was accepted", bad[i]);
		cr_assert_neq(err[0], '\0', "no reason for '%s'", bad[i]);
	}
	cr_assert_eq(cfg.max_ops, 1000);
	cr_assert_eq(cfg.fsync, false);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "batch.nope=5", err, sizeof err), ERR_CONFIG);
	cr_assert_str_eq(err, "override: unknown key 'batch.nope'");
}

/* Runs cfg_log with fd 2 sent to a file and returns what was written. */
static char *capture_log(void)
{
	char path[320];
	snprintf(path, sizeof path, "%s/stderr.log", tmpdir);
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_geq(saved, 0);
	cr_assert_geq(dup2(fd, 2), 0);
	cfg_log(table, NOPT, &cfg);
	cr_assert_geq(dup2(saved, 2), 0);
	close(saved);

	off_t len = lseek(fd, 0, SEEK_END);
	cr_assert_gt(len, 0);
	char *buf = malloc((size_t)len + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)len, 0), len);
	buf[len] = '\0';
	close(fd);
	return buf;
}

Test(config, log_shows_values_and_masks_secrets)
{
	int rc = load("[auth]\ntoken = TOPSECRET\n"
	              "[server]\nname = two words\n"
	              "[kafka]\nsasl.password = HUNTER2\nacks = all\n");
	cr_assert_eq(rc, 0, "%s", err);
	char *out = capture_log();
	cr_assert_not_null(strstr(out, "msg=\"config\" key=auth.token value=***\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=kafka.sasl.password value=***\n"), "%s", out);
	cr_assert_null(strstr(out, "TOPSECRET"), "%s", out);
	cr_assert_null(strstr(out, "HUNTER2"), "%s", out);
	cr_assert_not_null(strstr(out, "key=kafka.acks value=all\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=server.name value=\"two words\"\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=server.note value=\"\"\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=batch.max_ops value=1000\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=batch.offset value=-5\n"), "%s", out);
	cr_assert_not_null(strstr(out, "key=store.dev value=true\n"), "%s", out);
	/* one line per option, one per passthrough key */
	size_t lines = 0;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, NOPT - 1 + 2, "%s", out);
	free(out);
}

Test(config, free_releases_strings_and_lists)
{
	cr_assert_eq(load("[server]\nname = n\n[kafka]\na = 1\nb.c = 2\n"), 0, "%s", err);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "server.name=m", err, sizeof err), 0);
	cr_assert_eq(cfg_set(table, NOPT, &cfg, "kafka.d=3", err, sizeof err), 0);
	cfg_free(table, NOPT, &cfg);
	assert_no_leaks();
	cr_assert_null(cfg.name);
	cr_assert_null(cfg.dir);
	cr_assert_null(cfg.token);
	cr_assert_null(cfg.kafka);
}

typedef struct hostport_case {
	char in[48];
	int ok;
	char host[40];
	int port;
} hostport_case;

ParameterizedTestParameters(config, hostport_table)
{
	static hostport_case cases[] = {
	    {"127.0.0.1:8081", 1, "127.0.0.1", 8081},
	    {"localhost:80", 1, "localhost", 80},
	    {"edge-1.example_net:443", 1, "edge-1.example_net", 443},
	    {"[::1]:80", 1, "::1", 80},
	    {"[fe80::1%eth0]:9000", 1, "fe80::1%eth0", 9000},
	    {"[::ffff:10.0.0.1]:1", 1, "::ffff:10.0.0.1", 1},
	    {":8080", 1, "", 8080},
	    {"0.0.0.0:0", 1, "0.0.0.0", 0},
	    {"host:65535", 1, "host", 65535},
	    {"host:065535", 0, "", 0},
	    {"host:65536", 0, "", 0},
	    {"host:99999", 0, "", 0},
	    {"host:", 0, "", 0},
	    {"host", 0, "", 0},
	    {"", 0, "", 0},
	    {":", 0, "", 0},
	    {"host:-1", 0, "", 0},
	    {"host:+80", 0, "", 0},
	    {"host:80x", 0, "", 0},
	    {"host:8 0", 0, "", 0},
	    {"host :80", 0, "", 0},
	    {"::1:80", 0, "", 0},
	    {"[::1]", 0, "", 0},
	    {"[::1]80", 0, "", 0},
	    {"[::1:80", 0, "", 0},
	    {"[]:80", 0, "", 0},
	    {"[host]:80", 0, "", 0},
	    {"[1.2.3.4]:80", 0, "", 0},
	    {"a/b:80", 0, "", 0},
	};
	return cr_make_param_array(hostport_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(hostport_case *c, config, hostport_table)
{
	char host[64] = "unchanged";
	int port = -7;
	int rc = cfg_parse_hostport(c->in, host, sizeof host, &port);
	if (c->ok) {
		cr_assert_eq(rc, 0, "'%s' rejected", c->in);
		cr_assert_str_eq(host, c->host, "'%s'", c->in);
		cr_assert_eq(port, c->port, "'%s'", c->in);
	} else {
		cr_assert_neq(rc, 0, "'%s' accepted as host '%s' port %d", c->in, host, port);
		cr_assert_str_eq(host, "unchanged", "'%s' wrote host on failure", c->in);
		cr_assert_eq(port, -7, "'%s' wrote port on failure", c->in);
	}
}

Test(config, hostport_host_too_long_for_buffer)
{
	char host[4];
	int port;
	cr_assert_eq(cfg_parse_hostport("abcd:80", host, sizeof host, &port), ERR_TOOBIG);
	cr_assert_eq(cfg_parse_hostport("abc:80", host, sizeof host, &port), 0);
	cr_assert_str_eq(host, "abc");
}

Test(config, cmdline_takes_c_and_s_and_loads_them_in_order)
{
	write_cfg("[server]\nname = file\n[batch]\nmax_ops = 1\n");
	char *argv[] = {
	    "cmd", "-c", cfgpath, "--other", "-s", "batch.max_ops=7", "-s", "server.name=set",
	    "-s",  NULL};
	int argc = 9;
	cfg_cmdline cl = {0};
	char e[256] = "";
	int took[9] = {0};
	for (int i = 1; i < argc; i++) {
		int at = i;
		took[at] = cfg_cmdline_take(&cl, argc, argv, &i, e, sizeof e);
	}
	cr_assert_eq(took[1], 1);
	cr_assert_eq(took[3], 0, "--other is the caller's");
	cr_assert_eq(took[8], ERR_CONFIG, "-s with no value");
	cr_assert_str_eq(e, "-s needs a value");
	cr_assert_str_eq(cl.file, cfgpath);
	cr_assert_eq(cl.nsets, 2);
	cr_assert_eq(cfg_cmdline_load(table, NOPT, &cfg, &cl, err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.max_ops, 7);
	cr_assert_str_eq(cfg.name, "set");
	cfg_free(table, NOPT, &cfg);
	cl.sets[cl.nsets++] = "server.nope=1";
	cr_assert_eq(cfg_cmdline_load(table, NOPT, &cfg, &cl, err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "nope"), "%s", err);
	cfg_cmdline none = {0};
	cr_assert_eq(cfg_cmdline_load(table, NOPT, &cfg, &none, err, sizeof err), ERR_CONFIG);
	cr_assert_str_eq(err, "-c FILE is needed");
}

/* Sections whose names hold dots, as the daemons' [kafka.producer] and
 * [kafka.consumer]: in a file, and in an override, where the longest
 * section the key starts with wins. Each passthrough key remembers the
 * file and line it came from ("-s" for an override). */
typedef struct role_cfg {
	cfg_kv *common, *producer;
} role_cfg;

static const cfg_opt role_table[] = {
    {"kafka", NULL, CFG_PASSTHROUGH, offsetof(role_cfg, common), NULL, 0, 0, false, ""},
    {"kafka.producer", NULL, CFG_PASSTHROUGH, offsetof(role_cfg, producer), NULL, 0, 0, false, ""},
};
#define NROLE (sizeof role_table / sizeof role_table[0])

Test(config, dotted_sections_in_files_and_overrides)
{
	role_cfg rc = {0};
	write_cfg("[kafka]\nbootstrap.servers = a:1\n[kafka.producer]\nlinger.ms = 5\n");
	cr_assert_eq(cfg_load(role_table, NROLE, &rc, cfgpath, err, sizeof err), 0, "%s", err);
	cr_assert_eq(kv_count(rc.common), 1);
	cr_assert_eq(kv_count(rc.producer), 1);
	cr_assert_str_eq(rc.producer->key, "linger.ms");
	char where[400];
	snprintf(where, sizeof where, "%s:4", cfgpath);
	cr_assert_str_eq(rc.producer->where, where);
	snprintf(where, sizeof where, "%s:2", cfgpath);
	cr_assert_str_eq(rc.common->where, where);

	cr_assert_eq(cfg_set(role_table, NROLE, &rc, "kafka.producer.acks=all", err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(cfg_set(role_table, NROLE, &rc, "kafka.producer.linger.ms=9", err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(
	    cfg_set(role_table, NROLE, &rc, "kafka.socket.timeout.ms=100", err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(kv_count(rc.common), 2, "an override of [kafka.producer] went to [kafka]");
	cr_assert_eq(kv_count(rc.producer), 2);
	cr_assert_str_eq(rc.producer->value, "9");
	cr_assert_str_eq(rc.producer->where, "-s", "a replaced value says where it now comes from");
	cr_assert_str_eq(rc.producer->next->key, "acks");
	cr_assert_str_eq(rc.common->next->key, "socket.timeout.ms");
	cr_assert_eq(cfg_set(role_table, NROLE, &rc, "kafkaproducer.x=1", err, sizeof err),
	             ERR_CONFIG);
	cfg_free(role_table, NROLE, &rc);
	cr_assert_null(rc.producer);
}
