/*
 * ml_api.c — the 9 /api/ml endpoints, with Label Studio's behaviour (reference §4–§6).
 *
 * The pieces, in the order a request meets them:
 *   - field validation, a copy of MLBackendSerializer's rules and messages, applied onto a
 *     cg_studio_mlb (defaults for create, the stored row for update);
 *   - the connection check a create or update runs before saving (/health, then /setup),
 *     which turns backend failures into Label Studio's non_field_errors;
 *   - update_state, run on list, get, delete and after saves, which sets CO/DI/ER;
 *   - the endpoints themselves.
 * No store lock is ever held while an ML backend is called: every call happens between
 * store reads and writes, on the request's own thread.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/log.h"
#include "studio/app.h"
#include "studio/connector.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

/* Loads backend id or answers 404. 0 when loaded. */
static int load_mlb(cg_studio_app *app, int64_t id, cg_studio_mlb *m, cg_http_response *res)
{
    int rc = cg_studio_store_mlb_get(app->store, id, m);
    if (rc == 0) return 0;
    if (rc == CG_STORE_NOTFOUND)
        cg_studio_reply_error(res, 404, "No MLBackend matches the given query.", NULL);
    else cg_studio_reply_error(res, 500, "database error", NULL);
    return -1;
}

/* ---- validation (MLBackendSerializer) ------------------------------------------------------ */

/* DRF CharField: strings (trimmed), numbers become text; bools and containers refused. */
static void field_str(json_t *body, json_t *errors, const char *name, int nullable, int allow_blank,
                      char **dst)
{
    json_t *v = json_object_get(body, name);
    if (!v) return;
    if (json_is_null(v)) {
        if (nullable) set_str(dst, NULL);
        else cg_studio_add_error(errors, name, "This field may not be null.");
        return;
    }
    char num[64];
    const char *s;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        s = num;
    } else {
        cg_studio_add_error(errors, name, "Not a valid string.");
        return;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (n == 0 && !allow_blank) {
        cg_studio_add_error(errors, name, "This field may not be blank.");
        return;
    }
    free(*dst);
    *dst = strndup(s, n);
}

/* DRF BooleanField's accepted spellings. */
static void field_bool(json_t *body, json_t *errors, const char *name, int *dst)
{
    static const char *const yes[] = {"t", "y", "yes", "true", "on", "1", NULL};
    static const char *const no[] = {"f", "n", "no", "false", "off", "0", NULL};
    json_t *v = json_object_get(body, name);
    if (!v) return;
    if (json_is_boolean(v)) {
        *dst = json_is_true(v);
        return;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *dst = (int)json_integer_value(v);
        return;
    }
    if (json_is_string(v)) {
        for (int i = 0; yes[i]; i++)
            if (!strcasecmp(json_string_value(v), yes[i])) {
                *dst = 1;
                return;
            }
        for (int i = 0; no[i]; i++)
            if (!strcasecmp(json_string_value(v), no[i])) {
                *dst = 0;
                return;
            }
    }
    cg_studio_add_error(
        errors, name, json_is_null(v) ? "This field may not be null." : "Must be a valid boolean.");
}

static void field_choice(json_t *body, json_t *errors, const char *name, const char *const *choices,
                         char *dst, size_t dstlen, char **dst_str)
{
    json_t *v = json_object_get(body, name);
    if (!v) return;
    if (json_is_null(v)) {
        cg_studio_add_error(errors, name, "This field may not be null.");
        return;
    }
    for (int i = 0; json_is_string(v) && choices[i]; i++) {
        if (!strcmp(json_string_value(v), choices[i])) {
            if (dst) snprintf(dst, dstlen, "%s", choices[i]);
            if (dst_str) set_str(dst_str, choices[i]);
            return;
        }
    }
    char *shown = json_is_string(v) ? strdup(json_string_value(v))
                                    : json_dumps(v, CG_STUDIO_JSON | JSON_ENCODE_ANY);
    char msg[300];
    snprintf(msg, sizeof msg, "\"%.200s\" is not a valid choice.", shown ? shown : "?");
    free(shown);
    cg_studio_add_error(errors, name, msg);
}

