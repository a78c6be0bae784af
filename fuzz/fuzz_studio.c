/*
 * fuzz_studio.c — libFuzzer target for studio's request handling (src/studio: routing,
 * token auth, JSON bodies, the ML-backend state machine, SQLite store), through a real
 * in-process studio on a loopback port with a scratch database. Each input is sent as raw
 * bytes on one connection (requests may be pipelined), the harness reads to the end; the
 * database carries over between inputs, as a real server's would.
 *
 * studio's admin key is "fuzzkey" (seeds use `Authorization: Token fuzzkey`). ML backends
 * that inputs create point wherever the input says; the seeds use 127.0.0.1:1, which
 * refuses at once, so no input waits on a network.
 *
 * Leak detection per input is off (fuzz_studio.options): studio serves each connection on a
 * thread of its own and runs prediction jobs in the background, so memory legitimately
 * outlives an input; leaks are checked at exit by make test-asan and make test-valgrind.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "studio/studio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cg_studio *studio;

static void init(void)
{
    if (studio) return;
    static char db[64];
    snprintf(db, sizeof db, "/tmp/capgate-fuzz-studio-%d.db", (int)getpid());
    unlink(db);
    cg_studio_options o = {.listen = "127.0.0.1", .port = 0, .db_path = db, .api_key = "fuzzkey"};
    char err[256];
    studio = cg_studio_start(&o, NULL, err, sizeof err);
    if (!studio) {
        fprintf(stderr, "studio: %s\n", err);
        abort();
    }
}

static int connect_client(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cg_studio_port(studio)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) return fd;
        if (fd >= 0) close(fd);
        usleep(10000);      /* ports or backlog momentarily exhausted */
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    int fd = connect_client();
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (size > 200000) size = 200000;
    for (size_t off = 0; off < size;) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return 0;
}
