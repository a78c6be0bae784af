/*
 * cli.c — `capgate validate`, `capgate tools` and `capgate routes`.
 *
 * They load specs exactly as `capgate serve` does, so a spec that validates here is a spec
 * serve accepts, and what `tools` prints is byte for byte what tools/list returns.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "common/options.h"
#include "mcp/tool_schema.h"
#include "spec/spec.h"

/* Reads the command line with the parser every command uses (common/options.h): the
 * positional arguments are gathered in place at argv + 1 and *n is their count. Returns 1
 * after --help (usage printed), -1 on an unknown option (error and usage on stderr), else
 * 0. Options end at "--". */
static int read_args(int argc, char **argv, const char *usage, int *n)
{
    cg_opts c;
    cg_opts_init(&c, argv[0], argc, argv);
    *n = 0;
    while (cg_opts_next(&c)) {
        if (c.arg) {
            argv[1 + (*n)++] = (char *)c.arg; /* never past the item being read */
        } else if (cg_opts_is_help(&c)) {
            fputs(usage, stdout);
            return 1;
        } else {
            cg_opts_unknown(&c);
            fputs(usage, stderr);
            return -1;
        }
    }
    return 0;
}

static cg_spec *load_or_report(const char *path)
{
    cg_buf errors = CG_BUF_INIT;
    cg_spec *spec = NULL;
    cg_spec_result rc = cg_spec_load(path, &spec, &errors);
    if (rc != CG_SPEC_OK) {
        if (rc == CG_SPEC_ENOMEM) fprintf(stderr, "%s: out of memory\n", path);
        else fputs(errors.data ? errors.data : "", stderr);
    }
    cg_buf_free(&errors);
    return spec;
}

/* The [FILE] argument of tools and routes: loads it (default: the shipped capability).
 * Returns the exit code to use when *spec is NULL (0 after --help, 1 invalid, 2 usage). */
/* The commands that print one spec (`tools`, `routes`): reads their one FILE argument,
 * loads it and has print show it. The exit code: 0, 1 (the spec does not load) or 2. */
static int print_one_spec(int argc, char **argv, const char *usage, void (*print)(const cg_spec *))
{
    int n;
    int o = read_args(argc, argv, usage, &n);
    if (o) return o > 0 ? 0 : 2;
    if (n > 1) {
        fprintf(stderr, "capgate %s: one file at a time\n%s", argv[0], usage);
        return 2;
    }
    cg_spec *spec = load_or_report(n ? argv[1] : CG_DEFAULT_SPEC);
    if (!spec) return 1;
    print(spec);
    cg_spec_free(spec);
    return 0;
}

static size_t count_operations(const cg_spec *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_consumes; i++) n += s->consumes[i].n_ops;
    return n;
}

static void count_routes(const cg_spec *s, size_t *routes, size_t *ops)
{
    *routes = *ops = 0;
    for (size_t i = 0; i < s->n_rest; i++)
        for (size_t r = 0; r < s->rest[i].n_resources; r++) {
            (*routes)++;
            *ops += s->rest[i].resources[r].n_ops;
        }
}

static size_t count_tools(const cg_spec *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_mcp; i++) n += s->mcp[i].n_tools;
    return n;
}

/* Validates one file; 0 when it is valid. */
static int validate_one(const char *file)
{
    cg_spec *spec = load_or_report(file);
    if (!spec) return 1;
    size_t routes, rest_ops;
    count_routes(spec, &routes, &rest_ops);
    printf("%s: ok (%zu consumed operations, %zu REST operations on %zu routes, %zu MCP tools)\n",
           file, count_operations(spec), rest_ops, routes, count_tools(spec));
    cg_spec_free(spec);
    return 0;
}

/* Whether a YAML file is a spec: it has a top-level naftiko: or ikanos: key (bind files
 * and other YAML beside specs are not). */
static bool looks_like_spec(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[256];
    bool spec = false;
    for (int i = 0; i < 200 && !spec && fgets(line, sizeof line, f); i++)
        spec = !strncmp(line, "naftiko:", 8) || !strncmp(line, "ikanos:", 7);
    fclose(f);
    return spec;
}

static cg_buf found_specs; /* NUL-separated paths, filled by collect_spec */

static int collect_spec(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    bool yaml = (n > 4 && !strcmp(path + n - 4, ".yml")) ||
                (n > 5 && !strcmp(path + n - 5, ".yaml"));
    if (type == FTW_F && yaml && looks_like_spec(path)) cg_buf_append(&found_specs, path, n + 1);
    return 0;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every spec under dir (recursively, in path order); prints a count at the end. */
static int validate_directory(const char *dir)
{
    found_specs = (cg_buf)CG_BUF_INIT;
    if (nftw(dir, collect_spec, 16, FTW_PHYS) != 0) {
        fprintf(stderr, "capgate validate: cannot read %s: %s\n", dir, strerror(errno));
        cg_buf_free(&found_specs);
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < found_specs.len; i++) n += found_specs.data[i] == '\0';
    char **paths = calloc(n ? n : 1, sizeof *paths);
    size_t k = 0;
    for (size_t off = 0; paths && off < found_specs.len; off += strlen(found_specs.data + off) + 1)
        paths[k++] = found_specs.data + off;
    if (paths) qsort(paths, k, sizeof *paths, compare_paths);
    int bad = 0;
    for (size_t i = 0; i < k; i++) bad += validate_one(paths[i]);
    printf("%s: %zu of %zu specs valid\n", dir, k - (size_t)bad, k);
    free(paths);
    cg_buf_free(&found_specs);
    return bad ? 1 : 0;
}

int cg_cli_validate_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: capgate validate FILE|DIR...\n\n"
        "Checks each capability spec and prints every problem as file:line:col: message.\n"
        "A directory is searched for specs (*.yml, *.yaml with a top-level naftiko: or\n"
        "ikanos: key), each validated, then counted.\n"
        "Exit status: 0 when all are valid, 1 otherwise.\n";
    int n;
    int o = read_args(argc, argv, usage, &n);
    if (o) return o > 0 ? 0 : 2;
    char **files = argv + 1;
    if (n == 0) {
        fprintf(stderr, "capgate validate: no file given\n%s", usage);
        return 2;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0 && S_ISDIR(st.st_mode)) failed |= validate_directory(files[i]);
        else failed |= validate_one(files[i]);
    }
    return failed;
}

