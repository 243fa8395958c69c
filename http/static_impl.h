/*
 * http/static_impl.h - what the app knows of its static mounts
 * (http/static.c): it owns them and frees them with itself.
 */
#ifndef RINGO_HTTP_STATIC_IMPL_H
#define RINGO_HTTP_STATIC_IMPL_H

#include <stdbool.h>

#include "ringo/app.h"

struct ringo_app;
struct ringo__static_mount;

/* Frees every mount of app (closes their roots, frees their caches). */
void ringo__static_free_all(struct ringo_app *app);

/* The handler is a mount's (http/openapi.c leaves mounts out of the document). */
bool ringo__static_route(ringo_handler_fn fn);

#endif
