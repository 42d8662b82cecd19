/* test_evauth.c - the callers' checks of evhttp servers (evauth.h): the
 * token comparison (equal only when equal, whatever the lengths), the
 * bearer header (scheme case ignored, nothing but "Bearer <token>"
 * accepted, an empty token never), and a request without a connection,
 * which is from no loopback. Central's ops API and the edge's seed
 * listener use these over real sockets in their itests. Pure.
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "evauth.h"

TestSuite(evauth, .timeout = 30);

Test(evauth, a_token_matches_only_itself)
{
	cr_assert(evauth_token_matches("s3cret", "s3cret"));
	cr_assert_not(evauth_token_matches("s3cres", "s3cret"), "the last byte differs");
	cr_assert_not(evauth_token_matches("S3cret", "s3cret"), "case counts");
	cr_assert_not(evauth_token_matches("s3cre", "s3cret"), "a prefix");
	cr_assert_not(evauth_token_matches("s3crets3cret", "s3cret"), "the token twice");
	cr_assert_not(evauth_token_matches("s3cret ", "s3cret"), "a trailing space");
	cr_assert_not(evauth_token_matches("", "s3cret"));
	cr_assert_not(evauth_token_matches("s", "ss"), "a short one repeated is not the same");
}

/* A request whose input headers carry Authorization: value (NULL: none). */
static struct evhttp_request *with_auth(const char *value)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	cr_assert_not_null(req);
	if (value)
		cr_assert_eq(evhttp_add_header(evhttp_request_get_input_headers(req),
		                               "Authorization", value),
		             0);
	return req;
}

static bool bearer(const char *header, const char *token)
{
	struct evhttp_request *req = with_auth(header);
	bool ok = evauth_bearer_ok(req, token);
	evhttp_request_free(req);
	return ok;
}

Test(evauth, only_bearer_and_the_token_pass)
{
	cr_assert(bearer("Bearer t0k", "t0k"));
	cr_assert(bearer("bearer t0k", "t0k"), "the scheme's case is ignored");
	cr_assert(bearer("BEARER t0k", "t0k"));
	cr_assert_not(bearer("Bearer t0K", "t0k"), "the token's case is not");
	cr_assert_not(bearer("Bearer  t0k", "t0k"), "two spaces");
	cr_assert_not(bearer("Bearer t0k ", "t0k"));
	cr_assert_not(bearer("Basic t0k", "t0k"));
	cr_assert_not(bearer("Bearert0k", "t0k"));
	cr_assert_not(bearer("t0k", "t0k"));
	cr_assert_not(bearer(NULL, "t0k"), "no header");
	cr_assert_not(bearer("Bearer ", ""), "an empty token is never one");
	cr_assert_not(bearer("Bearer t0k", NULL));
}

Test(evauth, a_request_without_a_connection_is_not_from_loopback)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	cr_assert_not(evauth_from_loopback(req));
	evhttp_request_free(req);
}