static void field_number(json_t *body, json_t *errors, const char *name, double *dst)
{
    json_t *v = json_object_get(body, name);
    if (!v) return;
    if (json_is_number(v)) {
        *dst = json_number_value(v);
        return;
    }
    if (json_is_string(v)) {
        char *end;
        double d = strtod(json_string_value(v), &end);
        if (end != json_string_value(v) && *end == '\0') {
            *dst = d;
            return;
        }
    }
    cg_studio_add_error(errors, name,
                        json_is_null(v) ? "This field may not be null."
                                        : "A valid number is required.");
}

static void field_json(json_t *body, const char *name, char **dst)
{
    json_t *v = json_object_get(body, name);
    if (!v) return;
    free(*dst);
    *dst = json_is_null(v) ? NULL : json_dumps(v, CG_STUDIO_JSON | JSON_ENCODE_ANY);
}

/* PrimaryKeyRelatedField(Project). */
static void field_project(cg_studio_app *app, json_t *body, json_t *errors, int64_t *dst)
{
    json_t *v = json_object_get(body, "project");
    if (!v) return;
    char msg[200];
    if (json_is_null(v)) {
        cg_studio_add_error(errors, "project", "This field may not be null.");
        return;
    }
    int64_t id = -1;
    char shown[64] = "";
    if (json_is_integer(v)) {
        id = json_integer_value(v);
        snprintf(shown, sizeof shown, "%lld", (long long)id);
    } else if (json_is_string(v) && cg_studio_parse_id(json_string_value(v)) > 0) {
        id = cg_studio_parse_id(json_string_value(v));
        snprintf(shown, sizeof shown, "%.60s", json_string_value(v));
    } else {
        snprintf(msg, sizeof msg, "Incorrect type. Expected pk value, received %s.",
                 cg_studio_py_type(v));
        cg_studio_add_error(errors, "project", msg);
        return;
    }
    cg_studio_project p;
    if (id <= 0 || cg_studio_store_project_get(app->store, id, &p) != 0) {
        snprintf(msg, sizeof msg, "Invalid pk \"%s\" - object does not exist.", shown);
        cg_studio_add_error(errors, "project", msg);
        return;
    }
    cg_studio_project_clear(&p);
    *dst = id;
}

/* Applies the body onto m. `creating` makes url and project required. Returns the errors
 * object (empty when valid). */
static json_t *validate_fields(cg_studio_app *app, json_t *body, cg_studio_mlb *m, int creating)
{
    static const char *const states[] = {"CO", "DI", "ER", "TR", "PR", NULL};
    static const char *const methods[] = {"NONE", "BASIC_AUTH", NULL};
    json_t *errors = json_object();
    field_choice(body, errors, "state", states, m->state, sizeof m->state, NULL);
    field_bool(body, errors, "is_interactive", &m->is_interactive);
    if (creating && !json_object_get(body, "url"))
        cg_studio_add_error(errors, "url", "This field is required.");
    field_str(body, errors, "url", 0, 0, &m->url);
    field_str(body, errors, "error_message", 1, 1, &m->error_message);
    field_str(body, errors, "title", 1, 1, &m->title);
    field_choice(body, errors, "auth_method", methods, NULL, 0, &m->auth_method);
    field_str(body, errors, "basic_auth_user", 1, 1, &m->basic_auth_user);
    field_str(body, errors, "description", 1, 1, &m->description);
    field_json(body, "extra_params", &m->extra_params);
    field_str(body, errors, "model_version", 1, 1, &m->model_version);
    field_number(body, errors, "timeout", &m->timeout);
    field_bool(body, errors, "auto_update", &m->auto_update);
    if (creating && !json_object_get(body, "project"))
        cg_studio_add_error(errors, "project", "This field is required.");
    field_project(app, body, errors, &m->project);
    return errors;
}

/* basic_auth_pass: absent → kept; blank → kept when one is stored, else an error; a value
 * replaces it. Returns 0, or -1 after adding the field error. */
