/* demo.c - the demo page's static files (demo.h). */
#include "edge/api/demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/api/api_int.h"
#include "item.h"
#include "log.h"
#include "xmem.h"

#define NAME_MAX_LEN 64

typedef struct demo_file {
	char name[NAME_MAX_LEN + 1];
	const char *type;
	char *data;
	size_t len;
} demo_file;

struct demo_site {
	demo_file files[DEMO_FILES_MAX];
	size_t n;
};

static const struct {
	const char *ext;
	const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* [A-Za-z0-9._-]{1,64}, not starting with '.'. */
static bool plain_name(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!item_name_char(s[i]))
			return false;
	return true;
}

/* Reads dirfd/name into f; 1 when it is not a regular file (skipped). */
static int read_file(int dirfd, const char *name, demo_file *f, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ELOOP)
			return 1; /* a symlink: could point anywhere */
		snprintf(err, errlen, "demo file %s: %s", name, strerror(errno));
		return ERR_IO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 1;
	}
	if (st.st_size > DEMO_FILE_MAX) {
		close(fd);
		snprintf(err, errlen, "demo file %s is over %d bytes", name, DEMO_FILE_MAX);
		return ERR_TOOBIG;
	}
	f->data = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, f->data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "demo file %s: %s", name,
			         r < 0 ? strerror(errno) : "shrank while read");
			close(fd);
			free(f->data);
			f->data = NULL;
			return ERR_IO;
		}
		got += (size_t)r;
	}
	close(fd);
	f->len = got;
	snprintf(f->name, sizeof f->name, "%s", name);
	f->type = type_of(name);
	return 0;
}

static const demo_file *find(const demo_site *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->files[i].name) == len && memcmp(s->files[i].name, name, len) == 0)
			return &s->files[i];
	return NULL;
}

demo_site *demo_site_load(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "demo.dir %s: %s", dir, strerror(errno));
		return NULL;
	}
	demo_site *s = xcalloc(1, sizeof *s);
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!plain_name(de->d_name, strlen(de->d_name)) || !type_of(de->d_name))
			continue;
		if (s->n == DEMO_FILES_MAX) {
			snprintf(err, errlen, "demo.dir %s holds more than %d files to serve", dir,
			         DEMO_FILES_MAX);
			rc = ERR_INVAL;
			break;
		}
		int r = read_file(dirfd(d), de->d_name, &s->files[s->n], err, errlen);
		if (r < 0)
			rc = r;
		else if (r == 0)
			s->n++;
	}
	closedir(d);
	if (!rc && !find(s, "index.html", 10)) {
		snprintf(err, errlen, "demo.dir %s has no index.html", dir);
		rc = ERR_INVAL;
	}
	if (rc) {
		demo_site_free(s);
		return NULL;
	}
	log_info("demo page loaded", "dir=%s files=%zu", dir, s->n);
	return s;
}

void demo_site_free(demo_site *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].data);
	free(s);
}

size_t demo_site_files(const demo_site *s)
{
	return s->n;
}

bool demo_site_answer(const demo_site *s, const http_request *req, http_response *resp)
{
	size_t plen = strcspn(req->path, "?"), pre = strlen(DEMO_PREFIX);
	if (plen < pre || memcmp(req->path, DEMO_PREFIX, pre) != 0 ||
	    (plen > pre && req->path[pre] != '/'))
		return false;
	if (strcmp(req->method, "GET") != 0) {
		api_error(resp, 405, "method_not_allowed", "use GET or HEAD");
		api_header(resp, "allow", "GET, HEAD");
		return true;
	}
	if (plen == pre) {
		/* Relative links in the page need the slash. */
		api_error(resp, 308, "moved", "the demo is at /demo/");
		api_header(resp, "location", DEMO_PREFIX "/");
		return true;
	}
	const char *name = req->path + pre + 1;
	size_t len = plen - pre - 1;
	if (len == 0) {
		name = "index.html";
		len = 10;
	}
	const demo_file *f = plain_name(name, len) ? find(s, name, len) : NULL;
	if (!f) {
		api_error(resp, 404, "not_found", "no such file in the demo");
		return true;
	}
	char *body = xmalloc(f->len ? f->len : 1);
	memcpy(body, f->data, f->len);
	api_respond(resp, 200, body, f->len);
	resp->content_type = f->type;
	api_header(resp, "cache-control", "no-cache");
	api_header(resp, "x-content-type-options", "nosniff");
	/* Only this origin's scripts, styles and API. */
	api_header(resp, "content-security-policy",
	           "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
	return true;
}
