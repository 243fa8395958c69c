#!/usr/bin/env python3
"""Differential check: ringo's JSON parser against Python's json module.

    json_differential.py VERDICT_PROGRAM DIR_OR_FILE...

Every file is parsed by ringo (VERDICT_PROGRAM, tests/fuzz/json_verdict.c)
and by json.loads(), and the two must agree on accept or reject. Python is
made to apply ringo's policy where the two differ on purpose:

- the bytes are decoded as UTF-8 strictly first (invalid UTF-8: reject);
  json.loads() on bytes would let UTF-8-encoded surrogates through;
- NaN, Infinity and -Infinity are rejected (parse_constant raises);
- a key twice in one object is rejected (object_pairs_hook raises);
- a string holding a lone surrogate, which Python builds from an unpaired
  \\uD800-\\uDFFF escape, is rejected (ringo rejects the escape);
- a number beyond a double's range (Python reads 1e400 as inf and keeps
  big integers exact) must be rejected by ringo as RANGE;
- a document nested deeper than ringo's limit (64) must be rejected by
  ringo as DEPTH (one Python cannot parse at all, RecursionError, must be
  rejected by ringo, for whatever reason).

When both reject and Python's error is one of its own (JSONDecodeError)
while ringo's is a syntax error too (not a policy error: UTF-8, duplicate
key, surrogate, range, depth), the message and the character position must
be the same as well: 422 bodies carry them. Exit 0 when everything agrees,
1 otherwise (each difference is printed).
"""
import json
import math
import os
import subprocess
import sys

DEPTH_LIMIT = 64
POLICY_KINDS = {"UTF8", "DUP_KEY", "RANGE", "DEPTH", "NOMEM"}


class Policy(ValueError):
    pass


def no_constant(name):
    raise Policy("constant " + name)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Policy("duplicate key")
    return dict(pairs)


def walk(value):
    """Depth of value's nesting (a scalar is 0) and whether a string in it
    (key or value) holds a lone surrogate. Iterative: values may be deep."""
    depth, lone = 0, False
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            depth = max(depth, d + 1)
            for k, x in v.items():
                lone = lone or has_lone_surrogate(k)
                stack.append((x, d + 1))
        elif isinstance(v, list):
            depth = max(depth, d + 1)
            stack.extend((x, d + 1) for x in v)
        elif isinstance(v, str):
            lone = lone or has_lone_surrogate(v)
    return depth, lone


def has_lone_surrogate(s):
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def python_verdict(data):
    """('accept',), ('reject', msg, pos) for JSONDecodeError, ('policy', why)
    for a rejection by ringo's policy, ('range',), ('deep',)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ("policy", "utf-8")
    out_of_range = []

    def parse_float(s):
        f = float(s)
        if math.isinf(f):
            out_of_range.append(s)
        return f

    def parse_int(s):
        try:
            v = int(s)
            float(v)
            return v
        except (ValueError, OverflowError):  # past int's digit limit, or past a double
            out_of_range.append(s[:20])
            return 0

    try:
        value = json.loads(text, parse_constant=no_constant, object_pairs_hook=no_duplicates,
                           parse_float=parse_float, parse_int=parse_int)
    except RecursionError:
        return ("deep", "recursion")
    except json.JSONDecodeError as e:
        return ("reject", e.msg, e.pos)
    except Policy as e:
        return ("policy", str(e))
    depth, lone = walk(value)
    if depth > DEPTH_LIMIT:
        return ("deep",)
    if out_of_range:
        return ("range",)
    if lone:
        return ("policy", "lone surrogate")
    return ("accept",)


def files(args):
    for a in args:
        if os.path.isdir(a):
            for n in sorted(os.listdir(a)):
                p = os.path.join(a, n)
                if os.path.isfile(p):
                    yield p
        else:
            yield a


def ringo_verdicts(program, paths):
    out = {}
    for i in range(0, len(paths), 200):
        res = subprocess.run([program] + paths[i:i + 200], capture_output=True, check=True)
        for line in res.stdout.decode().splitlines():
            f = line.split(" ", 6)
            if f[0] == "accept":
                out[f[1]] = ("accept",)
            else:
                out[f[1]] = ("reject", f[2], int(f[3]), int(f[4]), f[5] if len(f) < 7 else
                             f[5] + " " + f[6])
    return out


def compare(path, r, p):
    """None when ringo's verdict r agrees with Python's p, else the difference."""
    what = p[0]
    if what == "accept":
        return None if r[0] == "accept" else "ringo rejects (%s at %d: %s)" % (r[1], r[2], r[4])
    if r[0] == "accept":
        return "ringo accepts, Python: %r" % (p,)
    kind = r[1]
    policy = kind in POLICY_KINDS or r[4].startswith("Unpaired surrogate")
    if what in ("range", "deep") and len(p) == 1:
        # Python accepted it: ringo must have stopped at one of its limits.
        return None if policy else "ringo rejects %s (%s), want a limit" % (kind, r[4])
    if what in ("policy", "deep") or policy:
        return None  # rejected by both; ringo's policy may stop it earlier or elsewhere
    msg, pos = p[1], p[2]
    if (r[4], r[3]) != (msg, pos):
        return "ringo: %s at %d, Python: %s at %d" % (r[4], r[3], msg, pos)
    return None


def main():
    program, args = sys.argv[1], sys.argv[2:]
    paths = list(files(args))
    ringo = ringo_verdicts(program, paths)
    counts = {}
    bad = 0
    for path in paths:
        with open(path, "rb") as f:
            p = python_verdict(f.read())
        counts[p[0]] = counts.get(p[0], 0) + 1
        diff = compare(path, ringo[path], p)
        if diff:
            bad += 1
            print("DIFF %s: %s" % (path, diff))
    print("%d files: %s; %d differences" % (
        len(paths), ", ".join("%s %d" % kv for kv in sorted(counts.items())), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
