#!/usr/bin/env python3
"""
Description: ringo as an installed library. Installs the build into a
temporary prefix (cmake --install), builds the README's app ("## A ringo
app") against it out of tree, with the shared and with the static library,
and runs each to answer one request; the installed demo serves its own
files from the prefix.

  test_install.py pkgconfig BUILD_DIR SOURCE_DIR     pkg-config (ringo.pc)
  test_install.py find_package BUILD_DIR SOURCE_DIR  find_package(ringo)

The app listens on its default port 8080: each run happens in a network
namespace of its own (unshare), so a server already on 8080 cannot answer
in its place. Exit 0 pass, 1 fail.
"""
import fcntl
import glob
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT = 30.0


class Failure(Exception):
    pass


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def readme_app(src_dir):
    """The first ```c block after "## A ringo app" in README.md."""
    lines, state = [], 0
    with open(os.path.join(src_dir, "README.md")) as f:
        for line in f:
            line = line.rstrip("\n")
            if state == 0 and line == "## A ringo app":
                state = 1
            elif state == 1 and line == "```c":
                state = 2
            elif state == 2 and line == "```":
                return "\n".join(lines) + "\n"
            elif state == 2:
                lines.append(line)
    raise Failure("README.md: no C block after '## A ringo app'")


def needed(binary):
    out = run(["readelf", "-d", binary])
    return [l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]


def build_pkgconfig(prefix, src, work):
    cc = os.environ.get("CC", "cc")
    env = dict(os.environ, PKG_CONFIG_PATH=":".join(glob.glob(f"{prefix}/lib*/**/pkgconfig",
                                                             recursive=True)))
    pc = lambda *a: run(["pkg-config", *a], env=env).split()  # noqa: E731
    libdir = pc("--variable=libdir", "ringo")[0]
    # A fully static link would need every dependency's static library: the
    # codecs must at least be named for it (Requires.private).
    static_libs = pc("--libs", "--static", "ringo")
    for lib in ("-lm", "-luring", "-lzstd", "-lbrotlienc", "-lz"):
        if lib not in static_libs:
            raise Failure(f"pkg-config --static --libs ringo lacks {lib}: {static_libs}")
    shared = os.path.join(work, "hello_shared")
    run([cc, "-std=c17", "-Wall", "-Wextra", "-Werror", *pc("--cflags", "ringo"), src, "-o",
         shared, *pc("--libs", "ringo"), f"-Wl,-rpath,{libdir}"])
    static = os.path.join(work, "hello_static")
    run([cc, "-std=c17", "-Wall", "-Wextra", "-Werror", *pc("--cflags", "ringo-static"), src,
         "-o", static, *pc("--libs", "ringo-static")])
    return shared, static


def build_find_package(prefix, src, work):
    with open(os.path.join(work, "CMakeLists.txt"), "w") as f:
        f.write(f"""cmake_minimum_required(VERSION 3.18)
project(hello C)
find_package(ringo 1.0 REQUIRED)
add_executable(hello_shared {src})
target_link_libraries(hello_shared PRIVATE ringo::ringo)
add_executable(hello_static {src})
target_link_libraries(hello_static PRIVATE ringo::ringo_static)
target_compile_options(hello_shared PRIVATE -Wall -Wextra -Werror)
target_compile_options(hello_static PRIVATE -Wall -Wextra -Werror)
""")
    b = os.path.join(work, "build")
    run(["cmake", "-S", work, "-B", b, f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", b])
    return os.path.join(b, "hello_shared"), os.path.join(b, "hello_static")


def check_links(shared, static, prefix):
    ns, nt = needed(shared), needed(static)
    if not any(n.startswith("libringo.so") for n in ns):
        raise Failure(f"{shared} does not use libringo.so: {ns}")
    if any(n.startswith("libringo.so") for n in nt):
        raise Failure(f"{static} uses libringo.so: {nt}")
    for n in ns + nt:
        if "mimalloc" in n:
            raise Failure(f"mimalloc came with the library: {n}")
    ldd = run(["ldd", shared])
    if f"{prefix}/" not in ldd:
        raise Failure(f"{shared} does not load the installed libringo.so:\n{ldd}")


def lo_up():
    """ifconfig lo up, in this (new) network namespace."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def serve_once(binary):
    """Inside the namespace: start the app, GET /hello on 8080, SIGTERM, exit 0."""
    lo_up()
    p = subprocess.Popen([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, answer = time.monotonic() + TIMEOUT, b""
        while time.monotonic() < deadline and p.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", 8080), timeout=TIMEOUT) as c:
                    c.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    while chunk := c.recv(4096):
                        answer += chunk
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    if not answer.startswith(b"HTTP/1.1 200 ") or not answer.endswith(b"\r\n\r\nHello, World!"):
        raise Failure(f"{binary}: GET /hello answered {answer!r}; stderr: {err}")
    if rc != 0:
        raise Failure(f"{binary}: exit status {rc} after SIGTERM; stderr: {err}")


def serve_in_netns(binary):
    unshare = shutil.which("unshare")
    if not unshare:
        raise Failure("unshare (util-linux) not found")
    args = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "-rn"]
    run([*args, "--", sys.executable, os.path.abspath(__file__), "--serve", binary])


def installed_demo(prefix):
    """bin/ringo serves /static/ from the prefix's share/ringo/static, not the source tree."""
    marker = b"installed copy\n"
    with open(os.path.join(prefix, "share", "ringo", "static", "hello.txt"), "ab") as f:
        f.write(marker)
    p = subprocess.Popen([os.path.join(prefix, "bin", "ringo"), "--host", "127.0.0.1", "--port",
                          "0", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        if "listening on" not in line:
            raise Failure(f"installed ringo did not start: {line!r} {p.stderr.read()!r}")
        port = int(line.rsplit(":", 1)[1].split()[0])
        for target in ("/static/hello.txt", "/async/file"):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as c:
                c.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          .encode())
                answer = b""
                while chunk := c.recv(65536):
                    answer += chunk
            if not answer.startswith(b"HTTP/1.1 200 ") or not answer.endswith(marker):
                raise Failure(f"installed ringo, GET {target}: {answer[:300]!r}")
        p.send_signal(signal.SIGTERM)
        if p.wait(timeout=TIMEOUT) != 0:
            raise Failure(f"installed ringo exited {p.returncode}: {p.stderr.read()!r}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print("the installed demo serves its files from the prefix")


def main(argv):
    if argv[1:2] == ["--serve"]:
        serve_once(argv[2])
        return 0
    mode, build_dir, src_dir = argv[1:4]
    with tempfile.TemporaryDirectory(prefix=f"ringo-install-{mode}-") as tmp:
        prefix, work = os.path.join(tmp, "prefix"), os.path.join(tmp, "app")
        os.mkdir(work)
        run(["cmake", "--install", build_dir, "--prefix", prefix])
        src = os.path.join(work, "hello.c")
        with open(src, "w") as f:
            f.write(readme_app(src_dir))
        build = build_pkgconfig if mode == "pkgconfig" else build_find_package
        shared, static = build(prefix, src, work)
        check_links(shared, static, prefix)
        for b in (shared, static):
            serve_in_netns(b)
            print(f"{mode}: {os.path.basename(b)} built against {prefix} and answered GET /hello")
        if mode == "pkgconfig":
            installed_demo(prefix)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
