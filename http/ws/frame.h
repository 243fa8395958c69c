/*
 * http/ws/frame.h - the WebSocket framing layer (RFC 6455 §5), server side,
 * without I/O: a parser that turns the bytes a client sent into whole
 * messages and control frames, and the writers for the frames a server
 * sends.
 *
 * The parser keeps no pointer into its input: bytes may arrive cut
 * anywhere, one at a time if need be, and every cut gives the same events.
 * Each payload byte is copied exactly once, unmasked on the way, into the
 * parser's own buffers: a data message into a growable buffer (at most
 * max_message bytes, fragments appended as they arrive), a control frame
 * into a fixed 125-byte one. Memory per parser is therefore bounded by
 * max_message + 1 plus the struct itself.
 *
 * Errors are the close code the server must send before closing (RFC 6455
 * §7.1.7 "fail the WebSocket connection"), negated: -1002, -1007, -1009;
 * the only other error is -ENOMEM (answer 1011). frame.c's opening comment
 * maps each rule to its code.
 */
#ifndef RINGO_HTTP_WS_FRAME_H
#define RINGO_HTTP_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/ws/utf8.h"

/* Opcodes (RFC 6455 §5.2); the data and control ones double as event types. */
enum {
    RINGO__WS_CONT = 0x0,
    RINGO__WS_TEXT = 0x1,
    RINGO__WS_BINARY = 0x2,
    RINGO__WS_CLOSE = 0x8,
    RINGO__WS_PING = 0x9,
    RINGO__WS_PONG = 0xa,
};

/* Close codes ringo sends or reports (RFC 6455 §7.4.1). */
enum {
    RINGO__WS_NORMAL = 1000,
    RINGO__WS_GOING_AWAY = 1001,
    RINGO__WS_PROTOCOL_ERROR = 1002,
    RINGO__WS_UNSUPPORTED = 1003,
    RINGO__WS_NO_STATUS = 1005, /* reported for a close frame without a body; never sent */
    RINGO__WS_ABNORMAL = 1006,  /* never sent: the connection dropped without a close frame */
    RINGO__WS_INVALID_DATA = 1007,
    RINGO__WS_POLICY = 1008,
    RINGO__WS_TOO_BIG = 1009,
    RINGO__WS_INTERNAL = 1011,
};

/* Largest control-frame payload (RFC 6455 §5.5). */
#define RINGO__WS_MAX_CONTROL 125
/* Largest server frame header: 2 bytes, then a 64-bit length; never a mask. */
#define RINGO__WS_MAX_HEADER 10
/* Largest close frame ringo__ws_close_frame() writes: header, code, reason. */
#define RINGO__WS_CLOSE_FRAME_MAX (2 + RINGO__WS_MAX_CONTROL)

/*
 * What ringo__ws_feed() found. data points into the parser: valid until the
 * next call of ringo__ws_feed(), ringo__ws_take() or ringo__ws_parser_free()
 * on it, and NUL-terminated (data[len] == '\0') as a convenience for text.
 */
typedef struct ringo__ws_event {
    int type;         /* RINGO__WS_TEXT, _BINARY (a whole message), _PING, _PONG or _CLOSE */
    const char *data; /* the unmasked payload; for _CLOSE the reason (valid UTF-8) */
    size_t len;
    uint16_t code; /* _CLOSE: the status code, RINGO__WS_NO_STATUS when the body was empty */
} ringo__ws_event;

