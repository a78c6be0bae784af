/*
 * lsclient.h — the few Label Studio API calls the mlbackend makes (common/http_client.h).
 *
 * Blocking by design: they run on a training thread, never on a request that someone is
 * waiting on for a prediction. Credentials follow Label Studio's SDK rule: a key that
 * looks like a JWT is a personal access token, exchanged at POST /api/token/refresh/ for
 * a short-lived access token sent as "Bearer"; any other key is sent as "Token <key>".
 * A key that already starts with "Token " or "Bearer " is sent as it is. Keys never
 * appear in error messages.
 */
#ifndef CG_LSCLIENT_H
#define CG_LSCLIENT_H

#include <stdatomic.h>

#include "common/buf.h"

/* Largest export accepted, in bytes. */
#define CG_LSCLIENT_MAX_EXPORT (512u * 1024 * 1024)

/* Fetches GET {base_url}/api/projects/{project}/export?exportType=JSON into out.
 * 0 on success; -1 with a message in err (transport error, non-2xx status with the start
 * of the body, token exchange failure, export too large). timeout_s bounds each call;
 * when cancel is not NULL and *cancel becomes non-zero the transfer
 * stops within about a second and the call fails with "cancelled". */
int cg_lsclient_export(const char *base_url, const char *api_key, long project, long timeout_s,
                       const atomic_int *cancel, cg_buf *out, char *err, size_t errlen);

#endif
