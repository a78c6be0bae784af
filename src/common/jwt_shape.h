/*
 * jwt_shape.h — the one "does this key look like a JWT" check.
 *
 * Label Studio's SDK tells a personal access token (a JWT refresh token, exchanged at
 * POST /api/token/refresh/) from a legacy key (sent as "Token <key>") by shape alone: three
 * non-empty base64url parts separated by dots, the header starting "eyJ" (base64 of '{"').
 * The engine's Label Studio credentials, the mlbackend's Label Studio client and studio's
 * own token auth all decide with this function.
 */
#ifndef CG_JWT_SHAPE_H
#define CG_JWT_SHAPE_H

#include <stdbool.h>

/* Whether key (NULL allowed: false) has a JWT's shape. */
bool cg_jwt_shaped(const char *key);

#endif
