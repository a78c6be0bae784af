/*
 * spec.h — a Naftiko capability, loaded, validated and resolved.
 *
 * cg_spec_load() reads a capability YAML file (naftiko 1.0.0-alpha2) into an immutable
 * model. Everything that can be decided before the first request is decided here, once:
 * which consumed operation each exposed operation or tool calls, where each consumed input
 * gets its value from (a `with:` entry, a literal template, or nothing), which incoming
 * values (REST parameters, MCP tool arguments) exist and with what type, and how each path
 * template splits into literal text and placeholders. Adapters never look at YAML.
 *
 * Validation reports every problem it finds, not just the first, as lines of
 * "file:line:col: message" appended to a caller-supplied buffer; the loader never prints.
 *
 * Ownership: a loaded cg_spec owns every string and array reachable from it (one arena);
 * cg_spec_free() releases all of it. The model is read-only after loading and may be shared
 * by any number of threads.
 *
 * capgate's semantics for the spec's constructs are documented in docs/spec-semantics.md.
 */
#ifndef CG_SPEC_H
#define CG_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

typedef enum {
    CG_SPEC_OK = 0,
    CG_SPEC_EIO,      /* the file could not be read */
    CG_SPEC_EINVALID, /* not a valid capability: messages were appended to errors */
    CG_SPEC_ENOMEM,
} cg_spec_result;

typedef enum {
    CG_IN_QUERY,
    CG_IN_HEADER,
    CG_IN_PATH,
    CG_IN_BODY, /* the whole JSON request body */
    CG_IN_COOKIE,
    CG_IN_ENVIRONMENT, /* read from the process environment */
} cg_location;

typedef enum {
    CG_TYPE_STRING,
    CG_TYPE_INTEGER,
    CG_TYPE_NUMBER,
    CG_TYPE_BOOLEAN,
    CG_TYPE_OBJECT,
    CG_TYPE_ARRAY,
} cg_type;

/* A `{{...}}` template, split once. A part is literal text or a variable reference.
 * Variables are names as written inside the braces, trimmed ("env.KEY", "KEY", "id"). */
typedef struct cg_template_part {
    const char *text; /* literal text, or the variable name */
    size_t len;
    bool is_variable;
} cg_template_part;

typedef struct cg_template {
    const char *source; /* the template as written */
    cg_template_part *parts;
    size_t n_parts;
} cg_template;

/* One input of a consumed operation. */
typedef struct cg_input {
    const char *name;
    cg_location in;
    cg_type type;            /* CG_TYPE_STRING when the spec says nothing */
    const char *description; /* NULL when absent */
    bool required;
    bool is_credential;       /* the header or query parameter the consumed API's
                                 * authentication writes (e.g. Authorization): filled from
                                 * the caller's own credential or the configured one, never
                                 * a tool argument */
    const cg_template *value; /* the spec's `value:` template, or NULL */
    int line, col;            /* where it was declared */
} cg_input;

/* A path template such as /api/ml/{id}/train, split into literal text and placeholders.
 * Both {id} and {{id}} are placeholders. */
typedef struct cg_path_part {
    const char *literal; /* literal text, or NULL for a placeholder */
    const char *name;    /* placeholder name, or NULL for literal text */
    int input;           /* for a consumed path: index of the cg_input the
                                 * placeholder takes; -1 otherwise */
} cg_path_part;

struct cg_jsonpath;

/* One output parameter: a tree. A value comes from (first that applies) the static `value`
 * template, the `mapping` JSONPath (relative to the enclosing array element or mapped
 * object; the upstream body at the top), or for an object its `properties`. See
 * docs/spec-semantics.md, "Output shaping". */
typedef struct cg_output {
    const char *name; /* NULL when absent (the top-level output, array items) */
    cg_type type;
    bool typed;                     /* `type` was written (else no coercion, any in schemas) */
    const char *mapping;            /* JSONPath as written, or NULL */
    const struct cg_jsonpath *path; /* mapping, compiled; NULL when absent */
    const cg_template *value;       /* static value (Mustache over the call's inputs), or NULL */
    const char *const_json;         /* `const` as JSON text (schemas only), or NULL */
    struct cg_output *properties;   /* object members, in spec order */
    size_t n_properties;
    struct cg_output *items; /* array element shape, or NULL */
    long max_length;         /* strings: truncate to this many characters; -1: none */
    bool by_name;            /* no mapping: the context object's member of this name
                                 * (orchestrated outputs, filled from the mappings) */
    const char *description;
    int line, col;
} cg_output;

