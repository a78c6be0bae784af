/*
 * upstream_types.h — the types upstream.h's interface shares with capgate's own HTTP/1.1
 * client (h1.h, upstream's internal part): how a transfer ended and a request header.
 * A header of their own so that h1.h, below upstream.c, does not include upstream.h.
 */
#ifndef CG_UPSTREAM_TYPES_H
#define CG_UPSTREAM_TYPES_H

typedef enum {
    CG_UPSTREAM_OK = 0,       /* an HTTP response arrived (any status) */
    CG_UPSTREAM_UNREACHABLE,  /* connection refused/reset, DNS failure, nothing received */
    CG_UPSTREAM_TIMEOUT,      /* connect or total timeout passed */
    CG_UPSTREAM_BAD_RESPONSE, /* not HTTP, or larger than max_response */
    CG_UPSTREAM_OVERLOADED,   /* the in-flight cap and the queue are both full */
    CG_UPSTREAM_INTERNAL,     /* out of memory or a curl setup failure */
} cg_upstream_result;

/* A request header. An empty value is sent as an empty header by capgate's own client;
 * libcurl drops a header whose value is empty. */
typedef struct cg_upstream_header {
    const char *name, *value;
} cg_upstream_header;

#endif
