/*
 * examples/demo.c - the `ringo` demo server.
 *
 * Routes that only compute are RINGO_ASYNC: they run on the ring thread and
 * never block it. See docs/api.md for every call used here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ringo.h>

static int hello(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, "text/plain", "ringo\n", 6);
}

static int plaintext(ringo_req *req, void *udata)
{
    static const char body[] = "Hello, World!";

    (void)udata;
    ringo_resp_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
    return ringo_resp_body_ref(req, body, sizeof(body) - 1);
}

static int json(ringo_req *req, void *udata)
{
    static const char body[] = "{\"message\":\"Hello, World!\"}";

    (void)udata;
    ringo_resp_header(req, "Content-Type", RINGO_STR_LIT("application/json"));
    return ringo_resp_body_ref(req, body, sizeof(body) - 1);
}

static int echo(ringo_req *req, void *udata)
{
    ringo_str ctype, body = ringo_req_body(req);

    (void)udata;
    if (ringo_req_header(req, "content-type", &ctype) < 0)
        ctype = RINGO_STR_LIT("application/octet-stream");
    ringo_resp_header(req, "Content-Type", ctype);
    return ringo_resp_body_ref(req, body.ptr, body.len);
}

/* Writes s as a JSON string body (quotes included) into out; returns its length. */
static size_t json_escape(char *out, ringo_str s)
{
    size_t n = 0;

    out[n++] = '"';
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)sprintf(out + n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n++] = '"';
    return n;
}

static int user(ringo_req *req, void *udata)
{
    ringo_str id;
    char *buf;
    size_t n;

    (void)udata;
    if (ringo_req_param(req, "id", &id) < 0)
        return -EINVAL;
    buf = ringo_req_alloc(req, id.len * 6 + 16);
    if (!buf)
        return -ENOMEM;
    n = (size_t)sprintf(buf, "{\"id\":");
    n += json_escape(buf + n, id);
    buf[n++] = '}';
    ringo_resp_header(req, "Content-Type", RINGO_STR_LIT("application/json"));
    return ringo_resp_body_ref(req, buf, n);
}

static int whoami(ringo_req *req, void *udata)
{
    char peer[64], body[128];
    int n;

    (void)udata;
    if (ringo_req_peer_string(req, peer, sizeof(peer)) < 0)
        strcpy(peer, "unknown");
    n = snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"ring\":%u}", peer, ringo_req_ring(req));
    return ringo_respond(req, 200, "application/json", body, (size_t)n);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ringo [--host H] [--port P] [--threads N] [--pool-threads N]\n"
               "             [--max-conns N] [--max-request-line B] [--max-header-bytes B]\n"
               "             [--max-headers N] [--max-body B] [--max-conn-buffered B]\n"
               "             [--max-requests N] [--header-timeout MS] [--body-timeout MS]\n"
               "             [--keepalive-timeout MS] [--send-timeout MS] [--linger MS]\n"
               "             [--drain-timeout MS] [--quiet]\n");
}

enum { OPT_POOL = 256, OPT_MAXCONNS, OPT_RLINE, OPT_HBYTES, OPT_HCOUNT, OPT_BODY, OPT_BUFFERED,
       OPT_MAXREQ, OPT_THDR, OPT_TBODY, OPT_TKA, OPT_TSEND, OPT_LINGER, OPT_DRAIN, OPT_QUIET };