/* True when the output passes the upstream body through untouched: mapping `$` or `$.`,
 * no value, properties or items. */
bool cg_output_is_passthrough(const cg_output *o);

typedef enum {
    CG_AUTH_NONE,
    CG_AUTH_APIKEY,
    CG_AUTH_BEARER,
    CG_AUTH_BASIC,
    CG_AUTH_DIGEST,
    CG_AUTH_OAUTH2,
} cg_auth_type;

typedef struct cg_auth {
    cg_auth_type type;
    const char *key;                        /* apikey: header or query parameter name */
    bool in_query;                          /* apikey: placement query (default header) */
    const cg_template *value;               /* apikey value */
    const cg_template *token;               /* bearer token */
    const cg_template *username, *password; /* basic, digest */
    /* oauth2 (docs/spec-semantics.md): on consumes, client credentials at token_endpoint
     * with client_id/client_secret (capgate's keys beyond the schema); on exposes, a
     * resource server checking JWTs from authorization_server for audience/resource */
    const char *authorization_server; /* authorizationServerUri */
    const char *resource;             /* RFC 8707 resource URI */
    const char *audience;             /* expected aud; NULL = resource */
    const char *token_endpoint;       /* tokenEndpoint */
    const char **scopes;
    size_t n_scopes;
    bool introspection; /* tokenValidation: introspection */
    const cg_template *client_id, *client_secret;
} cg_auth;

struct cg_consumes;

/* A consumed operation's request body, as its `body:` declares it. Every string is a
 * template over the call's parameters ({{name}}: a string value goes in as is, a JSON
 * array or object as JSON text). */
typedef enum {
    CG_BODY_NONE,
    CG_BODY_JSON,      /* application/json: data (a string, or an inline object or
                                 * array written out as JSON text) */
    CG_BODY_TEXT,      /* text/plain */
    CG_BODY_XML,       /* application/xml */
    CG_BODY_SPARQL,    /* application/sparql-query */
    CG_BODY_FORM,      /* application/x-www-form-urlencoded: data pre-encoded, or
                                 * parts (name = value, each value encoded) */
    CG_BODY_MULTIPART, /* multipart/form-data: parts */
    CG_BODY_RAW,       /* a plain `body: |` string: sent as JSON unless an input
                                 * sets Content-Type */
} cg_body_kind;

typedef struct cg_body_part {
    const char *name;
    const cg_template *value;
    const char *filename;     /* multipart: a file part's name, or NULL */
    const char *content_type; /* multipart: the part's type, or NULL */
} cg_body_part;

typedef struct cg_body {
    cg_body_kind kind;
    const cg_template *data; /* NULL for parts-only forms and multipart */
    cg_body_part *parts;
    size_t n_parts;
} cg_body;

/* One operation of a consumed HTTP API. */
typedef struct cg_operation {
    const char *name;
    const char *method; /* upper case: GET POST PUT PATCH DELETE */
    const char *description;
    const char *resource; /* the resource's name */
    const char *path;     /* the resource's path as written */
    cg_path_part *path_parts;
    size_t n_path_parts;
    cg_input *inputs;
    size_t n_inputs;
    cg_output *outputs;
    size_t n_outputs;
    const char *output_format; /* outputRawFormat; "json" by default */
    const cg_body *body;       /* the `body:` template, or NULL */
    const char *output_schema; /* outputSchema: HTML CSS selector, Markdown section
                                 * prefix, Avro schema file; NULL when absent */
    const struct cg_consumes *api;
} cg_operation;

typedef struct cg_consumes {
    const char *namespace_;
    const char *base_uri; /* as written, no trailing slash */
    const char *description;
    cg_input *inputs; /* its own inputParameters (each operation has them too);
                                 * what a forwarded request gets */
    size_t n_inputs;
    cg_operation *ops;
    size_t n_ops;
    cg_auth auth;
} cg_consumes;