static int apply_password(json_t *body, cg_studio_mlb *m, json_t *errors)
{
    json_t *v = json_object_get(body, "basic_auth_pass");
    if (!v) return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (!json_is_string(v) && !json_is_null(v)) {
        cg_studio_add_error(errors, "basic_auth_pass", "Not a valid string.");
        return -1;
    }
    if (strspn(s, " \t\r\n") == strlen(s)) {
        if (m->basic_auth_pass && m->basic_auth_pass[0]) return 0;
        if (m->auth_method && !strcmp(m->auth_method, "BASIC_AUTH")) {
            cg_studio_add_error(errors, "basic_auth_pass",
                                "Authentication password is required for Basic Authentication.");
            return -1;
        }
        return 0;
    }
    set_str(&m->basic_auth_pass, s);
    return 0;
}

/* ML_BLOCK_LOCAL_IP, read as Label Studio's get_bool_env (default off, as in its settings). */
static int block_local_ip(void)
{
    const char *v = getenv("ML_BLOCK_LOCAL_IP");
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "on") || !strcasecmp(v, "y"));
}

/* The reserved block (loopback, private, link-local, unspecified, shared) any of the
 * addresses falls in, or NULL. */
static const char *reserved_block(const struct addrinfo *ai)
{
    static const struct {
        uint32_t net, mask;
        const char *name;
    } v4[] = {
        {0x00000000, 0xff000000, "0.0.0.0/8"},      {0x0a000000, 0xff000000, "10.0.0.0/8"},
        {0x64400000, 0xffc00000, "100.64.0.0/10"},  {0x7f000000, 0xff000000, "127.0.0.0/8"},
        {0xa9fe0000, 0xffff0000, "169.254.0.0/16"}, {0xac100000, 0xfff00000, "172.16.0.0/12"},
        {0xc0a80000, 0xffff0000, "192.168.0.0/16"},
    };
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            uint32_t a = ntohl(((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
            for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
                if ((a & v4[i].mask) == v4[i].net) return v4[i].name;
        } else if (ai->ai_family == AF_INET6) {
            const struct in6_addr *a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
            if (IN6_IS_ADDR_LOOPBACK(a)) return "::1/128";
            if (IN6_IS_ADDR_UNSPECIFIED(a)) return "::/128";
            if (IN6_IS_ADDR_LINKLOCAL(a)) return "fe80::/10";
            if ((a->s6_addr[0] & 0xfe) == 0xfc) return "fc00::/7";
        }
    }
    return NULL;
}

/* The URL checks Label Studio makes before field validation: scheme (403), then host name
 * resolution (500). Returns 0 when the request may go on. */
static int check_url(json_t *body, cg_http_response *res)
{
    json_t *v = json_object_get(body, "url");
    if (!json_is_string(v) || !*json_string_value(v)) return 0;
    const char *url = json_string_value(v);
    while (*url == ' ') url++;
    size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!skip) {
        cg_studio_reply_error(res, 403,
                              "The provided URL was not valid. URLs must begin with "
                              "http:// or https://, and cannot be local IPs.",
                              NULL);
        return -1;
    }
    char host[256];
    const char *h = url + skip, *at = NULL;
    size_t hn = strcspn(h, "/?#");
    for (size_t i = 0; i < hn; i++)
        if (h[i] == '@') at = h + i;
    if (at) {
        hn -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (h[0] == '[') { /* [v6]:port */
        const char *end = memchr(h, ']', hn);
        hn = end ? (size_t)(end - h - 1) : 0;
        h++;
    } else {
        const char *colon = memchr(h, ':', hn);
        if (colon) hn = (size_t)(colon - h);
    }
    if (hn == 0 || hn >= sizeof host) {
        cg_studio_reply_error(res, 403,
                              "The provided URL was not valid. URLs must begin with "
                              "http:// or https://, and cannot be local IPs.",
                              NULL);
        return -1;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
        char detail[320];
        snprintf(detail, sizeof detail, "Can't resolve hostname %s", host);
        cg_studio_reply_error(res, 500, detail, NULL);
        return -1;
    }
    const char *block = block_local_ip() ? reserved_block(ai) : NULL;
    freeaddrinfo(ai);
    if (block) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "URL resolves to a reserved network address "
                 "(block: %s)",
                 block);
        cg_studio_reply_error(res, 403, detail, NULL);
        return -1;
    }
    return 0;
}

/* The serializer's validate(): basic auth completeness, then /health and /setup with the
 * submitted values. Returns 0, or -1 after replying 400 with non_field_errors. */
