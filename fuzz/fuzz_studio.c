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

#include "loopback.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    int fd = loopback_connect(cg_studio_port(studio));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    loopback_send_input(fd, data, size);
    char buf[65536];
    while (recv(fd, buf, sizeof buf, 0) > 0) {}
    loopback_close(fd);
    return 0;
}
