# Shell pieces shared by perf/bench and perf/streams (sourced, not run).
#
#   perf_install NAME PACKAGE...   installs the Debian packages that are missing (as
#                                  root), else says what to run and goes on without them
#   perf_configure [again]         configures $build (CMake, Release) when it has no cache
#   perf_ringo_bin NAME MODE       exports RINGO_BIN: the given one, else $build/ringo
#                                  brought up to date (built when missing); returns 1
#                                  when there is none and MODE is smoke
# Both expect $repo (the checkout) and $build (the CMake build directory).

perf_install() {
    local name=$1; shift
    # scripts/deps.sh: the build's own packages plus these; as root it installs them,
    # otherwise it prints the command and fails - then the run goes on without them.
    scripts/deps.sh "$@" ||
        echo "$name: going on without them (what needs them is skipped)" >&2
}

perf_configure() {
    [ -f "$build/CMakeCache.txt" ] && [ "${1:-}" != again ] && return 0
    mkdir -p "$build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build/bench-cmake.log" 2>&1 ||
        { tail -20 "$build/bench-cmake.log" >&2; return 1; }
}

perf_ringo_bin() {
    local name=$1 mode=$2
    if [ -z "${RINGO_BIN:-}" ] && [ -f "$build/CMakeCache.txt" ]; then
        # Measure the tree as it is, not a stale binary (a no-op when the build is current).
        cmake --build "$build" -j"$(nproc)" --target ringo >"$build/bench-build.log" 2>&1 ||
            echo "$name: rebuilding ringo failed ($build/bench-build.log): using $build/ringo" >&2
    fi
    export RINGO_BIN=${RINGO_BIN:-$build/ringo}
    if [ ! -x "$RINGO_BIN" ]; then
        echo "$name: $RINGO_BIN missing: building it (cmake, $build)" >&2
        if ! { perf_configure && cmake --build "$build" -j"$(nproc)" --target ringo >&2; }; then
            echo "$name: could not build ringo" >&2
            [ "$mode" = smoke ] && return 1
        fi
    fi
    return 0
}