/* Where a consumed input's value comes from on one exposed call. */
typedef enum {
    CG_SOURCE_NONE,     /* nothing: the input's own template, auth, or omitted */
    CG_SOURCE_ARGUMENT, /* the incoming value named `argument` (rest.x, tools.x) */
    CG_SOURCE_LITERAL,  /* a literal `with:` template ({{...}} resolved) */
} cg_source_kind;

typedef struct cg_binding {
    cg_source_kind kind;
    const char *argument;       /* CG_SOURCE_ARGUMENT: incoming value name */
    const cg_template *literal; /* CG_SOURCE_LITERAL */
} cg_binding;

/* An incoming value an exposed operation or tool accepts, derived from the `with:`
 * entries that read one and the consumed input each feeds. */
typedef struct cg_argument {
    const char *name;
    cg_type type;
    const char *description; /* from the consumed input; NULL when none */
    bool required;
    cg_location in;                      /* REST: where the caller puts it (path, query, header,
                                 * body); MCP: the consumed input's location */
    int input;                           /* index of the consumed input it feeds (-1: it feeds
                                 * templates, steps or mocks by name) */
    const struct cg_jsonpath *body_path; /* REST `in: body` with `value: $.a.b`: where in
                                             * the JSON body it is (else the member of its
                                             * name) */
    bool is_credential;                  /* feeds the credential input: taken from the caller's
                                 * Authorization, never listed as a tool argument */
} cg_argument;

/* A `with:` entry whose key names no input of the consumed operation: a named value the
 * operation's templates (path, body, input values) may use, as in the reference engine's
 * `with: {shipImo: shipyard-tools.shipImo}` feeding a body's {{shipImo}}. */
typedef struct cg_param {
    const char *name;
    cg_binding binding;
} cg_param;

struct cg_step;

/* `mappings:` of an orchestrated operation: an output named target takes the JSONPath
 * value over the steps' results ($.<step name>...). */
typedef struct cg_mapping {
    const char *target;
    const char *value;
    const struct cg_jsonpath *path; /* value, compiled */
} cg_mapping;

/* An exposed operation or tool's resolved `call:` + `with:` (simple mode), or its
 * `steps:` + `mappings:` (orchestrated mode; op is NULL), or neither (mock mode: the
 * outputs' static values are the answer). */
typedef struct cg_call {
    const cg_operation *op;
    cg_param *params; /* with: entries that feed templates, not inputs */
    size_t n_params;
    const struct cg_step *steps;
    size_t n_steps;
    const cg_mapping *mappings;
    size_t n_mappings;
    cg_binding *bindings;   /* one per op->inputs[i], same order */
    cg_argument *arguments; /* incoming values: those feeding op->inputs in their order,
                                 * then the other declared ones */
    size_t n_arguments;
    size_t cap_arguments;     /* (loader only) */
    const cg_output *outputs; /* the exposed outputParameters (may be empty) */
    size_t n_outputs;
    bool mock; /* no `call`: op is NULL and the answer is built from the
                                 * outputs' static values alone (mock mode) */
} cg_call;

typedef enum { CG_STEP_CALL, CG_STEP_LOOKUP, CG_STEP_SCRIPT } cg_step_kind;

/* One step of an orchestrated operation. Its result is named after it for later steps
 * and mappings ($.<name>...). */
typedef struct cg_step {
    const char *name;
    cg_step_kind kind;
    cg_call call;                          /* call: the consumed operation and its with: (arguments
                                 * are the exposed operation's) */
    const char *index;                     /* lookup: the earlier step whose array is the table */
    const char *match;                     /* lookup: the key field of the table's entries */
    const char *lookup_value;              /* lookup: JSONPath to the value(s) to look up */
    const struct cg_jsonpath *lookup_path; /* lookup_value, compiled */
    const char **fields;                   /* lookup: the fields copied from each matching entry */
    size_t n_fields;
    const char *language;      /* script: javascript, python (NULL: the control port's
                                 * default) */
    const char *location;      /* script: file:/// directory (NULL: the default) */
    const char *file;          /* script: the script, relative to location */
    const char **dependencies; /* script: files loaded before it, relative to location */
    size_t n_dependencies;
    cg_param *with; /* script: named values given to the script */
    size_t n_with;
    int line, col;
} cg_step;

