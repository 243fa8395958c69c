#!/usr/bin/env python3
"""
Writes examples/seccomp/ringo.json: a container runtime's default seccomp
profile plus the three io_uring system calls, which Docker >= 25,
containerd >= 2 and Podman deny by default.

  examples/seccomp/generate.py [DEFAULT_PROFILE] [OUTPUT]

DEFAULT_PROFILE defaults to /usr/share/containers/seccomp.json (Debian's
golang-github-containers-common: the profile of Podman, Buildah and CRI-O;
Docker's own default, moby's profiles/seccomp/default.json, has the same
format and may be given instead). Nothing else in the profile changes: the
io_uring calls are added as one rule of their own, so the difference from
the default is exactly that rule.
"""
import json
import os
import sys

IO_URING = ["io_uring_enter", "io_uring_register", "io_uring_setup"]


def main(argv):
    src = argv[1] if len(argv) > 1 else "/usr/share/containers/seccomp.json"
    out = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "ringo.json")
    with open(src) as f:
        profile = json.load(f)
    # An earlier rule may name them (a profile that already allows or denies
    # them): take them out so that the rule below decides.
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in IO_URING]
    profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
    profile["syscalls"].append({
        "names": IO_URING,
        "action": "SCMP_ACT_ALLOW",
        "args": [],
        "comment": "ringo: io_uring (the server's only I/O path)",
        "includes": {},
        "excludes": {},
    })
    with open(out, "w") as f:
        json.dump(profile, f, indent="\t")
        f.write("\n")
    print(f"{out}: {src} plus {', '.join(IO_URING)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
