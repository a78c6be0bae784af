/*
 * textclf.c — multinomial naive Bayes over word and word-pair counts.
 *
 * The vocabulary is one open-addressing hash table (FNV-1a, linear probing, kept at most
 * half full) from feature bytes to an array of per-label counts. That is all the model
 * is: counts. Log-probabilities are computed at prediction time from the counts, which
 * keeps training a single pass of increments and the saved file a plain record of what
 * was seen; a prediction costs a few logs per feature, well under the HTTP overhead.
 */
#include "mlbackend/textclf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct feature {
    char *key; /* NUL-terminated feature bytes; NULL = empty slot */
    size_t len;
    uint64_t hash;
    uint32_t *counts; /* n_labels occurrences per label */
} feature;

struct cg_textclf {
    size_t n_labels;
    char **labels;          /* n_labels owned strings */
    uint64_t *class_docs;   /* documents per label */
    uint64_t *class_tokens; /* feature occurrences per label */
    size_t n_docs;
    feature *slots; /* cap slots, cap a power of two */
    size_t cap;
    size_t n_features;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- features ---------------------------------------------------------------------- */

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void cg_textclf_features(const char *text, size_t len, cg_textclf_feature_fn fn, void *ctx)
{
    char prev[CG_TEXTCLF_MAX_TOKEN];
    size_t prev_len = 0;
    char pair[2 * CG_TEXTCLF_MAX_TOKEN + 1];
    size_t i = 0;
    while (i < len) {
        while (i < len && !is_word_byte((unsigned char)text[i])) i++;
        if (i >= len) break;
        char tok[CG_TEXTCLF_MAX_TOKEN];
        size_t n = 0;
        for (; i < len && is_word_byte((unsigned char)text[i]); i++) {
            unsigned char c = (unsigned char)text[i];
            if (n < sizeof tok) tok[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        fn(ctx, tok, n);
        if (prev_len) {
            memcpy(pair, prev, prev_len);
            pair[prev_len] = ' ';
            memcpy(pair + prev_len + 1, tok, n);
            fn(ctx, pair, prev_len + 1 + n);
        }
        memcpy(prev, tok, n);
        prev_len = n;
    }
}

/* ---- the table ------------------------------------------------------------------- */

static feature *table_find(const cg_textclf *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        feature *f = &m->slots[i];
        if (!f->key) return f;
        if (f->hash == h && f->len == len && !memcmp(f->key, key, len)) return f;
    }
}

static int table_grow(cg_textclf *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    feature *old = m->slots;
    size_t ocap = m->cap;
    feature *slots = calloc(ncap, sizeof *slots);
    if (!slots) return -1;
    m->slots = slots;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key) *table_find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
    return 0;
}

/* The feature's slot, created with zero counts when new; NULL when out of memory. */
static feature *table_intern(cg_textclf *m, const char *key, size_t len)
{
    if ((m->n_features + 1) * 2 > m->cap && table_grow(m) != 0) return NULL;
    uint64_t h = fnv1a(key, len);
    feature *f = table_find(m, key, len, h);
    if (f->key) return f;
    char *k = malloc(len + 1);
    uint32_t *counts = calloc(m->n_labels, sizeof *counts);
    if (!k || !counts) {
        free(k);
        free(counts);
        return NULL;
    }
    memcpy(k, key, len);
    k[len] = '\0';
    *f = (feature){.key = k, .len = len, .hash = h, .counts = counts};
    m->n_features++;
    return f;
}

static const feature *table_lookup(const cg_textclf *m, const char *key, size_t len)
{
    if (!m->cap) return NULL;
    const feature *f = table_find(m, key, len, fnv1a(key, len));
    return f->key ? f : NULL;
}

/* ---- lifecycle ------------------------------------------------------------------- */

cg_textclf *cg_textclf_new(const char *const *labels, size_t n, char *err, size_t errlen)
{
    if (n == 0 || n > CG_TEXTCLF_MAX_LABELS) {
        snprintf(err, errlen, "a model needs 1 to %d labels, not %zu", CG_TEXTCLF_MAX_LABELS, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!labels[i] || !labels[i][0]) {
            snprintf(err, errlen, "label %zu is empty", i + 1);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(labels[i], labels[j])) {
                snprintf(err, errlen, "label '%s' appears twice", labels[i]);
                return NULL;
            }
    }
    cg_textclf *m = calloc(1, sizeof *m);
    if (!m) goto textclf_new_oom;
    m->n_labels = n;
    m->labels = calloc(n, sizeof *m->labels);
    m->class_docs = calloc(n, sizeof *m->class_docs);
    m->class_tokens = calloc(n, sizeof *m->class_tokens);
    if (!m->labels || !m->class_docs || !m->class_tokens) goto textclf_new_oom;
    for (size_t i = 0; i < n; i++)
        if (!(m->labels[i] = strdup(labels[i]))) goto textclf_new_oom;
    return m;
textclf_new_oom:
    cg_textclf_free(m);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void cg_textclf_free(cg_textclf *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free(m->slots[i].counts);
    }
    free(m->slots);
    if (m->labels)
        for (size_t i = 0; i < m->n_labels; i++) free(m->labels[i]);
    free(m->labels);
    free(m->class_docs);
    free(m->class_tokens);
    free(m);
}

/* ---- training -------------------------------------------------------------------- */

typedef struct add_ctx {
    cg_textclf *m;
    size_t label;
    int failed;
} add_ctx;

static void on_train_feature(void *ctx, const char *key, size_t len)
{
    add_ctx *a = ctx;
    if (a->failed) return;
    feature *f = table_intern(a->m, key, len);
    if (!f) {
        a->failed = 1;
        return;
    }
    f->counts[a->label]++;
    a->m->class_tokens[a->label]++;
}

int cg_textclf_add(cg_textclf *m, const char *text, size_t len, size_t label)
{
    if (label >= m->n_labels) return -1;
    add_ctx a = {.m = m, .label = label};
    cg_textclf_features(text, len, on_train_feature, &a);
    /* A failure part-way leaves some counts in; the model stays consistent (every count
     * is in class_tokens too), it has just seen part of one document. */
    if (a.failed) return -1;
    m->class_docs[label]++;
    m->n_docs++;
    return 0;
}

/* ---- prediction ------------------------------------------------------------------ */

typedef struct score_ctx {
    const cg_textclf *m;
    double *logp;
    const double *log_denominator;
} score_ctx;

static void on_score_feature(void *ctx, const char *key, size_t len)
{
    score_ctx *s = ctx;
    const feature *f = table_lookup(s->m, key, len);
    if (!f) return;
    for (size_t c = 0; c < s->m->n_labels; c++)
        s->logp[c] += log((double)f->counts[c] + 1.0) - s->log_denominator[c];
}

size_t cg_textclf_predict(const cg_textclf *m, const char *text, size_t len, double *probs)
{
    size_t n = m->n_labels;
    if (m->n_docs == 0) {
        for (size_t c = 0; probs && c < n; c++) probs[c] = 1.0 / (double)n;
        return 0;
    }
    double logp[CG_TEXTCLF_MAX_LABELS], logden[CG_TEXTCLF_MAX_LABELS];
    double prior_den = log((double)m->n_docs + (double)n);
    for (size_t c = 0; c < n; c++) {
        logp[c] = log((double)m->class_docs[c] + 1.0) - prior_den;
        logden[c] = log((double)m->class_tokens[c] + (double)m->n_features);
    }
    score_ctx s = {.m = m, .logp = logp, .log_denominator = logden};
    cg_textclf_features(text, len, on_score_feature, &s);
    size_t best = 0;
    for (size_t c = 1; c < n; c++)
        if (logp[c] > logp[best]) best = c;
    if (probs) {
        double sum = 0;
        for (size_t c = 0; c < n; c++) sum += (probs[c] = exp(logp[c] - logp[best]));
        for (size_t c = 0; c < n; c++) probs[c] /= sum;
    }
    return best;
}

size_t cg_textclf_n_labels(const cg_textclf *m)
{
    return m->n_labels;
}
const char *cg_textclf_label(const cg_textclf *m, size_t i)
{
    return i < m->n_labels ? m->labels[i] : NULL;
}
size_t cg_textclf_n_docs(const cg_textclf *m)
{
    return m->n_docs;
}
size_t cg_textclf_n_features(const cg_textclf *m)
{
    return m->n_features;
}

int cg_textclf_label_index(const cg_textclf *m, const char *label)
{
    for (size_t i = 0; i < m->n_labels; i++)
        if (!strcmp(m->labels[i], label)) return (int)i;
    return -1;
}

/* ---- persistence ----------------------------------------------------------------- */

static json_t *u64_array(const uint64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer((json_int_t)v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *cg_textclf_to_json(const cg_textclf *m)
{
    /* json_object_set_new() takes the value's reference even when it fails, so each part
     * is attached first and filled through a borrowed pointer; one decref frees it all. */
    json_t *o = json_object();
    json_t *labels = json_array(), *vocab = json_object();
    if (json_object_set_new(o, "format", json_string(CG_TEXTCLF_FORMAT)) != 0 ||
        json_object_set_new(o, "labels", labels) != 0 ||
        json_object_set_new(o, "class_docs", u64_array(m->class_docs, m->n_labels)) != 0 ||
        json_object_set_new(o, "class_tokens", u64_array(m->class_tokens, m->n_labels)) != 0 ||
        json_object_set_new(o, "vocab", vocab) != 0)
        goto to_json_oom;
    for (size_t i = 0; i < m->n_labels; i++)
        if (json_array_append_new(labels, json_string(m->labels[i])) != 0) goto to_json_oom;
    for (size_t i = 0; i < m->cap; i++) {
        const feature *f = &m->slots[i];
        if (!f->key) continue;
        json_t *counts = json_array();
        if (json_object_setn_new(vocab, f->key, f->len, counts) != 0) goto to_json_oom;
        for (size_t c = 0; c < m->n_labels; c++)
            if (json_array_append_new(counts, json_integer(f->counts[c])) != 0) goto to_json_oom;
    }
    return o;
to_json_oom:
    json_decref(o);
    return NULL;
}

/* Reads a non-negative integer count array of exactly n items into out. */
static int read_counts(const json_t *a, size_t n, uint64_t *out)
{
    if (!json_is_array(a) || json_array_size(a) != n) return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX)
            return -1;
        out[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

cg_textclf *cg_textclf_from_json(const json_t *obj, char *err, size_t errlen)
{
    const json_t *fmt = json_object_get(obj, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CG_TEXTCLF_FORMAT)) {
        snprintf(err, errlen, "not a %s model (\"format\" missing or different)",
                 CG_TEXTCLF_FORMAT);
        return NULL;
    }
    const json_t *jl = json_object_get(obj, "labels");
    size_t n = json_array_size(jl);
    if (!json_is_array(jl) || n == 0 || n > CG_TEXTCLF_MAX_LABELS) {
        snprintf(err, errlen, "model \"labels\" must be an array of 1 to %d strings",
                 CG_TEXTCLF_MAX_LABELS);
        return NULL;
    }
    const char *labels[CG_TEXTCLF_MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        labels[i] = json_string_value(json_array_get(jl, i));
        if (!labels[i]) {
            snprintf(err, errlen, "model label %zu is not a string", i + 1);
            return NULL;
        }
    }
    cg_textclf *m = cg_textclf_new(labels, n, err, errlen);
    if (!m) return NULL;
    if (read_counts(json_object_get(obj, "class_docs"), n, m->class_docs) != 0) {
        snprintf(err, errlen, "model \"class_docs\" must hold %zu non-negative integers", n);
        goto from_json_fail;
    }
    for (size_t c = 0; c < n; c++) m->n_docs += m->class_docs[c];
    const json_t *vocab = json_object_get(obj, "vocab");
    if (!json_is_object(vocab)) {
        snprintf(err, errlen, "model \"vocab\" must be an object");
        goto from_json_fail;
    }
    const char *key;
    size_t klen;
    json_t *counts;
    uint64_t tmp[CG_TEXTCLF_MAX_LABELS];
    json_object_keylen_foreach((json_t *)vocab, key, klen, counts)
    {
        if (read_counts(counts, n, tmp) != 0) {
            snprintf(err, errlen, "model feature '%.40s' must map to %zu non-negative integers",
                     key, n);
            goto from_json_fail;
        }
        feature *f = table_intern(m, key, klen);
        if (!f) {
            snprintf(err, errlen, "out of memory");
            goto from_json_fail;
        }
        for (size_t c = 0; c < n; c++) {
            f->counts[c] = (uint32_t)tmp[c];
            m->class_tokens[c] += tmp[c];
        }
    }
    return m;
from_json_fail:
    cg_textclf_free(m);
    return NULL;
}
