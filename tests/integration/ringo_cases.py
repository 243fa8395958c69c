"""
ringo_cases.py - raw request cases shared by the integration tests.

The bad-input tables (test_bad_input.py), the pipelined-error and body
cases (test_pipeline.py, test_body.py) live here so that
test_segmentation.py can replay every one of them cut into TCP segments in
different ways and demand the same answers.

Tables of bad input hold (name, request bytes, status, closes): the one
response the bytes get and whether the server closes after it. segmentable()
returns every case as (name, bytes, statuses, closes) with the statuses of
all responses in order (a 100 Continue counts).
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ringo_harness import chunked, get, request  # noqa: E402

POST_HEAD = b"POST /echo HTTP/1.1\r\nHost: a\r\n"
TE = b"Transfer-Encoding: chunked\r\n"


def post_chunked(body):
    return POST_HEAD + TE + b"\r\n" + body


# (name, request bytes, status, closes)
FRAMING = [
    ("TE + CL", POST_HEAD + TE + b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400, True),
    ("CL + TE", POST_HEAD + b"Content-Length: 5\r\n" + TE + b"\r\n0\r\n\r\n", 400, True),
    ("duplicate CL, same value", POST_HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n"
     b"hello", 400, True),
    ("duplicate CL, different values", POST_HEAD + b"Content-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!", 400, True),
    ("CL abc", POST_HEAD + b"Content-Length: abc\r\n\r\n", 400, True),
    ("CL -1", POST_HEAD + b"Content-Length: -1\r\n\r\n", 400, True),
    ("CL '1 2'", POST_HEAD + b"Content-Length: 1 2\r\n\r\nab", 400, True),
    ("CL +5", POST_HEAD + b"Content-Length: +5\r\n\r\nhello", 400, True),
    ("CL 5,5 list", POST_HEAD + b"Content-Length: 5, 5\r\n\r\nhello", 400, True),
    ("CL empty", POST_HEAD + b"Content-Length: \r\n\r\n", 400, True),
    ("CL 0x10", POST_HEAD + b"Content-Length: 0x10\r\n\r\n", 400, True),
    ("chunk size zz", post_chunked(b"zz\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("chunk data without CRLF", post_chunked(b"5\r\nhelloXY0\r\n\r\n"), 400, True),
    ("chunk size line without CRLF", post_chunked(b"5 hello\r\n0\r\n\r\n"), 400, True),
    ("chunk size overflow", post_chunked(b"1" + b"0" * 20 + b"\r\nx\r\n"), 400, True),
    ("chunk size negative", post_chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("chunk size 0x prefix", post_chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("TE gzip alone", POST_HEAD + b"Transfer-Encoding: gzip\r\n\r\nabc", 400, True),
    ("TE chunked, gzip (chunked not last)", POST_HEAD +
     b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, True),
    ("TE unknown coding", POST_HEAD + b"Transfer-Encoding: foo\r\n\r\n", 400, True),
    # Regression: llhttp sets F_CHUNKED for "gzip, chunked"; the body must not reach the
    # handler still gzip-coded (RFC 9112 6.1: a coding we do not implement is 501).
    ("TE gzip, chunked", POST_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     501, True),
    ("TE chunked twice", POST_HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n"
     b"0\r\n\r\n", 400, True),
]

HEAD_SYNTAX = [
    ("bare CR in a header value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
     400, True),
    ("bare CR ending a header line", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",
     400, True),
    ("bare CR in the request line", b"GET /plaintext\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    ("obs-fold with SP", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, True),
    ("obs-fold with HT", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, True),
    ("obs-fold on Host", b"GET /plaintext HTTP/1.1\r\nHost:\r\n a\r\n\r\n", 400, True),
    # Regression: an obs-fold after an empty value was only caught when the
    # fold's line arrived in the same TCP segment as the field name.
    ("obs-fold after an empty Transfer-Encoding", POST_HEAD + b"Transfer-Encoding:\r\n"
     b" chunked\r\n\r\n0\r\n\r\n", 400, True),
    ("obs-fold after an empty value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX:\r\n\tb\r\n\r\n",
     400, True),
    # Regression: a fold line longer than --max-header-bytes was a 431 when
    # it came in one segment and a 400 when it came in several.
    ("obs-fold of a long line", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\n " +
     b"b" * 1100 + b"\r\n\r\n", 400, True),
    ("obs-fold after a blank value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX:  \r\n  b\r\n"
     b"\r\n", 400, True),
    ("bare LF everywhere", b"GET /plaintext HTTP/1.1\nHost: a\n\n", 400, True),
    ("bare LF after the request line", b"GET /plaintext HTTP/1.1\nHost: a\r\n\r\n", 400, True),
    ("bare LF ending one header", b"GET /plaintext HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
     400, True),
    ("bare LF ending the head", b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\n", 400, True),
    ("empty header name", b"GET /plaintext HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, True),
    ("space before colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Foo : bar\r\n\r\n",
     400, True),
    ("space before colon on Host", b"GET /plaintext HTTP/1.1\r\nHost : a\r\n\r\n", 400, True),
    ("tab before colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Foo\t: bar\r\n\r\n",
     400, True),
    ("header without colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
     400, True),
    ("space inside a header name", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
     400, True),
    ("NUL in a header value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
     400, True),
    ("HTTP/1.1 without Host", b"GET /plaintext HTTP/1.1\r\nX: y\r\n\r\n", 400, True),
    ("two Host headers", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
    ("two Host headers, same value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
     400, True),
]

REQUEST_LINE = [
    ("HTTP/1.2", get("/plaintext", version="HTTP/1.2"), 505, True),
    ("HTTP/2.0", get("/plaintext", version="HTTP/2.0"), 505, True),
    ("HTTP/3.0", get("/plaintext", version="HTTP/3.0"), 505, True),
    # Regression: a version was judged by the part seen in the last segment.
    ("HTTP/1.10", get("/plaintext", version="HTTP/1.10"), 400, True),
    ("HTTP/11.1", get("/plaintext", version="HTTP/11.1"), 400, True),
    ("HTTP/1.1x", get("/plaintext", version="HTTP/1.1x"), 400, True),
    ("HTTP/1.", get("/plaintext", version="HTTP/1."), 400, True),
    ("HTTP/0.9 request line", b"GET /\r\n", 400, True),
    ("HTTP/0.9 request line then more", b"GET /plaintext\r\nHost: a\r\n\r\n", 400, True),
    ("lower-case version", get("/plaintext", version="http/1.1"), 400, True),
    ("unknown method FOO", request("FOO", "/plaintext"), 501, True),
    ("unknown method BREW", request("BREW", "/"), 501, True),
    ("unknown method of 40 letters", request("M" * 40, "/"), 501, True),
    ("malformed method of 40 letters", request("M" * 39 + "@", "/"), 400, True),
    ("unknown method on unknown path", request("FROB", "/nope"), 501, True),
    ("lower-case get (methods are case-sensitive)", request("get", "/plaintext"), 501, True),
    ("malformed method G@T", request("G@T", "/plaintext"), 400, True),
    ("malformed method with ( )", request("GE(T)", "/plaintext"), 400, True),
    ("empty method", b" /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, True),
    # The HTTP/2 preface starts h2c (test_h2.py); with --no-h2c it is answered 505 there.
    ("no target", b"GET HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
]



# The limits of test_limits.py's small server, and requests on either side of them.
SMALL = ["--max-request-line", 256, "--max-header-bytes", 1024, "--max-headers", 10,
         "--max-body", 1000]

LIMITS = [
    ("target of 107 bytes", get("/users/" + "a" * 100), 200, False),
    ("target of 307 bytes", get("/users/" + "a" * 300), 414, True),
    ("long query", get("/plaintext?" + "q=1&" * 100), 414, True),
    ("unterminated long target", b"GET /" + b"a" * 300, 414, True),
    # Regression: a byte llhttp refuses, past the limit, was a 400 when the
    # target came in one segment and a 414 when it came in several.
    ("target over the limit, then a control byte",
     b"GET /" + b"a" * 300 + b"\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 414, True),
    ("5 headers of ~60 bytes", get("/plaintext", headers=[(f"X-H{i}", "v" * 50)
                                                          for i in range(5)]), 200, False),
    ("header section of ~2 KB", get("/plaintext", headers=[(f"X-H{i}", "v" * 400)
                                                           for i in range(5)]), 431, True),
    ("one 1.1 KB header", get("/plaintext", headers={"X-Big": "v" * 1100}), 431, True),
    ("one 1.1 KB header name", get("/plaintext", headers={"X-" + "n" * 1100: "v"}), 431, True),
    # Regression: each segment of a field name counted 4 bytes more.
    ("a 300-byte header name", get("/plaintext", headers={"X-" + "n" * 298: "v"}), 200, False),
    ("header section over the limit, then a control byte",
     b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 1100 + b"\x01\r\n\r\n", 431, True),
    ("9 header fields", get("/plaintext", headers=[(f"X-H{i}", "v") for i in range(8)]),
     200, False),
    ("12 header fields", get("/plaintext", headers=[(f"X-H{i}", "v") for i in range(11)]),
     431, True),
    ("body of --max-body + 1", request("POST", "/echo", body=b"b" * 1001), 413, True),
]

# Pipelined: k good requests, then one of these, then one more request that
# must never be answered: (name, request bytes, status).
PIPELINE_ERRORS = [
    ("invalid Content-Length", get("/x", headers={"Content-Length": "abc"}), 400),
    ("bare LF", b"GET /plaintext HTTP/1.1\nHost: a\n\n", 400),
    ("unknown method", request("BREW", "/plaintext"), 501),
    ("HTTP/2.0", get("/plaintext", version="HTTP/2.0"), 505),
    ("missing Host", get("/plaintext", host=None), 400),
]


def pipeline_error(k, bad):
    """k + 1 requests for /users/1.. , the bad one, then one that stays unanswered."""
    return b"".join(get(f"/users/{i}") for i in range(1, k + 2)) + bad + get("/users/999")


def _echo(body, headers=()):
    return request("POST", "/echo", headers=list(headers), body=body)


_TE = [("Transfer-Encoding", "chunked")]

# Bodies POST /echo answers with 200: (name, request bytes, echoed body).
ECHO = [
    ("Content-Length: 0", _echo(b""), b""),
    ("no body framing at all", request("POST", "/echo"), b""),
    ("CRLFs and NUL in a body", _echo(b"\r\n\r\n\x00GET / HTTP/1.1\r\n\r\n"),
     b"\r\n\r\n\x00GET / HTTP/1.1\r\n\r\n"),
    ("chunked, last chunk only", _echo(b"0\r\n\r\n", _TE), b""),
    ("plain chunks", _echo(chunked([b"hello", b" ", b"world"]), _TE), b"hello world"),
    ("upper/lower-case hex sizes", _echo(b"A\r\n0123456789\r\n1a\r\n" + b"z" * 26 +
                                         b"\r\n0\r\n\r\n", _TE), b"0123456789" + b"z" * 26),
    ("token extensions", _echo(b"5;ext\r\nhello\r\n6;name=value\r\n world\r\n0;last=1\r\n"
                               b"\r\n", _TE), b"hello world"),
    ("quoted-string extensions", _echo(b'3;q="quoted ; value"\r\nabc\r\n2;e=""\r\nde\r\n'
                                       b"0\r\n\r\n", _TE), b"abcde"),
    # RFC 9112 section 7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
    ("several extensions with values on one chunk",
     _echo(b"3;a=b;c=d\r\nabc\r\n2;x;y=1\r\nde\r\n0\r\n\r\n", _TE), b"abcde"),
    ("quoted-pair in a chunk extension value",
     _echo(b'2;e="\\"esc\\""\r\nde\r\n0\r\n\r\n', _TE), b"de"),
    ("two trailer fields", _echo(chunked([b"with", b" trailers"],
                                         trailers=[("X-Checksum", "abc"), ("X-More", "1")]), _TE),
     b"with trailers"),
    ("Upgrade on a POST is ignored", _echo(b"data", [("Connection", "Upgrade"),
                                                     ("Upgrade", "websocket")]), b"data"),
]

# A client may send the body without waiting for the 100: the 100 (if any), then the answers.
EAGER_EXPECT = (request("POST", "/echo", headers={"Expect": "100-continue"}, body=b"eager") +
                get("/users/next"))


def streamed(data):
    """The same request to /upload, a RINGO_ROUTE_STREAM_BODY route whose handler reads the
    body as it arrives: the answers must not change."""
    return data.replace(b"POST /echo ", b"POST /upload ", 1)


def segmentable():
    """Every case above as (name, request bytes, statuses of the responses, closes)."""
    out = [(n, d, (s,), c) for n, d, s, c in FRAMING + HEAD_SYNTAX + REQUEST_LINE + LIMITS]
    out += [(f"{k + 1} requests, then {n}", pipeline_error(k, d), (200,) * (k + 1) + (s,), True)
            for k, (n, d, s) in enumerate(PIPELINE_ERRORS)]
    out += [(n, d, (200,), False) for n, d, _ in ECHO]
    out.append(("every echo body, pipelined", b"".join(d for _, d, _ in ECHO),
                (200,) * len(ECHO), False))
    out.append(("eager body after Expect: 100-continue", EAGER_EXPECT, (100, 200, 200), False))
    out += [(f"streamed body: {n}", streamed(d), (s,), c) for n, d, s, c in FRAMING]
    out += [(f"streamed body: {n}", streamed(d), (200,), False) for n, d, _ in ECHO]
    out.append(("streamed: eager body after Expect: 100-continue", streamed(EAGER_EXPECT),
                (100, 200, 200), False))
    out.append(("every streamed body, pipelined", b"".join(streamed(d) for _, d, _ in ECHO),
                (200,) * len(ECHO), False))
    out.append(("unknown expectation", request("POST", "/echo", headers={"Content-Length": "0",
                                                                       "Expect": "teapot"}),
                (417,), True))
    return out
