/*
 * examples/demo_tfb_shared.c - the TechEmpower test types' statements and
 * answers, for the sync routes (examples/demo_tfb.c) and the async ones
 * (examples/demo_tfb_async.c) alike (examples/demo_tfb.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo_tfb.h"

#ifdef RINGO_WITH_PG

static const char world_sql[] = "SELECT id, randomnumber FROM world WHERE id = $1";

/* The ids and their new numbers as two int[] parameters: one statement text for any count. */
static const char update_sql[] =
    "UPDATE world SET randomnumber = v.rn FROM (SELECT unnest($1::int[]) AS id, "
    "unnest($2::int[]) AS rn) AS v WHERE world.id = v.id";

const ringo_pg_query tfb_fortune_query = {.sql = "SELECT id, message FROM fortune",
                                          .name = "tfb_fortune"};

/* xorshift64 per thread, seeded from the clock and the thread. */
int tfb_random_id(void)
{
    static _Thread_local uint64_t s;

    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (int)((s >> 11) % TFB_WORLD_ROWS) + 1;
}

int tfb_world_queries(ringo_req *req, unsigned n, ringo_pg_query **q, PGresult ***res)
{
    char(*ids)[12] = ringo_req_alloc(req, n * sizeof(*ids));
    const char **vals = ringo_req_alloc(req, n * sizeof(*vals));

    *q = ringo_req_alloc(req, n * sizeof(**q));
    *res = ringo_req_alloc(req, n * sizeof(**res));
    if (!*q || !*res || !ids || !vals)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", tfb_random_id());
        vals[i] = ids[i];
        (*q)[i] = (ringo_pg_query){
            .sql = world_sql, .name = "tfb_world", .nparams = 1, .values = &vals[i]};
        (*res)[i] = NULL;
    }
    return 0;
}

int tfb_worlds(PGresult *const *res, unsigned n, tfb_world *w)
{
    for (unsigned i = 0; i < n; i++) {
        if (!res[i] || PQntuples(res[i]) != 1)
            return -ENOENT;
        w[i].id = atoi(PQgetvalue(res[i], 0, 0));
        w[i].rn = atoi(PQgetvalue(res[i], 0, 1));
    }
    return 0;
}

static void json_world(ringo_json_w *j, const tfb_world *w)
{
    ringo_json_obj(j);
    ringo_json_key(j, "id");
    ringo_json_int(j, w->id);
    ringo_json_key(j, "randomNumber");
    ringo_json_int(j, w->rn);
    ringo_json_end(j);
}

int tfb_respond_worlds(ringo_req *req, const tfb_world *w, unsigned n, bool array)
{
    ringo_json_w j;

    ringo_json_begin(&j, req);
    if (array)
        ringo_json_arr(&j);
    for (unsigned i = 0; i < n; i++)
        json_world(&j, &w[i]);
    if (array)
        ringo_json_end(&j);
    return ringo_json_respond(&j, 200);
}

static int by_id(const void *a, const void *b)
{
    const tfb_world *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/* int[] literal "{1,2,3}" of the ids (rn false) or the numbers, in the arena. */
static char *int_array(ringo_req *req, const tfb_world *w, unsigned n, bool rn)
{
    char *s = ringo_req_alloc(req, (size_t)n * 12 + 3), *p = s;

    if (!s)
        return NULL;
    *p++ = '{';
    for (unsigned i = 0; i < n; i++)
        p += sprintf(p, "%s%d", i ? "," : "", rn ? w[i].rn : w[i].id);
    *p++ = '}';
    *p = '\0';
    return s;
}

int tfb_update_query(ringo_req *req, tfb_world *w, unsigned n, ringo_pg_query *q)
{
    const char **vals = ringo_req_alloc(req, 2 * sizeof(*vals));

    for (unsigned i = 0; i < n; i++) {
        int rn;
        do
            rn = tfb_random_id();
        while (rn == w[i].rn); /* a new value for every row read */
        w[i].rn = rn;
    }
    qsort(w, n, sizeof(*w), by_id);
    for (unsigned i = 1; i < n; i++)
        if (w[i].id == w[i - 1].id)
            w[i].rn = w[i - 1].rn; /* the UPDATE applies one value per id */
    if (!vals || !(vals[0] = int_array(req, w, n, false)) ||
        !(vals[1] = int_array(req, w, n, true)))
        return -ENOMEM;
    *q = (ringo_pg_query){.sql = update_sql, .name = "tfb_update", .nparams = 2, .values = vals};
    return 0;
}

typedef struct fortune {
    int id;
    const char *msg;
} fortune;

static int by_message(const void *a, const void *b)
{
    return strcmp(((const fortune *)a)->msg, ((const fortune *)b)->msg);
}

/* Appends s, HTML-escaped, at p; returns the new end. */
static char *escape(char *p, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': p = (char *)memcpy(p, "&lt;", 4) + 4; break;
        case '>': p = (char *)memcpy(p, "&gt;", 4) + 4; break;
        case '&': p = (char *)memcpy(p, "&amp;", 5) + 5; break;
        case '"': p = (char *)memcpy(p, "&quot;", 6) + 6; break;
        case '\'': p = (char *)memcpy(p, "&#x27;", 6) + 6; break;
        default: *p++ = *s;
        }
    }
    return p;
}

static int fortunes_html(ringo_req *req, const fortune *f, unsigned n)
{
    static const char head[] = "<!DOCTYPE html><html><head><title>Fortunes</title></head>"
                               "<body><table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    size_t cap = sizeof(head) + sizeof(tail);
    char *body, *p;

    for (unsigned i = 0; i < n; i++)
        cap += 32 + 6 * strlen(f[i].msg); /* "&quot;" is the longest escape */
    if (!(body = p = ringo_req_alloc(req, cap)))
        return -ENOMEM;
    p = (char *)memcpy(p, head, sizeof(head) - 1) + sizeof(head) - 1;
    for (unsigned i = 0; i < n; i++) {
        p += sprintf(p, "<tr><td>%d</td><td>", f[i].id);
        p = escape(p, f[i].msg);
        p = (char *)memcpy(p, "</td></tr>", 10) + 10;
    }
    p = (char *)memcpy(p, tail, sizeof(tail) - 1) + sizeof(tail) - 1;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/html; charset=utf-8"));
    return ringo_resp_set_body_ref(req, body, (size_t)(p - body));
}

int tfb_respond_fortunes(ringo_req *req, const PGresult *res)
{
    int n = PQntuples(res);
    fortune *f = ringo_req_alloc(req, (size_t)(n + 1) * sizeof(*f));

    if (!f)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        f[i].id = atoi(PQgetvalue(res, i, 0));
        f[i].msg = PQgetvalue(res, i, 1); /* rendered before the result is cleared */
    }
    f[n] = (fortune){0, "Additional fortune added at request time."};
    qsort(f, (size_t)n + 1, sizeof(*f), by_message);
    return fortunes_html(req, f, (unsigned)n + 1);
}

#endif
