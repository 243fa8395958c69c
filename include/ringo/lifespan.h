/*
 * ringo/lifespan.h - code that runs when the app starts and stops:
 * FastAPI's lifespan for C.
 *
 * Startup hooks run in ringo_app_start() before anything listens, in
 * registration order; a negative return fails the start (the hook's name
 * and error are printed unless quiet, nothing listens, no shutdown hook
 * runs). Shutdown hooks run in ringo_app_wait() after the last ring
 * stopped, in reverse registration order; their returns are logged.
 */
#ifndef RINGO_LIFESPAN_H
#define RINGO_LIFESPAN_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A lifespan hook. Returns 0 or a negative value (-errno). */
typedef int (*ringo_lifespan_fn)(ringo_app *app, void *udata);

/*
 * Register a hook; name (NULL: "hook") is copied, for messages. Return 0,
 * -EINVAL (fn NULL), -EBUSY after start, -ENOMEM.
 */
RINGO_API int ringo_app_on_startup(ringo_app *app, const char *name, ringo_lifespan_fn fn,
                                   void *udata);
RINGO_API int ringo_app_on_shutdown(ringo_app *app, const char *name, ringo_lifespan_fn fn,
                                    void *udata);

/*
 * Reload hooks: run while the app serves, on SIGHUP or SIGUSR1 (when
 * ringo_app_handle_signals() was called) and on ringo_app_reload(), in the
 * thread inside ringo_app_wait(), in registration order: reopen log files,
 * reload certificates. A negative return is logged (hook name and error)
 * and serving goes on; the other hooks still run. Same returns as
 * ringo_app_on_startup().
 */
RINGO_API int ringo_app_on_reload(ringo_app *app, const char *name, ringo_lifespan_fn fn,
                                  void *udata);

/*
 * Asks the thread in ringo_app_wait() to run the reload hooks, as SIGHUP
 * does. Thread-safe and async-signal-safe; requests made while the hooks run
 * are coalesced into one more run. Returns 0, or -EINVAL when the app is not
 * running.
 */
RINGO_API int ringo_app_reload(ringo_app *app);

#ifdef __cplusplus
}
#endif
#endif