/* Parser state; embed it and treat the fields as private to frame.c. */
typedef struct ringo__ws_parser {
    uint64_t max_message; /* limit on a message's payload, summed over its fragments */
    uint64_t max_frame;   /* limit on one data frame's payload */
    uint64_t flen;        /* payload length of the frame being read */
    uint64_t left;        /* payload bytes of it not read yet */
    char *msg;            /* the data message being assembled (or just delivered) */
    size_t msg_len, msg_cap;
    int err; /* the error that ended the stream, or 0 */
    ringo__ws_utf8 utf8;
    uint8_t state;
    uint8_t opcode;   /* of the frame being read */
    uint8_t fin;      /* of the frame being read */
    uint8_t msg_type; /* RINGO__WS_TEXT or _BINARY while a message is open, else 0 */
    uint8_t delivered;
    uint8_t hlen, hneed; /* header bytes seen and expected */
    uint8_t hdr[14];     /* the frame header: 2 bytes, up to 8 of length, 4 of mask */
    uint8_t ctl_len;     /* control payload bytes read */
    char ctl[RINGO__WS_MAX_CONTROL + 1]; /* control payload, NUL-terminated when delivered */
} ringo__ws_parser;

/*
 * Readies p for a new connection's client-to-server stream. A data frame
 * whose payload exceeds max_frame, or a message whose fragments add up to
 * more than max_message, fails with -1009 as soon as its header says so,
 * before any of its payload is stored. Control frames are bounded by 125
 * bytes whatever the limits. Allocates nothing.
 */
void ringo__ws_parser_init(ringo__ws_parser *p, size_t max_message, size_t max_frame);

/*
 * Frees what p owns; p may be initialised again. Safe to call twice.
 */
void ringo__ws_parser_free(ringo__ws_parser *p);

/*
 * Parses data[0..len). Returns:
 *   1      an event is in *ev; *used bytes were taken (the frame that
 *          produced it ends there) and the rest must be fed again;
 *   0      all len bytes were taken (*used == len) and more are needed;
 *   -1002  protocol error (unmasked frame, RSV bit, unknown opcode, bad
 *          control frame, bad fragmentation, bad length or close code);
 *   -1007  invalid UTF-8 in a text message or a close reason;
 *   -1009  a frame or message over the limits;
 *   -ENOMEM the message buffer could not grow (answer 1011).
 * Text and binary messages are delivered whole, once their final fragment
 * arrived; ping, pong and close frames are delivered when complete, also
 * between the fragments of a message, which stays open. After an error
 * every later call returns the same error and takes nothing. After a close
 * event the stream is over (RFC 6455 §5.5.1): later bytes are taken and
 * ignored, and calls return 0.
 */
int ringo__ws_feed(ringo__ws_parser *p, const char *data, size_t len, size_t *used,
                   ringo__ws_event *ev);

/*
 * Takes the buffer of the text or binary message the last ringo__ws_feed()
 * call delivered, so that it outlives the next call without a copy: the
 * caller owns it and frees it with ringo__free(). It holds *len bytes and a
 * NUL after them (an empty message too). Returns NULL, *len 0, when the last
 * call delivered no text or binary message, or it was taken already.
 */
char *ringo__ws_take(ringo__ws_parser *p, size_t *len);

/*
 * Writes the header of an unmasked server frame (RFC 6455 §5.2: a server
 * never masks) with the shortest length encoding into out. Returns its
 * size: 2, 4 or 10. opcode is one of RINGO__WS_*; control frames (len at
 * most 125, fin true) are the caller's to respect.
 */
size_t ringo__ws_frame_header(uint8_t out[RINGO__WS_MAX_HEADER], int opcode, bool fin,
                              uint64_t len);

/*
 * Writes a whole close frame into out and returns its size. The body is the
 * code, then as much of reason[0..len) as fits in 125 bytes cut on a UTF-8
 * boundary (bytes from the first invalid one on are dropped too), so the
 * peer never sees a broken reason. A code that must not be sent (0, 1005,
 * 1006, 1015 or anything ringo__ws_close_code_valid() refuses) gives a
 * close frame without a body, as when answering a close that had none.
 */
size_t ringo__ws_close_frame(uint8_t out[RINGO__WS_CLOSE_FRAME_MAX], unsigned code,
                             const char *reason, size_t len);

/*
 * Whether code may appear in a close frame (RFC 6455 §7.4): 1000-1003,
 * 1007-1011 and 3000-4999 (registered and private-use codes).
 */
bool ringo__ws_close_code_valid(unsigned code);

#endif