static int check_connection(cg_studio_app *app, cg_studio_mlb *m, cg_http_response *res)
{
    const char *msg = NULL;
    char buf[2048];
    if (m->auth_method && !strcmp(m->auth_method, "BASIC_AUTH") &&
        !(m->basic_auth_user && m->basic_auth_user[0] && m->basic_auth_pass &&
          m->basic_auth_pass[0]))
        msg = "Authentication username and password is required for Basic Authentication.";
    cg_studio_ml_reply r = {0};
    if (!msg && cg_studio_conn_health(&app->conn, m, &r) != 0) {
        if (r.status == 401)
            msg = "Able to connect to ML Server, but authentication parameters were either not "
                  "provided or are incorrect.";
        else {
            snprintf(buf, sizeof buf,
                     "Can't connect to ML backend %s, health check failed. "
                     "Make sure it is up and your firewall is properly configured. <a href=\""
                     "https://labelstud.io/guide/ml.html\">Learn more</a> about how to set up "
                     "an ML backend. Additional info: %s",
                     m->url, r.error);
            msg = buf;
        }
    }
    cg_studio_ml_reply_clear(&r);
    if (!msg && cg_studio_conn_setup(&app->conn, m, &r) != 0) {
        snprintf(buf, sizeof buf,
                 "Successfully connected to %s but it doesn't look like a valid "
                 "ML backend. Reason: %s.\nCheck the ML backend server console logs to check the "
                 "status.There might be something wrong with your model or it might be "
                 "incompatible with the current labeling configuration.",
                 m->url, r.error);
        msg = buf;
    }
    cg_studio_ml_reply_clear(&r);
    if (!msg) return 0;
    cg_studio_reply_error(res, 400, "Validation error",
                          json_pack("{s:[s]}", "non_field_errors", msg));
    return -1;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

void cg_studio_api_ml_list(cg_studio_app *app, const cg_http_request *req, cg_http_response *res)
{
    const char *pq = cg_http_query(req, "project");
    if (!pq) {
        cg_studio_reply_error(res, 404, "No Project matches the given query.", NULL);
        return;
    }
    int64_t project = cg_studio_parse_id(pq);
    if (!project) {
        cg_studio_reply_error(res, 404, "Not found.", NULL);
        return;
    }
    if (cg_studio_project_or_404(app, project, NULL, res) != 0) return;
    int interactive = -1;
    const char *iq = cg_http_query(req, "is_interactive");
    if (iq && (!strcasecmp(iq, "true") || !strcmp(iq, "1"))) interactive = 1;
    else if (iq && (!strcasecmp(iq, "false") || !strcmp(iq, "0"))) interactive = 0;
    int64_t *ids = NULL;
    size_t n = 0;
    if (cg_studio_store_mlb_ids(app->store, project, interactive, &ids, &n) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        return;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        cg_studio_mlb m;
        if (cg_studio_store_mlb_get(app->store, ids[i], &m) != 0) continue;
        cg_studio_ml_update_state(&app->conn, &m);
        json_array_append_new(out, cg_studio_mlb_json(&m));
        cg_studio_mlb_clear(&m);
    }
    free(ids);
    cg_studio_reply(res, 200, out);
}

/* What create and update both check before saving, in Label Studio's order: the URL
 * scheme, the fields (and the password rules), then health + setup of the backend.
 * 0 when all pass; otherwise res holds the error reply. */
static int check_backend(cg_studio_app *app, json_t *body, cg_studio_mlb *m, int creating,
                         cg_http_response *res)
{
    if (check_url(body, res) != 0) return -1;
    json_t *errors = validate_fields(app, body, m, creating);
    if (json_object_size(errors) == 0) apply_password(body, m, errors);
    if (json_object_size(errors) > 0) {
        cg_studio_reply_error(res, 400, "Validation error", errors);
        return -1;
    }
    json_decref(errors);
    return check_connection(app, m, res);
}

/* perform_create: a project showing collaborators' predictions with no model_version takes
 * the new backend's title as its model_version. */
static void default_model_version(cg_studio_app *app, const cg_studio_mlb *m)
{
    cg_studio_project p;
    if (cg_studio_store_project_get(app->store, m->project, &p) != 0) return;
    if (p.show_collab_predictions && (!p.model_version || !*p.model_version) && m->title)
        cg_studio_store_project_set_model_version(app->store, m->project, m->title);
    cg_studio_project_clear(&p);
}

void cg_studio_api_ml_create(cg_studio_app *app, const cg_http_request *req, cg_http_response *res)
{
    json_t *body = cg_studio_object_body(req, res);
    if (!body) return;
    if (cg_studio_body_is_form(req)) {
        /* Django REST framework reads a boolean left out of an HTML form as false. */
        if (!json_object_get(body, "is_interactive"))
            json_object_set_new(body, "is_interactive", json_false());
        if (!json_object_get(body, "auto_update"))
            json_object_set_new(body, "auto_update", json_false());
    }
    cg_studio_mlb m = {.timeout = 100.0, .auto_update = 1};
    snprintf(m.state, sizeof m.state, "DI");
    m.title = strdup("default");
    m.auth_method = strdup("NONE");
    m.basic_auth_user = strdup("");
    m.description = strdup("");
    m.model_version = strdup("");
    if (check_backend(app, body, &m, 1, res) != 0) goto create_out;
    if (cg_studio_store_mlb_create(app->store, &m) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        goto create_out;
    }
    cg_studio_ml_update_state(&app->conn, &m);
    char hook[2048];
    size_t ul = strlen(m.url);
    snprintf(hook, sizeof hook, "%s%swebhook", m.url, ul && m.url[ul - 1] == '/' ? "" : "/");
    cg_studio_store_webhook_ensure(app->store, m.project, hook);
    default_model_version(app, &m);
    cg_log(CG_LOG_INFO, "studio", "ML backend %lld added to project %lld (%s, state %s)",
           (long long)m.id, (long long)m.project, m.url, m.state);
    cg_studio_reply(res, 201, cg_studio_mlb_json(&m));
    cg_http_response_header(res, "Location", m.url);
create_out:
    cg_studio_mlb_clear(&m);
    json_decref(body);
}

/* load_mlb, then update_state (Label Studio refreshes the state on every read). */
static int load_fresh_mlb(cg_studio_app *app, int64_t id, cg_studio_mlb *m, cg_http_response *res)
{
    if (load_mlb(app, id, m, res) != 0) return -1;
    cg_studio_ml_update_state(&app->conn, m);
    return 0;
}

void cg_studio_api_ml_get(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_fresh_mlb(app, id, &m, res) != 0) return;
    cg_studio_reply(res, 200, cg_studio_mlb_json(&m));
    cg_studio_mlb_clear(&m);
}

