/* demo.h - the static files of the demo page (client/ of the project),
 * served by the edge under /demo/ when demo.dir is set.
 *
 * The directory is read once, at start: every regular file directly in
 * it whose name is plain ([A-Za-z0-9._-], not starting with '.') and
 * whose extension has a known content type is kept in memory, so a
 * request never touches the disk and nothing outside that list can be
 * reached (no subdirectories, no "..", no dotfiles). Edits to the files
 * show after a restart.
 *
 * A demo_site is immutable once loaded: every worker may answer from it
 * at once; demo_site_free only when no worker runs.
 */
#ifndef EDGE_DEMO_H
#define EDGE_DEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "edge/http/http.h"

#define DEMO_PREFIX "/demo"
#define DEMO_FILES_MAX 64
#define DEMO_FILE_MAX (1024 * 1024)

typedef struct demo_site demo_site;

/* Loads dir; NULL with the reason in err when it cannot be read, holds
 * no index.html, or a kept file is over DEMO_FILE_MAX. */
demo_site *demo_site_load(const char *dir, char *err, size_t errlen);
void demo_site_free(demo_site *s);

/* Files kept. */
size_t demo_site_files(const demo_site *s);

/* Answers req when its path is /demo or under /demo/ and returns true;
 * false (resp untouched) for any other path. /demo redirects to /demo/,
 * /demo/ is index.html, an unknown name is 404, a method other than GET
 * is 405. */
bool demo_site_answer(const demo_site *s, const http_request *req, http_response *resp);

#endif
