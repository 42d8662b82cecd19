/* test_hclient.c - the operator commands' blocking HTTP/1.0 client
 * (common/hclient.c) against the edge's own HTTP server in a thread
 * (tests/http_server_util.h): plain and TLS, kept and streamed bodies,
 * the size cap, an address nobody listens on, wildcard listen addresses.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hclient.h"
#include "http_server_util.h"

TestSuite(hclient, .init = suite_init, .fini = suite_fini, .timeout = 30);

static hclient_req req_to(int p, bool tls, const char *path)
{
	return (hclient_req){.host = "127.0.0.1",
	                     .port = p,
	                     .tls = tls,
	                     .method = "GET",
	                     .path = path,
	                     .timeout_ms = 5000,
	                     .max_body = 1 << 20};
}

Test(hclient, a_plain_get_returns_status_and_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	hclient_req r = req_to(port(false), false, "/created");
	r.token = "t0k";
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 201);
	cr_assert_str_eq(a.body, "{\"method\":\"GET\",\"path\":\"/created\"}");
	cr_assert_eq(a.len, strlen(a.body));
	cr_assert(atomic_load(&H.last_h1), "HTTP/1.0 is served as HTTP/1.x");
	free(a.body);
}

Test(hclient, tls_works_without_checking_the_certificate)
{
	start_tls_server();
	hclient_req r = req_to(port(true), true, "/x");
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200);
	cr_assert(strstr(a.body, "\"path\":\"/x\""));
	free(a.body);
}

Test(hclient, a_200_body_streams_and_a_large_kept_one_is_refused)
{
	http_config cfg = base_config();
	start_server(&cfg);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	hclient_req r = req_to(port(false), false, "/big/300000");
	r.stream = f;
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200);
	cr_assert_null(a.body, "a streamed body is not kept");
	cr_assert_eq(ftell(f), 300000);
	rewind(f);
	for (int i = 0; i < 300000; i++)
		cr_assert_eq(fgetc(f), i * 7 % 251, "byte %d", i);
	fclose(f);
	r.stream = NULL;
	r.max_body = 1000;
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "too large"), "%s", err);
	cr_assert_null(a.body);
}

Test(hclient, nobody_listening_is_a_connect_error)
{
	int p = 1; /* nothing listens on port 1 */
	hclient_req r = req_to(p, false, "/");
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_IO);
	cr_assert_eq(strncmp(err, "connect", 7), 0, "%s", err);
}

Test(hclient, wildcard_listen_addresses_become_loopback)
{
	char host[64];
	int p;
	cr_assert_eq(hclient_local_target(":8081", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(p, 8081);
	cr_assert_eq(hclient_local_target("0.0.0.0:9", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(hclient_local_target("[::]:9", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(hclient_local_target("10.0.0.1:9090", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "10.0.0.1");
	cr_assert_eq(hclient_local_target("127.0.0.1:0", host, sizeof host, &p), ERR_INVAL);
	cr_assert_eq(hclient_local_target("nope", host, sizeof host, &p), ERR_INVAL);
}