typedef struct cg_rest_operation {
    const char *method;
    const char *name;
    const char *description;
    cg_call call;
} cg_rest_operation;

typedef struct cg_rest_resource {
    const char *forward; /* forward mode: the consumes namespace requests under this
                                 * path are relayed to (ops is then empty), else NULL */
    const struct cg_consumes *forward_api; /* forward mode: that namespace, resolved */
    const char **trusted_headers;          /* forward mode: the request headers passed on */
    size_t n_trusted_headers;
    const char *path; /* as written, e.g. /v1/api/ml/{id} */
    const char *name;
    const char *description;
    cg_path_part *path_parts; /* placeholders name incoming path arguments */
    size_t n_path_parts;
    cg_rest_operation *ops;
    size_t n_ops;
} cg_rest_resource;

typedef struct cg_rest_adapter {
    const char *namespace_;
    int port;
    const char *address; /* NULL: capgate's default (127.0.0.1) */
    const char *description;
    cg_auth auth; /* inbound authentication; type CG_AUTH_NONE when absent */
    cg_rest_resource *resources;
    size_t n_resources;
} cg_rest_adapter;

/* A hint as written: -1 when absent, else 0 or 1. */
typedef struct cg_tool_hints {
    signed char read_only, destructive, idempotent, open_world;
} cg_tool_hints;

typedef struct cg_tool {
    const char *name;
    const char *title; /* hints.label / label, or NULL */
    const char *description;
    cg_tool_hints hints;
    cg_call call;
} cg_tool;

/* An MCP resource: dynamic (call/steps, like a tool without arguments beyond the URI
 * template's) or static (location: a file:/// file or directory served as is). */
typedef struct cg_mcp_resource {
    const char *name;
    const char *title;
    const char *uri; /* may hold {param} placeholders: a resource template */
    const char *description;
    const char *mime_type;
    const char *location; /* static: file:/// path, else NULL */
    bool is_template;
    cg_call call;
    int line, col;
} cg_mcp_resource;

typedef struct cg_prompt_argument {
    const char *name;
    const char *title;
    const char *description;
    bool required;
} cg_prompt_argument;

typedef struct cg_prompt_message {
    const char *role;           /* user or assistant */
    const cg_template *content; /* {{argument}} placeholders */
} cg_prompt_message;

typedef struct cg_mcp_prompt {
    const char *name;
    const char *title;
    const char *description;
    cg_prompt_argument *arguments;
    size_t n_arguments;
    cg_prompt_message *messages; /* inline template, or */
    size_t n_messages;
    const char *location; /* a file:/// file whose text is one user message */
} cg_mcp_prompt;

typedef struct cg_mcp_adapter {
    const char *namespace_;
    int port; /* 0 for stdio */
    const char *address;
    bool stdio; /* transport: stdio (default http) */
    const char *description;
    cg_auth auth; /* inbound authentication; type CG_AUTH_NONE when absent */
    cg_tool *tools;
    size_t n_tools;
    cg_mcp_resource *resources;
    size_t n_resources;
    cg_mcp_prompt *prompts;
    size_t n_prompts;
} cg_mcp_adapter;

/* A tool a skill lists: derived from a sibling adapter's operation or tool (from), or an
 * instruction file relative to the skill's location. */
typedef struct cg_skill_tool {
    const char *name;
    const char *description;
    const char *source_namespace; /* from.sourceNamespace, or NULL */
    const char *action;           /* from.action */
    const char *instruction;      /* or an instruction file */
} cg_skill_tool;

typedef struct cg_skill {
    const char *name;
    const char *description;
    const char *license;
    const char *compatibility;
    const char *allowed_tools;
    const char *argument_hint;
    signed char user_invocable, disable_model_invocation; /* -1 when absent */
    const char **metadata;                                /* key, value, key, value ... */
    size_t n_metadata;
    const char *location; /* file:/// directory of the skill's files, or NULL */
    cg_skill_tool *tools;
    size_t n_tools;
} cg_skill;

