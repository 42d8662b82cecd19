/* xmem.h - allocation that never returns NULL.
 *
 * Out of memory is not a condition the daemons can recover from in a
 * useful way, so these abort with a message instead of returning NULL.
 * Every size that comes from the network is capped before it gets here.
 */
#ifndef LIKES_XMEM_H
#define LIKES_XMEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* What the wrappers do when malloc fails: log the size and abort. For
 * allocators of other kinds (blkcache.h) that must not fail either. */
__attribute__((noreturn)) void xmem_oom(size_t n);

#endif
