/*
 * http/static_impl.h - what the app knows of its static mounts
 * (http/static.c): it owns them and frees them with itself.
 */
#ifndef RINGO_HTTP_STATIC_IMPL_H
#define RINGO_HTTP_STATIC_IMPL_H

struct ringo_app;
struct ringo__static_mount;

/* Frees every mount of app (closes their roots, frees their caches). */
void ringo__static_free_all(struct ringo_app *app);

#endif
