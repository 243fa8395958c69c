/*
 * Description: the request phase and outcome transitions
 * (http/request_impl.h), as drawn in docs/architecture.md:
 * - the paths a request takes: inline, suspended and resumed, detached by a
 *   504 or a hang-up, with and without post-response work, a protocol error;
 * - outcomes only get worse: a handler error may become ringo's, never OK
 *   again, and ringo's error stays ringo's;
 * - in a debug build (asserts on) a transition from a wrong phase aborts:
 *   answering a request twice, resuming one that is not suspended,
 *   detaching one that is running, a protocol error once it started.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http_impl.h"

#include "check.h"

static ringo_req *fresh(ringo_req *r)
{
    memset(r, 0, offsetof(ringo_req, inline_arena));
    CHECK(r->phase == REQ_QUEUED && r->outcome == REQ_OK);
    return r;
}

static void test_paths(ringo_req *r)
{
    /* Inline: an async handler that never awaits. */
    fresh(r);
    ringo__req_start(r);
    ringo__req_answer(r);
    ringo__req_responded(r, false);
    CHECK(r->phase == REQ_DONE);

    /* Suspended twice (two hops), then post-response work. */
    fresh(r);
    ringo__req_start(r);
    ringo__req_suspend(r);
    ringo__req_resume(r);
    ringo__req_suspend(r);
    ringo__req_resume(r);
    ringo__req_answer(r);
    ringo__req_responded(r, true);
    CHECK(r->phase == REQ_POST);
    ringo__req_post_done(r);
    CHECK(r->phase == REQ_DONE);

    /* 504 or hang-up while suspended: the hop comes back later. */
    fresh(r);
    ringo__req_start(r);
    ringo__req_suspend(r);
    ringo__req_detach(r);
    CHECK(r->phase == REQ_DETACHED);
    ringo__req_responded(r, true);
    CHECK(r->phase == REQ_POST);

    /* A protocol error is answered from the queue, never runs. */
    fresh(r);
    ringo__req_protocol_error(r);
    ringo__req_answer(r);
    ringo__req_responded(r, false);
    CHECK(r->phase == REQ_DONE && r->outcome == REQ_PROTOCOL_ERROR);
    printf("phases: inline, suspended, detached, protocol error\n");
}

static void test_outcomes(ringo_req *r)
{
    fresh(r);
    ringo__req_fail(r);
    CHECK(r->outcome == REQ_HANDLER_ERROR);
    ringo__req_fail(r);
    CHECK(r->outcome == REQ_HANDLER_ERROR);
    ringo__req_ringo_error(r);
    CHECK(r->outcome == REQ_RINGO_ERROR);
    ringo__req_fail(r);
    CHECK(r->outcome == REQ_RINGO_ERROR);
    printf("outcomes: OK -> handler error -> ringo error, never back\n");
}

/* Runs fn in a child: it must die of SIGABRT (a failed assert). */
static void expect_abort(void (*fn)(ringo_req *), ringo_req *r, const char *what)
{
    pid_t pid = fork();
    int st;

    CHECK(pid >= 0);
    if (pid == 0) {
        /* No core file, no sanitizer report for the expected abort. */
        close(2);
        fn(fresh(r));
        _exit(0);
    }
    CHECK(waitpid(pid, &st, 0) == pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
        fprintf(stderr, "%s: not refused\n", what);
        exit(1);
    }
}

static void answer_twice(ringo_req *r)
{
    ringo__req_start(r);
    ringo__req_answer(r);
    ringo__req_answer(r);
}

static void resume_running(ringo_req *r)
{
    ringo__req_start(r);
    ringo__req_resume(r);
}

static void detach_running(ringo_req *r)
{
    ringo__req_start(r);
    ringo__req_detach(r);
}

static void protocol_error_started(ringo_req *r)
{
    ringo__req_start(r);
    ringo__req_protocol_error(r);
}

int main(void)
{
    static ringo_req r;

    test_paths(&r);
    test_outcomes(&r);
#ifdef NDEBUG
    printf("wrong transitions: not checked (asserts are off in this build)\n");
#else
    expect_abort(answer_twice, &r, "answering twice");
    expect_abort(resume_running, &r, "resuming a running request");
    expect_abort(detach_running, &r, "detaching a running request");
    expect_abort(protocol_error_started, &r, "a protocol error once started");
    printf("wrong transitions abort (debug build)\n");
#endif
    printf("lifecycle_test: ok\n");
    return 0;
}
