/* ckpt.h - the framing of central's checkpoint stream
 * (GET /v1/checkpoint on its ops API): how central writes it, and an
 * incremental reader an edge feeds with whatever byte slices arrive.
 *
 * The stream is a sequence of frames. A frame is a 4-byte big-endian
 * length L, then L bytes: one wire v1 snapshot message (wire.h, type
 * "s"). A frame with L = 0 ends the stream; a stream that stops without
 * it was cut short, whatever it carried so far. Frames are at most
 * CKPT_FRAME_MAX bytes (the reader's cap unless set lower).
 *
 * Writing: ckpt_frame_put makes one frame of a snapshot in a malloc'ed
 * buffer the caller frees; ckpt_end_frame is the end frame's bytes.
 *
 * Reading: a ckpt_reader is caller-owned storage (ckpt_reader_init,
 * ckpt_reader_free). ckpt_reader_feed takes any slice of the stream, a
 * frame split at any byte included, and calls back once per whole frame:
 * on_message with the decoded snapshot, on_end at the end frame. The
 * reader keeps the part of a frame not yet complete (one frame at most,
 * in a buffer it reuses); nothing else. Its first error stays: every
 * later feed returns it without reading.
 *
 * Pure (no I/O). One reader belongs to one thread at a time; the frame
 * writer is any thread.
 */
#ifndef LIKES_CKPT_H
#define LIKES_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

#define CKPT_HEAD_LEN 4            /* the length before each frame */
#define CKPT_FRAME_MAX (64u << 20) /* the largest frame, its length excluded */

/* The end frame (a length of 0). */
extern const unsigned char ckpt_end_frame[CKPT_HEAD_LEN];

/* Encodes s (wire_encode_snapshot) as one frame: *out is a malloc'ed
 * buffer of *outlen bytes, the length then the message; free() it.
 * ERR_INVAL when the encoder refuses s, ERR_TOOBIG when the message is
 * over CKPT_FRAME_MAX; *out is then untouched. */
int ckpt_frame_put(const wire_snapshot *s, char **out, size_t *outlen) WARN_UNUSED;

/* A decoded message. s and the strings it points to live only during the
 * call (they point into the reader's buffer or the slice fed). 0 to go
 * on; anything else (a negative ERR_*) stops the reader, and the feed
 * returns it. */
typedef int (*ckpt_message_fn)(void *ctx, const wire_snapshot *s);
/* The end frame came. 0, or a negative ERR_* as above. */
typedef int (*ckpt_end_fn)(void *ctx);

typedef struct ckpt_reader {
	unsigned char head[CKPT_HEAD_LEN]; /* the current frame's length, as gathered */
	size_t nhead;
	char *buf;         /* the current frame's bytes when it came in pieces */
	size_t cap;        /* buf's size, kept from frame to frame */
	size_t len, have;  /* the current frame's length, and its bytes in buf */
	size_t max;        /* frames over this are refused */
	bool ended;        /* the end frame was read */
	int err;           /* the first error; 0 while none */
	uint64_t messages; /* frames decoded and handed to on_message */
} ckpt_reader;

/* An empty reader with the cap CKPT_FRAME_MAX. */
void ckpt_reader_init(ckpt_reader *r);
/* Lowers (or raises, up to CKPT_FRAME_MAX) the largest frame r accepts. */
void ckpt_reader_set_max(ckpt_reader *r, size_t max);
/* Frees r's buffer; r may be initialised again. */
void ckpt_reader_free(ckpt_reader *r);

/* Reads len bytes of the stream, calling on_message for each whole
 * message and on_end (may be NULL) at the end frame, with ctx. 0 when
 * every byte was taken (a partial frame waits for the next feed), or the
 * reader's error: ERR_TOOBIG for a frame longer than the cap (seen in
 * its length, before any of it is kept); what wire_decode_snapshot
 * returns (ERR_CORRUPT, ERR_VERSION, ERR_TOOBIG) for a frame that does
 * not decode; ERR_CORRUPT for bytes after the end frame; or what a
 * callback returned. */
int ckpt_reader_feed(ckpt_reader *r, const void *buf, size_t len, ckpt_message_fn on_message,
                     ckpt_end_fn on_end, void *ctx) WARN_UNUSED;

/* True once the end frame was read. A stream that ended (EOF) without it
 * was cut short, even when it ended between two frames. */
bool ckpt_reader_ended(const ckpt_reader *r);

#endif