static int parse_args(int argc, char **argv, ringo_config *cfg)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},          {"port", 1, 0, 'p'},
        {"threads", 1, 0, 't'},       {"pool-threads", 1, 0, OPT_POOL},
        {"max-conns", 1, 0, OPT_MAXCONNS}, {"max-request-line", 1, 0, OPT_RLINE},
        {"max-header-bytes", 1, 0, OPT_HBYTES}, {"max-headers", 1, 0, OPT_HCOUNT},
        {"max-body", 1, 0, OPT_BODY}, {"max-conn-buffered", 1, 0, OPT_BUFFERED},
        {"max-requests", 1, 0, OPT_MAXREQ}, {"header-timeout", 1, 0, OPT_THDR},
        {"body-timeout", 1, 0, OPT_TBODY}, {"keepalive-timeout", 1, 0, OPT_TKA},
        {"send-timeout", 1, 0, OPT_TSEND}, {"linger", 1, 0, OPT_LINGER},
        {"drain-timeout", 1, 0, OPT_DRAIN}, {"quiet", 0, 0, OPT_QUIET},
        {"help", 0, 0, '?'},          {0, 0, 0, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "h:p:t:", opts, NULL)) != -1) {
        unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
        switch (c) {
        case 'h': cfg->host = optarg; break;
        case 'p': cfg->port = (uint16_t)v; break;
        case 't': cfg->threads = (unsigned)v; break;
        case OPT_POOL: cfg->pool_threads = (unsigned)v; break;
        case OPT_MAXCONNS: cfg->max_conns = (uint32_t)v; break;
        case OPT_RLINE: cfg->max_request_line = (uint32_t)v; break;
        case OPT_HBYTES: cfg->max_header_bytes = (uint32_t)v; break;
        case OPT_HCOUNT: cfg->max_headers = (uint32_t)v; break;
        case OPT_BODY: cfg->max_body_bytes = v; break;
        case OPT_BUFFERED: cfg->max_conn_buffered = (uint32_t)v; break;
        case OPT_MAXREQ: cfg->max_requests_per_conn = (uint32_t)v; break;
        case OPT_THDR: cfg->header_timeout_ms = (uint32_t)v; break;
        case OPT_TBODY: cfg->body_timeout_ms = (uint32_t)v; break;
        case OPT_TKA: cfg->keepalive_timeout_ms = (uint32_t)v; break;
        case OPT_TSEND: cfg->send_timeout_ms = (uint32_t)v; break;
        case OPT_LINGER: cfg->linger_ms = (uint32_t)v; break;
        case OPT_DRAIN: cfg->drain_timeout_ms = (uint32_t)v; break;
        case OPT_QUIET: cfg->quiet = 1; break;
        default: usage(c == '?' ? stdout : stderr); return -1;
        }
    }
    return 0;
}

static int add_routes(ringo_app *app)
{
    int ret = 0;

    ret = ret ? ret : ringo_route(app, "GET", "/", RINGO_ASYNC, hello, NULL);
    ret = ret ? ret : ringo_route(app, "GET", "/plaintext", RINGO_ASYNC, plaintext, NULL);
    ret = ret ? ret : ringo_route(app, "GET", "/json", RINGO_ASYNC, json, NULL);
    ret = ret ? ret : ringo_route(app, "POST", "/echo", RINGO_ASYNC, echo, NULL);
    ret = ret ? ret : ringo_route(app, "GET", "/users/{id}", RINGO_ASYNC, user, NULL);
    ret = ret ? ret : ringo_route(app, "GET", "/whoami", RINGO_ASYNC, whoami, NULL);
    return ret;
}

int main(int argc, char **argv)
{
    ringo_config cfg;
    ringo_app *app;
    ringo_stats st;
    int ret;

    ringo_config_init(&cfg);
    if (parse_args(argc, argv, &cfg) < 0)
        return 2;
    app = ringo_app_new(&cfg);
    if (!app || add_routes(app) < 0 || ringo_app_handle_signals(app) < 0) {
        fprintf(stderr, "ringo: setup failed\n");
        return 1;
    }
    ret = ringo_app_start(app);
    if (ret < 0) {
        ringo_app_free(app);
        return 1;
    }
    printf("ringo: listening on http://%s%s%s:%u (%u rings)\n", strchr(cfg.host, ':') ? "[" : "",
           cfg.host, strchr(cfg.host, ':') ? "]" : "", ringo_app_port(app),
           cfg.threads ? cfg.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    ret = ringo_app_wait(app);
    ringo_app_stats(app, &st);
    fprintf(stderr, "ringo: stopped: conns=%llu reqs=%llu bufs=%llu stacks=%llu jobs=%llu\n",
            (unsigned long long)st.conns_live, (unsigned long long)st.reqs_live,
            (unsigned long long)st.bufs_held, (unsigned long long)st.stacks_live,
            (unsigned long long)st.jobs_live);
    ringo_app_free(app);
    return ret < 0 ? 1 : 0;
}
