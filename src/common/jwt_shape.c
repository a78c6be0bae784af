/*
 * jwt_shape.c — see jwt_shape.h.
 */
#include "common/jwt_shape.h"

#include <string.h>

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '=';
}

bool cg_jwt_shaped(const char *key)
{
    if (!key || strncmp(key, "eyJ", 3)) return false;
    int dots = 0;
    size_t part = 0;
    for (const char *p = key; *p; p++) {
        if (*p == '.') {
            if (part == 0) return false;
            dots++;
            part = 0;
        } else if (!is_b64url(*p)) {
            return false;
        } else {
            part++;
        }
    }
    return dots == 2 && part > 0;
}