/* `type: skill`: a read-only catalog of skills over HTTP (see docs/skill.md). */
typedef struct cg_skill_adapter {
    const char *namespace_;
    int port;
    const char *address;
    const char *description;
    cg_skill *skills;
    size_t n_skills;
} cg_skill_adapter;

/* `type: control`: the management and observability port. */
typedef struct cg_control_adapter {
    int port;
    const char *address;
    bool health, info, reload, validate, logs, log_level_control, log_stream;
    int log_max_subscribers;
    bool has_scripting;            /* management.scripting is present */
    bool scripting;                /* script steps allowed */
    const char *script_location;   /* defaultLocation (file:///), or NULL */
    const char *script_language;   /* defaultLanguage, or NULL */
    long script_timeout_ms;        /* 0: capgate's default */
    long script_statement_limit;   /* 0: capgate's default */
    const char **script_languages; /* allowedLanguages (none: all capgate runs) */
    size_t n_script_languages;
    bool observability, metrics, traces;
    double trace_sampling;         /* 0..1 */
    const char *trace_propagation; /* e.g. tracecontext */
    int trace_buffer;              /* local trace buffer size */
    const char *otlp_endpoint;     /* OTLP/HTTP endpoint, or NULL */
} cg_control_adapter;

typedef struct cg_bind_key {
    const char *name;       /* the variable templates use: {{name}} / {{ns.name}} */
    const char *source;     /* environment variable (or key in `location`) */
    const char *file_value; /* a `location` bind's value, read at load time; NULL for
                                 * environment binds, which are read at each lookup */
} cg_bind_key;

typedef struct cg_bind {
    const char *namespace_;
    const char *location; /* NULL: the environment */
    cg_bind_key *keys;
    size_t n_keys;
} cg_bind;

typedef struct cg_spec {
    const char *file;    /* path it was loaded from */
    const char *naftiko; /* spec version */
    const char *label;
    const char *description;
    const char **tags;
    size_t n_tags;
    cg_bind *binds;
    size_t n_binds;
    cg_consumes *consumes;
    size_t n_consumes;
    cg_rest_adapter *rest;
    size_t n_rest;
    cg_mcp_adapter *mcp;
    size_t n_mcp;
    cg_skill_adapter *skill;
    size_t n_skill;
    cg_control_adapter *control; /* at most one, or NULL */
    void *_arena;                /* private: owns everything above */
} cg_spec;

/* Loads and validates the capability at path. On success *out is the model (free with
 * cg_spec_free) and CG_SPEC_OK is returned. Otherwise *out is NULL, and for
 * CG_SPEC_EIO / CG_SPEC_EINVALID one "file:line:col: message" line per problem (or
 * "file: message" when there is no position) is appended to errors, which may be NULL. */
cg_spec_result cg_spec_load(const char *path, cg_spec **out, cg_buf *errors);

/* The same for a document in memory; name is used in messages. */
cg_spec_result cg_spec_load_string(const char *name, const char *text, size_t len, cg_spec **out,
                                   cg_buf *errors);

void cg_spec_free(cg_spec *spec);

/* Lookups. NULL when absent. */
const cg_operation *cg_spec_find_operation(const cg_spec *spec, const char *namespace_,
                                           const char *name);
const cg_tool *cg_spec_find_tool(const cg_mcp_adapter *mcp, const char *name);

/* The value of a bound variable: `name` may be "KEY" or "namespace.KEY". Reads the
 * environment (or the bind's location file) each call; NULL when unbound or unset. */
const char *cg_spec_bind_value(const cg_spec *spec, const char *name);

/* Appends one warning line per bound variable that has no value now (e.g. an unset
 * environment variable), naming the variable and where it is declared. Returns how many. */
int cg_spec_check_binds(const cg_spec *spec, cg_buf *warnings);

/* Text names for enums, as written in specs: "query", "integer", "apikey", ... */
const char *cg_location_name(cg_location in);
const char *cg_type_name(cg_type type);
const char *cg_auth_type_name(cg_auth_type type);

#endif
