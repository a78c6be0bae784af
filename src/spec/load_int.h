/*
 * load_int.h — what the spec loader's pass 1 shares between its files (private to
 * load*.c): the key tables' types, the YAML node helpers (load.c), and each section's
 * builder. load.c walks the document and the shared parts (binds, aggregates);
 * load_consumes.c builds `consumes`, load_exposes.c builds `exposes`.
 */
#ifndef CG_SPEC_LOAD_INT_H
#define CG_SPEC_LOAD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "spec/spec_internal.h"

/* More mappings than any real spec has (the largest public one, 3,200 lines, has under 2,000). */
#define CG_SPEC_MAX_MAPPINGS 50000
/* More bytes of scalar values, counted over every mapping the walk reads (aliases counted each
 * time they are read), than any real spec has: what the model copies grows with it. */
#define CG_SPEC_MAX_VALUE_BYTES (8L * 1024 * 1024)

typedef enum { K_STR, K_INT, K_BOOL, K_MAP, K_SEQ, K_SCALAR_OR_MAP, K_ANY } value_kind;

typedef struct field {
    const char *key;
    value_kind kind;
    int required;
} field;

#define FIELDS_END                                                                                 \
    {                                                                                              \
        NULL, K_ANY, 0                                                                             \
    }

/* enum names as specs write them (load.c) */
extern const char *const cg__ld_location_names[];
extern const char *const cg__ld_auth_names[];

/* YAML node helpers and checked key reads (load.c): a wrong kind or a missing required key
 * is reported through cg__spec_error and reads as NULL / the default. */
yaml_node_t *cg__ld_node_at(cg__loader *L, int id);
const char *cg__ld_scalar(const yaml_node_t *n);
int cg__ld_is_plain(const yaml_node_t *n);
yaml_node_t *cg__ld_map_get(cg__loader *L, const yaml_node_t *map, const char *key);
size_t cg__ld_seq_len(const yaml_node_t *n);
yaml_node_t *cg__ld_seq_item(cg__loader *L, const yaml_node_t *n, size_t i);
cg__pos cg__ld_pos_of(const yaml_node_t *n);
int cg__ld_parse_bool(const char *s, int *out);
int cg__ld_parse_int(const char *s, long *out);
int cg__ld_kind_matches(const yaml_node_t *n, value_kind k);
int cg__ld_check_fields(cg__loader *L, const yaml_node_t *n, const char *what, const field *fields);
yaml_node_t *cg__ld_get(cg__loader *L, const yaml_node_t *map, const char *key, value_kind k);
const char *cg__ld_get_str(cg__loader *L, const yaml_node_t *map, const char *key);
int cg__ld_get_bool(cg__loader *L, const yaml_node_t *map, const char *key, int dflt);
int cg__ld_get_enum(cg__loader *L, const yaml_node_t *map, const char *key, const char *what,
                    const char *const *values, int case_insensitive, int dflt);
const cg_template *cg__ld_get_template(cg__loader *L, const yaml_node_t *map, const char *key);
void *cg__ld_alloc_array(cg__loader *L, size_t n, size_t sz);
void cg__ld_check_name(cg__loader *L, const yaml_node_t *map, const char *key, const char *what);
const char *cg__ld_get_method(cg__loader *L, const yaml_node_t *map, const char *what,
                              int required);
cg_type cg__ld_get_type(cg__loader *L, const yaml_node_t *map, const char *what);
/* section builders: consumes (load_consumes.c), exposes (load_exposes.c) and the parts the
 * other one uses */
void cg__ld_build_outputs(cg__loader *L, const yaml_node_t *seq, cg_output **out, size_t *n_out);
const cg_template *cg__ld_parse_template_at(cg__loader *L, const yaml_node_t *at, const char *text,
                                            const char *what);
void cg__ld_build_auth(cg__loader *L, const yaml_node_t *n, cg_auth *auth, bool inbound);
const char *cg__ld_resource_path(cg__loader *L, const yaml_node_t *rn);
const char *cg__ld_dir_of(cg__loader *L, const char *path);
void cg__ld_build_consumes(cg__loader *L, const yaml_node_t *seq);
void cg__ld_build_exposes(cg__loader *L, const yaml_node_t *seq);
int cg__ld_ref_failed(cg__loader *L, const yaml_node_t *n);
/* A sequence of strings (what names it in the error for one that is not); an integer
 * key's value or dflt. */
const char **cg__ld_get_str_list(cg__loader *L, const yaml_node_t *seq, size_t *n,
                                 const char *what);
long cg__ld_get_long(cg__loader *L, const yaml_node_t *map, const char *key, long dflt);

#endif
