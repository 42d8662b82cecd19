/* fuzz_jwt.c - libFuzzer target for bearer tokens: each input is a token
 * verified by bearer_verify against a key set of one HS256 secret ("k1",
 * fuzz_secret.h) and one ES256 public key ("e1", a P-256 pair made with
 * OpenSSL at start), with issuer and audience checked; then the same
 * token goes through identity_user as "Authorization: Bearer <input>" in
 * an http_request (with dev identity also on, so the X-User-Id fallback
 * is exercised with the input as its value). Findings: a crash, an
 * accepted token whose user is not a valid user id, or identity_user
 * judging the token differently from bearer_verify. The key files live
 * in a temp dir removed at exit. Single-threaded.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/auth/bearer.h"
#include "edge/auth/identity.h"
#include "fuzz_secret.h"
#include "item.h"
#include "log.h"
#include "xmem.h"

#define NOW 1700000000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], hs_path[128], es_path[128];
static bearer_keys *keys;

static void cleanup(void)
{
	bearer_keys_free(keys);
	unlink(hs_path);
	unlink(es_path);
	rmdir(dir);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_jwt: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = -1;
	snprintf(dir, sizeof dir, "/tmp/fuzz_jwt.XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(cleanup);
	snprintf(hs_path, sizeof hs_path, "%s/hs.key", dir);
	snprintf(es_path, sizeof es_path, "%s/es.pub", dir);

	FILE *f = fopen(hs_path, "wb");
	if (!f || fwrite(FUZZ_SECRET, 1, strlen(FUZZ_SECRET), f) != strlen(FUZZ_SECRET) ||
	    fclose(f))
		die("write the HS256 secret");
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!pk)
		die("EC key generation");
	f = fopen(es_path, "w");
	if (!f || !PEM_write_PUBKEY(f, pk) || fclose(f))
		die("write the ES256 public key");
	EVP_PKEY_free(pk);

	char spec[512], err[256];
	snprintf(spec, sizeof spec, "k1:HS256:%s,e1:ES256:%s", hs_path, es_path);
	keys = bearer_keys_new(spec, FUZZ_ISSUER, FUZZ_AUDIENCE, 30, err, sizeof err);
	if (!keys)
		die(err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	principal who, who2;
	const char *user = who.user, *user2 = who2.user;
	const char *reason = NULL, *reason2 = NULL;
	int rc = bearer_verify(keys, (const char *)data, size, NOW, &who, &reason);

	if (rc == 0 && (strlen(user) > USER_MAX || !item_user_valid(user, strlen(user))))
		die("accepted a token with an invalid user");
	if (rc == 0 && who.home[0] && !item_edge_valid(who.home, strlen(who.home)))
		die("accepted a token with an invalid home");
	if (rc != 0 && !reason)
		die("refused a token without a reason");

	/* The same token as the request's bearer credential. */
	if (size > BEARER_TOKEN_MAX + 64)
		return 0;
	char *auth = xmalloc(size + 8);
	memcpy(auth, "Bearer ", 7);
	memcpy(auth + 7, data, size);
	auth[size + 7] = 0;
	http_header h[2] = {{"authorization", 13, auth, size + 7},
	                    {"x-user-id", 9, (const char *)data, size}};
	http_request req = {.method = "POST",
	                    .path = "/v1/items/post/1/likes",
	                    .headers = h,
	                    .nheaders = 2,
	                    .peer = "127.0.0.1:1"};
	identity_config ic = {.dev_header = true, .keys = keys};
	int rc2 = identity_user(&ic, &req, NOW, &who2, &reason2);
	if (size == 0 || data[0] != ' ') {
		/* The token alone decides, exactly as bearer_verify did. */
		if ((rc == 0) != (rc2 == 0) || (rc == 0 && strcmp(user, user2) != 0))
			die("identity_user and bearer_verify disagree");
	}

	/* Without a bearer token: the dev header, with the input as user. */
	req.headers = &h[1];
	req.nheaders = 1;
	if (identity_user(&ic, &req, NOW, &who2, &reason2) == 0 &&
	    !item_user_valid(user2, strlen(user2)))
		die("dev identity accepted an invalid user");
	free(auth);
	return 0;
}
