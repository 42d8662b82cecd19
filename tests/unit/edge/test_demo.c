/* test_demo.c - the demo page's static files (edge/api/demo.c): what is
 * kept at load, what each path answers, and what can never be reached.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/api/demo.h"
#include "tests/support/testdir.h"

static char dir[256];
static char err[512];
static demo_site *site;
static http_response resp;

static void setup(void)
{
	testdir_make(dir, sizeof dir, "test_demo");
	err[0] = 0;
	site = NULL;
	memset(&resp, 0, sizeof resp);
}

static void teardown(void)
{
	free(resp.body);
	demo_site_free(site);
	testdir_remove(dir);
}

TestSuite(demo, .init = setup, .fini = teardown, .timeout = 10);

static void put(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
}

static void load_site(void)
{
	site = demo_site_load(dir, err, sizeof err);
	cr_assert_not_null(site, "%s", err);
}

static const char *header(const char *name)
{
	for (size_t i = 0; i < resp.nheaders; i++)
		if (strcmp(resp.headers[i].name, name) == 0)
			return resp.headers[i].value;
	return NULL;
}

/* Asks method path; returns true when the site answered it. */
static bool ask(const char *method, const char *path)
{
	free(resp.body);
	memset(&resp, 0, sizeof resp);
	http_request rq = {.method = method, .path = path, .peer = "127.0.0.1:1"};
	return demo_site_answer(site, &rq, &resp);
}

static void body_is(const char *want)
{
	cr_assert_eq(resp.body_len, strlen(want));
	cr_assert(memcmp(resp.body, want, resp.body_len) == 0, "body %.*s", (int)resp.body_len,
	          resp.body);
}

Test(demo, slash_serves_index_and_files_by_name_with_their_types)
{
	put("index.html", "<p>feed</p>");
	put("likes.js", "export const x = 1;");
	put("demo.css", "p{}");
	load_site();
	cr_assert_eq(demo_site_files(site), 3);

	cr_assert(ask("GET", "/demo/"));
	cr_assert_eq(resp.status, 200);
	body_is("<p>feed</p>");
	cr_assert_str_eq(resp.content_type, "text/html; charset=utf-8");
	cr_assert_str_eq(header("cache-control"), "no-cache");
	cr_assert_not_null(header("content-security-policy"));

	cr_assert(ask("GET", "/demo/likes.js?v=2"));
	cr_assert_eq(resp.status, 200);
	body_is("export const x = 1;");
	cr_assert_str_eq(resp.content_type, "text/javascript; charset=utf-8");

	cr_assert(ask("GET", "/demo/demo.css"));
	cr_assert_str_eq(resp.content_type, "text/css; charset=utf-8");
}

Test(demo, bare_prefix_redirects_to_the_slash)
{
	put("index.html", "x");
	load_site();
	cr_assert(ask("GET", "/demo"));
	cr_assert_eq(resp.status, 308);
	cr_assert_str_eq(header("location"), "/demo/");
	cr_assert(ask("GET", "/demo?user=a"));
	cr_assert_eq(resp.status, 308);
}

Test(demo, other_paths_are_not_the_demos)
{
	put("index.html", "x");
	load_site();
	cr_assert_not(ask("GET", "/demonstration"));
	cr_assert_not(ask("GET", "/v1/counts?items=post:1"));
	cr_assert_not(ask("GET", "/"));
	cr_assert_eq(resp.status, 0, "an unanswered response stays untouched");
}

Test(demo, only_get_is_allowed)
{
	put("index.html", "x");
	load_site();
	cr_assert(ask("POST", "/demo/index.html"));
	cr_assert_eq(resp.status, 405);
	cr_assert_str_eq(header("allow"), "GET, HEAD");
}

Test(demo, nothing_outside_the_kept_files_is_reachable)
{
	put("index.html", "x");
	put(".secret.js", "dot");
	put("notes.txt", "unknown type");
	char sub[512];
	snprintf(sub, sizeof sub, "%s/test", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	put("test/inner.js", "below");
	char link[512];
	snprintf(link, sizeof link, "%s/passwd.js", dir);
	cr_assert_eq(symlink("/etc/passwd", link), 0);
	load_site();
	cr_assert_eq(demo_site_files(site), 1, "only index.html is kept");

	const char *paths[] = {"/demo/.secret.js",  "/demo/notes.txt",   "/demo/test/inner.js",
	                       "/demo/passwd.js",   "/demo/../api.md",   "/demo/..",
	                       "/demo//index.html", "/demo/index.html/", "/demo/%2e%2e"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		cr_assert(ask("GET", paths[i]), "%s", paths[i]);
		cr_assert_eq(resp.status, 404, "%s answered %d", paths[i], resp.status);
	}
}

Test(demo, load_refuses_a_missing_dir_or_one_without_index)
{
	char missing[300];
	snprintf(missing, sizeof missing, "%s/absent", dir);
	cr_assert_null(demo_site_load(missing, err, sizeof err));
	cr_assert(strstr(err, "absent"), "%s", err);

	put("likes.js", "x");
	cr_assert_null(demo_site_load(dir, err, sizeof err));
	cr_assert(strstr(err, "no index.html"), "%s", err);
}

Test(demo, load_refuses_a_file_over_the_cap)
{
	put("index.html", "x");
	char path[512];
	snprintf(path, sizeof path, "%s/big.js", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, DEMO_FILE_MAX + 1), 0);
	close(fd);
	cr_assert_null(demo_site_load(dir, err, sizeof err));
	cr_assert(strstr(err, "big.js"), "%s", err);
}
