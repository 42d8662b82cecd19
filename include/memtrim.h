/* memtrim.h - hands the allocator's free memory back to the kernel.
 *
 * glibc's malloc keeps what is freed in its arenas for reuse; it gives
 * memory back on its own only from the top of an arena. LevelDB builds
 * each memtable from 4 KB blocks and frees them all at once when the
 * memtable is flushed, while the daemon's longer-lived allocations made
 * meanwhile sit between them, so the freed blocks stay inside the heap as
 * holes: the soak (docs/drills.md) saw the edge's anonymous RSS climb
 * about 3 MB per memtable, though what it had in use did not, and
 * malloc_trim(0) gave back 10 of 60 MB at once. The daemons call
 * memtrim_release on their 30-second stats tick, so RSS follows what is
 * in use.
 *
 * Any thread; the call takes each arena's lock in turn while it walks
 * the free chunks: 1-4 ms for a 40 MB heap of small objects with every
 * other one freed (measured on the 2-core build VM), once per 30 s on
 * the main loop. Off glibc it does nothing.
 */
#ifndef LIKES_MEMTRIM_H
#define LIKES_MEMTRIM_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the free pages of every malloc arena to the kernel; true when
 * any were returned. */
bool memtrim_release(void);

/* Bytes the allocator holds but the program does not (free chunks of
 * every arena); 0 when not known. It walks every arena's free lists
 * under the arena's lock (mallinfo2), so the daemons call it only on
 * their stats tick. */
size_t memtrim_free_bytes(void);

/* What the last memtrim_free_bytes call returned, 0 before the first:
 * one relaxed atomic load, for exporters (heap_free on /metrics) that
 * must not walk the heap at every scrape. */
size_t memtrim_last_free_bytes(void);

#endif