/* A project's model_version follows its backend's title: when it is old_title (not NULL),
 * it becomes new_title (NULL: ""). */
static void follow_title(cg_studio_app *app, int64_t project, const char *old_title,
                         const char *new_title)
{
    cg_studio_project p;
    if (!old_title || cg_studio_store_project_get(app->store, project, &p) != 0) return;
    if (p.model_version && !strcmp(p.model_version, old_title))
        cg_studio_store_project_set_model_version(app->store, project, new_title);
    cg_studio_project_clear(&p);
}

void cg_studio_api_ml_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                             cg_http_response *res)
{
    cg_studio_mlb m;
    json_t *body = cg_studio_object_body(req, res);
    if (!body) return;
    if (load_fresh_mlb(app, id, &m, res) != 0) {
        json_decref(body);
        return;
    }
    char *old_title = m.title ? strdup(m.title) : NULL;
    if (check_backend(app, body, &m, 0, res) != 0) goto update_out;
    if (cg_studio_store_mlb_save(app->store, &m) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        goto update_out;
    }
    if (old_title && (!m.title || strcmp(old_title, m.title)))
        follow_title(app, m.project, old_title, m.title);
    cg_studio_ml_update_state(&app->conn, &m);
    cg_studio_reply(res, 200, cg_studio_mlb_json(&m));
update_out:
    free(old_title);
    cg_studio_mlb_clear(&m);
    json_decref(body);
}

void cg_studio_api_ml_delete(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_fresh_mlb(app, id, &m, res) != 0) return;
    follow_title(app, m.project, m.title, "");
    if (cg_studio_store_mlb_delete(app->store, id) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
    } else {
        res->status = 204;
        res->content_type = NULL;
        cg_log(CG_LOG_INFO, "studio", "ML backend %lld removed", (long long)id);
    }
    cg_studio_mlb_clear(&m);
}