static void print_tools(const cg_spec *spec)
{
    json_t *all = json_array();
    for (size_t i = 0; i < spec->n_mcp; i++) {
        json_t *tools = cg_mcp_tools_json(&spec->mcp[i]);
        json_array_extend(all, tools);
        json_decref(tools);
    }
    char *text = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text ? text : "[]");
    free(text);
    json_decref(all);
}

int cg_cli_tools_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: capgate tools [FILE]\n\n"
        "Prints the spec's MCP tools as JSON, exactly as tools/list shows them\n"
        "(default FILE: " CG_DEFAULT_SPEC ").\n";
    return print_one_spec(argc, argv, usage, print_tools);
}

static void print_upstream_path(const cg_operation *op)
{
    printf("%s %s", op->method, op->api->base_uri ? op->api->base_uri : "");
    for (size_t i = 0; i < op->n_path_parts; i++) {
        const cg_path_part *p = &op->path_parts[i];
        if (p->literal) fputs(p->literal, stdout);
        else printf("{%s}", p->name);
    }
    const char *sep = "?";
    for (size_t i = 0; i < op->n_inputs; i++)
        if (op->inputs[i].in == CG_IN_QUERY) {
            printf("%s%s={%s}", sep, op->inputs[i].name, op->inputs[i].name);
            sep = "&";
        }
}

static void print_arguments(const cg_call *call)
{
    for (size_t a = 0; a < call->n_arguments; a++) {
        const cg_argument *arg = &call->arguments[a];
        const cg_input *in = call->op && arg->input >= 0 ? &call->op->inputs[arg->input] : NULL;
        printf("     %-14s %s %s%s -> ", arg->name, cg_location_name(arg->in),
               cg_type_name(arg->type), arg->required ? " required" : "");
        if (in)
            printf("%s %s%s\n", cg_location_name(in->in), in->name,
                   arg->is_credential ? " (caller's credential, else the configured one)" : "");
        else printf("{{%s}}\n", arg->name);
    }
}

static void print_call(const cg_call *call)
{
    if (call->op) {
        print_upstream_path(call->op);
        printf("   (%s.%s)\n", call->op->api->namespace_, call->op->name);
    } else if (call->n_steps) {
        printf("%zu steps:", call->n_steps);
        for (size_t i = 0; i < call->n_steps; i++) {
            const cg_step *st = &call->steps[i];
            printf(" %s%s", i ? "-> " : "", st->name);
            if (st->kind == CG_STEP_CALL && st->call.op)
                printf(" (%s.%s)", st->call.op->api->namespace_, st->call.op->name);
            else printf(" (%s)", st->kind == CG_STEP_LOOKUP ? "lookup" : "script");
        }
        printf("\n");
    } else {
        printf("mock: the outputs' static values, no upstream\n");
    }
    print_arguments(call);
    for (size_t i = 0; call->op && i < call->op->n_inputs; i++) {
        const cg_binding *b = &call->bindings[i];
        if (b->kind == CG_SOURCE_LITERAL)
            printf("     %-14s = %s -> %s %s\n", "(literal)", b->literal->source,
                   cg_location_name(call->op->inputs[i].in), call->op->inputs[i].name);
    }
    for (size_t p = 0; p < call->n_params; p++) {
        const cg_binding *b = &call->params[p].binding;
        printf("     %-14s = %s -> {{%s}}\n", "(with)",
               b->kind == CG_SOURCE_LITERAL ? b->literal->source : b->argument,
               call->params[p].name);
    }
}

static void print_route(const cg_rest_resource *res, const cg_rest_operation *ro)
{
    printf("%-6s %s\n  -> ", ro->method, res->path);
    print_call(&ro->call);
}

static void print_routes(const cg_spec *spec)
{
    for (size_t i = 0; i < spec->n_rest; i++) {
        const cg_rest_adapter *a = &spec->rest[i];
        printf("# REST adapter %s on port %d\n", a->namespace_, a->port);
        for (size_t r = 0; r < a->n_resources; r++) {
            const cg_rest_resource *res = &a->resources[r];
            if (res->forward) printf("*      %s\n  -> forwarded to %s\n", res->path, res->forward);
            for (size_t k = 0; k < res->n_ops; k++) print_route(res, &res->ops[k]);
        }
    }
}

int cg_cli_routes_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: capgate routes [FILE]\n\n"
        "Prints each REST route of the spec and the upstream request it becomes\n"
        "(default FILE: " CG_DEFAULT_SPEC ").\n";
    return print_one_spec(argc, argv, usage, print_routes);
}
