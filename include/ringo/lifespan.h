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

#ifdef __cplusplus
}
#endif
#endif