void cg_studio_api_ml_interactive(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res)
{
    cg_studio_mlb m;
    cg_studio_project p = {0};
    char *text = NULL;
    cg_studio_ml_reply r = {0};
    json_t *body = cg_studio_object_body(req, res);
    if (!body) return;
    if (load_mlb(app, id, &m, res) != 0) {
        json_decref(body);
        return;
    }
    json_t *tv = json_object_get(body, "task");
    int64_t task = json_is_integer(tv)  ? json_integer_value(tv)
                   : json_is_string(tv) ? cg_studio_parse_id(json_string_value(tv))
                                        : 0;
    if (!tv) {
        cg_studio_reply_field_error(res, "task", "This field is required.");
        goto interactive_out;
    }
    if (task <= 0 && !json_is_integer(tv)) {
        cg_studio_reply_field_error(res, "task", "A valid integer is required.");
        goto interactive_out;
    }
    int64_t task_project = 0;
    if (task <= 0 || cg_studio_store_task_project(app->store, task, &task_project) != 0 ||
        task_project != m.project) {
        cg_studio_reply_error(res, 404, "No Task matches the given query.", NULL);
        goto interactive_out;
    }
    const char *err = NULL;
    if (!m.is_interactive) err = "Model is not set to be used for interactive preannotations";
    else if (cg_studio_store_project_get(app->store, m.project, &p) != 0) err = "project not found";
    json_t *t = err ? NULL : cg_studio_store_task_json(app->store, task);
    if (!err && !t) err = "task not found";
    if (!err) {
        text = cg_studio_predict_body(&p, json_pack("[o]", t), json_object_get(body, "context"));
        if (!text) err = "out of memory";
        else if (cg_studio_conn_predict(&app->conn, &m, text, &r) != 0) err = r.error;
    }
    if (err) {
        cg_studio_reply(res, 200, json_pack("{s:[s]}", "errors", err));
        goto interactive_out;
    }
    json_t *results = json_object_get(r.json, "results");
    if (!json_is_object(r.json) || !results)
        cg_studio_reply(
            res, 200,
            json_pack("{s:[s]}", "errors",
                      "Incorrect response from ML "
                      "service: ML backend returns an incorrect response, it must be a dict."));
    else if (!json_is_array(results) || json_array_size(results) == 0)
        cg_studio_reply(
            res, 200,
            json_pack("{s:[s]}", "errors",
                      "Incorrect response from ML "
                      "service: ML backend has to return list with more than 1 result."));
    else cg_studio_reply(res, 200, json_pack("{s:O}", "data", json_array_get(results, 0)));
interactive_out:
    cg_studio_ml_reply_clear(&r);
    free(text);
    cg_studio_project_clear(&p);
    cg_studio_mlb_clear(&m);
    json_decref(body);
}

void cg_studio_api_ml_predict(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_mlb(app, id, &m, res) != 0) return;
    const char *bq = cg_http_query(req, "batch_size");
    long long batch = 100;
    if (bq) {
        char *end;
        batch = strtoll(bq, &end, 10);
        if (!*bq || *end) {
            cg_studio_reply_field_error(res, "batch_size", "A valid integer is required.");
            goto predict_out;
        }
        if (batch < 1) {
            cg_studio_reply_field_error(res, "batch_size",
                                        "Ensure this value is greater than or equal to 1.");
            goto predict_out;
        }
        if (batch > 10000) {
            cg_studio_reply_field_error(res, "batch_size",
                                        "Ensure this value is less than or equal to 10000.");
            goto predict_out;
        }
    }
    cg_studio_job j;
    if (cg_studio_jobs_submit(app->jobs, &m, (int)batch, &j) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        goto predict_out;
    }
    json_t *o = json_pack("{s:s,s:o}", "detail", "Predictions have successfully started.", "job",
                          cg_studio_job_json(&j));
    cg_studio_job_clear(&j);
    cg_studio_reply(res, 200, o);
predict_out:
    cg_studio_mlb_clear(&m);
}

