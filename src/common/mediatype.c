/*
 * mediatype.c — see mediatype.h.
 */
#include "common/mediatype.h"

#include <string.h>
#include <strings.h>

bool cg_mediatype_is_json(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16)) return true;
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5) &&
           memchr(ct + 12, '/', n - 12) == NULL && memchr(ct, ' ', n) == NULL;
}
