/*
 * Description: session ticket keys (core/tls.c, included): the first
 * ticket makes a key; it encrypts until it is TICKET_ROTATE_S old, then a
 * new one takes over and the old one only decrypts (its tickets are
 * renewed: ticket_cb answers 2) until it is twice that old, then it is
 * forgotten (a full handshake). Keys are distinct and unknown names find
 * nothing. Standalone: the connection functions tls.c calls are stubs.
 */
#include "core/tls.c"

#include "check.h"

/* Stand-ins for core/conn.c and core/ring.c: the key logic calls none of them. */
int ringo__conn_ct_append(ringo__conn *c, const void *p, size_t n)
{
    (void)c, (void)p, (void)n;
    return -ENOMEM;
}
void ringo__conn_timer(ringo__conn *c, int kind, uint32_t ms) { (void)c, (void)kind, (void)ms; }
void ringo__conn_close(ringo__conn *c, int how) { (void)c, (void)how; }
void ringo__conn_flush(ringo__conn *c) { (void)c; }
void ringo__conn_arm_recv(ringo__conn *c) { (void)c; }
void ringo__conn_cancel_recv(ringo__conn *c) { (void)c; }
void ringo__conn_ref(ringo__conn *c) { (void)c; }
void ringo__conn_unref(ringo__conn *c) { (void)c; }
struct io_uring_sqe *ringo__ring_sqe(ringo__ring *r)
{
    (void)r;
    return NULL;
}
const char *ringo_strerror(int err) { return strerror(err < 0 ? -err : err); }

static bool same(const ticket_key *a, const ticket_key *b)
{
    return memcmp(a->name, b->name, sizeof(a->name)) == 0;
}

int main(void)
{
    ringo__tls_conf conf = {0};
    ticket_key k1, k2, again, found;
    unsigned char unknown[16] = {0};

    pthread_mutex_init(&conf.mu, NULL);
    CHECK(current_key(&conf, &k1) == 0 && k1.born);
    CHECK(current_key(&conf, &again) == 0 && same(&k1, &again)); /* young: kept */
    CHECK(find_key(&conf, k1.name, &found) == 0 && same(&k1, &found));
    CHECK(find_key(&conf, unknown, &found) == -1);

    conf.keys[0].born -= TICKET_ROTATE_S; /* an hour old: the next ticket rotates */
    CHECK(current_key(&conf, &k2) == 0 && !same(&k1, &k2));
    CHECK(memcmp(k1.aes, k2.aes, sizeof(k1.aes)) != 0);
    CHECK(find_key(&conf, k2.name, &found) == 0);                      /* current */
    CHECK(find_key(&conf, k1.name, &found) == 1 && same(&k1, &found)); /* renew it */

    conf.keys[1].born -= TICKET_ROTATE_S; /* two hours old: forgotten */
    CHECK(find_key(&conf, k1.name, &found) == -1);
    CHECK(find_key(&conf, k2.name, &found) == 0);
    pthread_mutex_destroy(&conf.mu);
    printf("tls_keys_test: ok\n");
    return 0;
}
