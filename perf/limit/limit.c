/*
 * limit: the cheapest HTTP/1.1 responder this machine can run, the ceiling row of
 * perf/bench's table.
 *
 * It answers every "\r\n\r\n" it receives with one canned plaintext response: no parsing,
 * no routing, no Date refresh. Whatever a real server spends beyond this is the price of
 * being a real server.
 *
 * Shape, the same as ringo's ring so that the comparison is about per-request work: one
 * io_uring (single issuer, deferred task work), multishot accept, a multishot recv per
 * connection on a provided-buffer ring, and one send per received batch (the number of
 * request terminators in the batch times the canned response, from one static buffer).
 *
 * Usage: limit [--host 127.0.0.1] [--port 8080]   (--port 0 picks a free port)
 * Prints "limit: listening on http://HOST:PORT" once the socket listens; SIGINT or SIGTERM
 * ends it with status 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

#define RING_ENTRIES 4096u
#define CQ_ENTRIES 65536u
#define BUF_GROUP 0
#define BUF_COUNT 2048u /* power of two: the buffer ring indexes with a mask */
#define BUF_SIZE 4096u
#define CANNED_MAX 1024u /* responses one send can carry */

struct conn {
    uint32_t pending;  /* responses owed but not yet handed to a send */
    uint32_t in_len;   /* bytes of the send in flight; 0 = none */
    uint32_t in_done;  /* bytes of it already sent (short sends) */
    uint8_t match;     /* bytes of "\r\n\r\n" matched so far, across recvs */
    uint8_t recv_done; /* the multishot recv ended for good: close after the send */
};

static struct io_uring ring;
static struct io_uring_buf_ring *buf_ring;
static char *buf_mem;
static struct conn *conns;
static int conns_cap;
static char *canned;
static size_t canned_len;
static int listen_fd;
static volatile sig_atomic_t stopping;

static uint64_t pack(int op, int fd) { return (uint64_t)op << 32 | (uint32_t)fd; }

static void die(const char *what, int err)
{
    fprintf(stderr, "limit: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (!sqe)
            die("no SQE after submit", EBUSY);
    }
    return sqe;
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();

    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, pack(OP_ACCEPT, listen_fd));
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *sqe = get_sqe();

    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, pack(OP_RECV, fd));
}

/* The canned buffer holds CANNED_MAX back-to-back copies, so any prefix of it is a whole
 * number of responses and the tail of a short send continues at the same offset. */
static void submit_send(int fd, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe();

    io_uring_prep_send(sqe, fd, canned + c->in_done, c->in_len - c->in_done,
                       MSG_NOSIGNAL | MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, pack(OP_SEND, fd));
}

/* One send in flight per connection: two concurrent sends on one socket may interleave. */
static void start_send(int fd, struct conn *c)
{
    uint32_t n;

    if (c->in_len || !c->pending)
        return;
    n = c->pending < CANNED_MAX ? c->pending : CANNED_MAX;
    c->pending -= n;
    c->in_len = (uint32_t)(n * canned_len);
    c->in_done = 0;
    submit_send(fd, c);
}

static void close_conn(int fd)
{
    memset(&conns[fd], 0, sizeof(conns[fd]));
    close(fd);
}

static uint32_t count_ends(struct conn *c, const char *p, size_t n)
{
    static const char pat[4] = {'\r', '\n', '\r', '\n'};
    const char *end = p + n;
    uint32_t count = 0;
    unsigned s = c->match;

    while (p < end) {
        if (s == 0) {
            p = memchr(p, '\r', (size_t)(end - p));
            if (!p)
                break;
        }
        if (*p == pat[s]) {
            if (++s == 4) {
                count++;
                s = 0;
            }
        } else {
            s = *p == '\r' ? 1 : 0;
        }
        p++;
    }
    c->match = (uint8_t)s;
    return count;
}

static void recycle(unsigned bid)
{
    io_uring_buf_ring_add(buf_ring, buf_mem + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(buf_ring, 1);
}

static void on_accept(int res, unsigned flags)
{
    int one = 1;

    if (res >= 0 && res >= conns_cap) {
        close(res);
    } else if (res >= 0) {
        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(&conns[res], 0, sizeof(conns[res]));
        arm_recv(res);
    } else if (res == -EMFILE || res == -ENFILE) {
        usleep(1000); /* out of descriptors: back off instead of spinning */
    }
    if (!(flags & IORING_CQE_F_MORE))
        arm_accept();
}

/* A multishot recv that ended without error (-ENOBUFS: buffers were all in use, or a data
 * CQE without F_MORE) is re-armed; EOF and errors end the connection once its send is
 * reaped, so no CQE ever arrives for a descriptor number that was reused. */
static void on_recv(int fd, int res, unsigned flags)
{
    struct conn *c = &conns[fd];

    if (res > 0) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

        c->pending += count_ends(c, buf_mem + (size_t)bid * BUF_SIZE, (size_t)res);
        recycle(bid);
        start_send(fd, c);
    }
    if (flags & IORING_CQE_F_MORE)
        return;
    if (res > 0 || res == -ENOBUFS) {
        arm_recv(fd);
        return;
    }
    c->recv_done = 1;
    if (!c->in_len)
        close_conn(fd);
}

