/* blkcache.h - per-thread caches of freed memory, so that work which
 * allocates and frees the same sizes again and again (an HTTP/2 stream's
 * state, nghttp2's frames and header copies, an answer's body) reuses the
 * blocks the previous request freed instead of calling malloc.
 *
 * Two kinds of memory, never mixed:
 *
 *  - Blocks (blk_alloc, blk_calloc, blk_realloc, blk_free): each carries a
 *    small header naming its size class, so only blk_free and blk_realloc
 *    may take one back. Up to BLK_MAX bytes a block comes from the calling
 *    thread's list of its class when that has one; larger ones go to
 *    malloc and back to free. They fail (NULL) as malloc does, so they can
 *    serve as nghttp2's allocator (nghttp2_mem).
 *
 *  - Buffers (blk_keep_buf, blk_take_buf): plain malloc'ed memory that its
 *    owner is done with, kept for the thread's next growable buffer (sbuf)
 *    that needs room. free() stays valid on them; keeping is only a
 *    shortcut.
 *
 * Every thread has its own cache, made on first use and freed when the
 * thread exits; no lock is taken. Memory freed on another thread than the
 * one it came from joins that thread's cache, which is correct, merely not
 * local. A cache keeps at most BLK_KEEP_BYTES of blocks per class (2,048
 * blocks of 64 bytes, 32 of 4,096: enough for the streams of several
 * connections in flight at once) and BLK_KEEP_BUFS buffers of at most
 * BLK_BUF_MAX bytes each, so it holds at most about 2 MB whatever the load
 * was. Under AddressSanitizer nothing is kept (every
 * free goes to the allocator), so that a use after free is still caught;
 * blk_caching() says which.
 */
#ifndef LIKES_BLKCACHE_H
#define LIKES_BLKCACHE_H

#include <stdbool.h>
#include <stddef.h>

#define BLK_MAX 4080           /* the largest block kept: 4096 with its header */
#define BLK_KEEP_BYTES 131072u /* bytes of blocks kept per class and thread */
#define BLK_KEEP_BUFS 16       /* buffers kept per thread */
#define BLK_BUF_MAX 65536      /* the largest buffer kept */

void *blk_alloc(size_t n);
void *blk_calloc(size_t count, size_t size);
/* As realloc: p NULL allocates, the contents are kept up to the smaller
 * size, NULL on failure leaves p as it was. n 0 is an allocation of 0
 * bytes, not a free. */
void *blk_realloc(void *p, size_t n);
void blk_free(void *p);
/* blk_alloc and blk_realloc for callers that cannot go on without the
 * memory: never NULL, out of memory aborts (xmem_oom), as xmalloc does. */
void *blk_xalloc(size_t n);
void *blk_xrealloc(void *p, size_t n);

/* Hands over a malloc'ed buffer (NULL is ignored): kept when there is
 * room and its size is within the bounds, freed otherwise. */
void blk_keep_buf(void *p);
/* A kept buffer with room for at least need bytes, its usable size in
 * *cap; NULL when the thread keeps none that large. The caller owns it
 * and frees it with free() (or hands it back to blk_keep_buf). */
void *blk_take_buf(size_t need, size_t *cap);

/* Whether this build keeps anything (false under AddressSanitizer). */
bool blk_caching(void);

/* Blocks and buffers the calling thread's cache holds now (tests). */
size_t blk_cached(void);

#endif