void cg_studio_api_ml_predict_status(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_mlb(app, id, &m, res) != 0) return;
    cg_studio_mlb_clear(&m);
    cg_studio_job j;
    int rc = cg_studio_store_job_latest(app->store, id, &j);
    if (rc != 0) {
        cg_studio_reply_lookup_error(res, rc, "No prediction job has run for this ML backend.");
        return;
    }
    cg_studio_reply(res, 200, cg_studio_job_json(&j));
    cg_studio_job_clear(&j);
}

void cg_studio_api_ml_train(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_mlb(app, id, &m, res) != 0) return;
    cg_studio_ml_reply r = {0};
    if (cg_studio_conn_train(&app->conn, &m, &r) != 0) {
        snprintf(m.state, sizeof m.state, "ER");
        set_str(&m.error_message, r.error);
        cg_log(CG_LOG_WARN, "studio", "ML backend %lld: training failed to start: %s",
               (long long)id, m.error_message);
    } else {
        snprintf(m.state, sizeof m.state, "TR");
        cg_log(CG_LOG_INFO, "studio", "ML backend %lld: training started", (long long)id);
    }
    cg_studio_store_mlb_save(app->store, &m);
    cg_studio_ml_reply_clear(&r);
    cg_studio_mlb_clear(&m);
    res->status = 200;
    res->content_type = NULL;
    cg_buf_reset(&res->body);
}

void cg_studio_api_ml_versions(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    cg_studio_mlb m;
    if (load_mlb(app, id, &m, res) != 0) return;
    cg_studio_ml_reply r;
    if (cg_studio_conn_versions(&app->conn, &m, &r) == 0) {
        json_t *v = json_object_get(r.json, "versions");
        cg_studio_reply(res, 200,
                        json_pack("{s:o}", "versions", v ? json_incref(v) : json_array()));
    } else if (r.status == 404) {
        cg_studio_reply(res, 200,
                        json_pack("{s:[o],s:s}", "versions",
                                  m.model_version ? json_string(m.model_version) : json_null(),
                                  "message", "Upgrade your ML backend version to latest."));
    } else {
        cg_studio_reply(res, r.status ? (int)r.status : 500, json_pack("{s:s}", "error", r.error));
    }
    cg_studio_ml_reply_clear(&r);
    cg_studio_mlb_clear(&m);
}

/* POST /api/ml/{id}/predict/test?random=true — Label Studio's internal check: one random
 * task of the project goes to the backend's /predict; the answer says what happened. */
void cg_studio_api_ml_predict_test(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                   cg_http_response *res)
{
    const char *random = cg_http_query(req, "random");
    if (!random || (strcasecmp(random, "true") && strcmp(random, "1"))) {
        cg_studio_reply(res, 501,
                        json_pack("{s:s}", "error",
                                  "Not implemented - you must "
                                  "provide random=true query parameter"));
        return;
    }
    cg_studio_mlb m;
    if (load_mlb(app, id, &m, res) != 0) return;
    cg_studio_project p = {0};
    int64_t task = 0;
    json_t *t = NULL;
    if (cg_studio_store_project_get(app->store, m.project, &p) != 0 ||
        cg_studio_store_random_task(app->store, m.project, &task) != 0 ||
        !(t = cg_studio_store_task_json(app->store, task))) {
        cg_studio_reply_error(res, 404, "No Task matches the given query.", NULL);
        goto predict_test_out;
    }
    char *text = cg_studio_predict_body(&p, json_pack("[o]", t), NULL);
    char url[2100];
    size_t ul = strlen(m.url);
    snprintf(url, sizeof url, "%s%spredict", m.url, ul && m.url[ul - 1] == '/' ? "" : "/");
    cg_studio_ml_reply r = {0};
    if (!text) {
        cg_studio_reply_error(res, 500, "out of memory", NULL);
        goto predict_test_out;
    }
    int rc = cg_studio_conn_predict(&app->conn, &m, text, &r);
    free(text);
    cg_studio_reply(res, 200,
                    json_pack("{s:s,s:I,s:s?,s:O?}", "url", url, "status", (json_int_t)r.status,
                              "error", rc ? r.error : NULL, "response", r.json));
    cg_studio_ml_reply_clear(&r);
predict_test_out:
    cg_studio_project_clear(&p);
    cg_studio_mlb_clear(&m);
}
