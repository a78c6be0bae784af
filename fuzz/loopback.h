/*
 * loopback.h — the client side shared by the fuzz targets that drive a real server over a
 * loopback connection (fuzz_h1_server, fuzz_rest, fuzz_studio). Header-only: each target
 * is one translation unit (see the Makefile's build-fuzz/fuzz_% rule).
 */
#ifndef CG_FUZZ_LOOPBACK_H
#define CG_FUZZ_LOOPBACK_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A blocking connection to 127.0.0.1:port; retries while ports or the backlog are
 * momentarily exhausted, aborts after a second of failures. */
static inline int loopback_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) return fd;
        if (fd >= 0) close(fd);
        usleep(10000);
    }
    abort();
}

/* Sends the input (at most 200 kB: it fits loopback socket buffers, so this never blocks
 * on a server that is not running yet) and shuts the sending side. */
static inline void loopback_send_input(int fd, const uint8_t *data, size_t size)
{
    if (size > 200000) size = 200000;
    for (size_t off = 0; off < size;) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
}

/* Closes with RST: no TIME_WAIT, or thousands of connections a second use up the ports. */
static inline void loopback_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

#endif