static void on_send(int fd, int res)
{
    struct conn *c = &conns[fd];

    if (res <= 0) {
        c->in_len = 0;
        c->pending = 0;
        shutdown(fd, SHUT_RDWR); /* ends the recv too; the close happens there */
    } else if (c->in_done + (uint32_t)res < c->in_len) {
        c->in_done += (uint32_t)res;
        submit_send(fd, c);
        return;
    } else {
        c->in_len = 0;
    }
    if (c->recv_done)
        close_conn(fd);
    else
        start_send(fd, c);
}

static void handle(const struct io_uring_cqe *cqe)
{
    int op = (int)(cqe->user_data >> 32);
    int fd = (int)(uint32_t)cqe->user_data;

    if (op == OP_ACCEPT)
        on_accept(cqe->res, cqe->flags);
    else if (op == OP_RECV)
        on_recv(fd, cqe->res, cqe->flags);
    else if (op == OP_SEND)
        on_send(fd, cqe->res);
}

static void setup_ring(void)
{
    struct io_uring_params p;
    int ret;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = CQ_ENTRIES;
    ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
    if (ret == -EINVAL) { /* kernel < 6.1: no deferred task work */
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
    }
    if (ret < 0)
        die("io_uring_queue_init", ret);
}

/* liburing 2.3 has io_uring_register_buf_ring but not io_uring_setup_buf_ring: the ring
 * memory is ours, page aligned, and registered by address. */
static void setup_buffers(void)
{
    struct io_uring_buf_reg reg;
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    int ret;

    buf_ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    buf_mem = malloc((size_t)BUF_COUNT * BUF_SIZE);
    if (buf_ring == MAP_FAILED || !buf_mem)
        die("buffer memory", ENOMEM);
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)buf_ring;
    reg.ring_entries = BUF_COUNT;
    reg.bgid = BUF_GROUP;
    ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret < 0)
        die("io_uring_register_buf_ring (provided buffer rings need kernel 5.19)", ret);
    io_uring_buf_ring_init(buf_ring);
    for (unsigned i = 0; i < BUF_COUNT; i++)
        io_uring_buf_ring_add(buf_ring, buf_mem + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(BUF_COUNT), (int)i);
    io_uring_buf_ring_advance(buf_ring, (int)BUF_COUNT);
}

/* The Date is fixed at startup: refreshing it is exactly the kind of work this program
 * exists to leave out. */
static void setup_canned(void)
{
    char date[64], one[256];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    n = snprintf(one, sizeof(one),
                 "HTTP/1.1 200 OK\r\nServer: limit\r\nDate: %s\r\n"
                 "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
                 date);
    canned_len = (size_t)n;
    canned = malloc(canned_len * CANNED_MAX);
    if (!canned)
        die("canned response", ENOMEM);
    for (unsigned i = 0; i < CANNED_MAX; i++)
        memcpy(canned + i * canned_len, one, canned_len);
}

static void setup_conns(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    conns_cap =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur : 1 << 20;
    conns = calloc((size_t)conns_cap, sizeof(*conns));
    if (!conns)
        die("connection table", ENOMEM);
}

static int open_listener(const char *host, int port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket", errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("--host must be an IPv4 address", EINVAL);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("bind", errno);
    if (listen(fd, 65535) < 0)
        die("listen", errno);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("getsockname", errno);
    printf("limit: listening on http://%s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* No SA_RESTART: the signal must interrupt io_uring_enter so the loop sees `stopping`. */
static void setup_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void usage(void)
{
    fprintf(stderr, "usage: limit [--host IPV4] [--port P]   (--port 0: pick a free port)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 8080;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else
            usage();
    }
    setup_signals();
    setup_conns();
    setup_canned();
    setup_ring();
    setup_buffers();
    listen_fd = open_listener(host, port);
    arm_accept();
    while (!stopping) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int ret = io_uring_submit_and_wait(&ring, 1);

        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
            die("io_uring_submit_and_wait", ret);
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            handle(cqe);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
    }
    io_uring_queue_exit(&ring);
    return 0;
}
