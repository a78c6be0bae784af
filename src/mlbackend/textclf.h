/*
 * textclf.h — a multinomial naive Bayes text classifier.
 *
 * This is the model behind `capgate mlbackend`: small, exact and deterministic, so that
 * its accuracy can be asserted in unit tests and its files diffed between versions.
 *
 * Features: text is lowercased (ASCII), split on every byte that is not [a-z0-9] (bytes
 * >= 0x80 count as word characters, so UTF-8 words stay whole), and each token, followed
 * by its pair with the token before it ("not bad"), is one feature. Tokens are capped at
 * CG_TEXTCLF_MAX_TOKEN bytes (longer ones are cut).
 *
 * Scoring: log P(c) + sum over features f in the vocabulary of log P(f|c), with Laplace
 * (add-one) smoothing for both the class prior and the feature likelihoods; features never
 * seen in training are ignored. Probabilities are the softmax of the class log scores.
 * A model with no training documents answers the uniform distribution (1/n each) and its
 * best class is the first label.
 *
 * Lifecycle: cg_textclf_new() → cg_textclf_add() per labelled document → use. After the
 * last add the model is read-only and may be shared by any number of threads for
 * cg_textclf_predict(); adds must not run concurrently with anything else.
 *
 * Persistence: cg_textclf_to_json() / cg_textclf_from_json() (jansson). The JSON object is
 * {"format": "capgate-textclf/1", "labels": [...], "class_docs": [...],
 *  "class_tokens": [...], "vocab": {"feature": [count per label], ...}}, written with
 * sorted keys so that the same training data always gives the same bytes.
 */
#ifndef CG_TEXTCLF_H
#define CG_TEXTCLF_H

#include <stddef.h>

#include <jansson.h>

#define CG_TEXTCLF_MAX_TOKEN 64
#define CG_TEXTCLF_MAX_LABELS 256
#define CG_TEXTCLF_FORMAT "capgate-textclf/1"

typedef struct cg_textclf cg_textclf;

/* A new, untrained model over n labels (copied; 1..CG_TEXTCLF_MAX_LABELS, distinct).
 * NULL and a message in err on bad labels or out of memory. */
cg_textclf *cg_textclf_new(const char *const *labels, size_t n, char *err, size_t errlen);

/* Frees the model. NULL is fine. */
void cg_textclf_free(cg_textclf *m);

/* Counts one training document of class `label` (an index into the labels). 0 on
 * success, -1 when out of memory or the index is out of range. */
int cg_textclf_add(cg_textclf *m, const char *text, size_t len, size_t label);

/* Classifies text: writes n_labels probabilities (summing to 1) into probs when it is not
 * NULL, and returns the index of the most probable label (the lowest index on ties). */
size_t cg_textclf_predict(const cg_textclf *m, const char *text, size_t len, double *probs);

size_t cg_textclf_n_labels(const cg_textclf *m);
const char *cg_textclf_label(const cg_textclf *m, size_t i);
/* Index of a label, or -1. */
int cg_textclf_label_index(const cg_textclf *m, const char *label);
/* Training documents counted so far (0 = untrained). */
size_t cg_textclf_n_docs(const cg_textclf *m);
/* Distinct features in the vocabulary. */
size_t cg_textclf_n_features(const cg_textclf *m);

/* The model as a new JSON object (caller json_decref()s it); NULL when out of memory. */
json_t *cg_textclf_to_json(const cg_textclf *m);

/* A model from the object cg_textclf_to_json() made. NULL and a message in err when the
 * object is not a well-formed model. */
cg_textclf *cg_textclf_from_json(const json_t *obj, char *err, size_t errlen);

/* Calls fn once per feature of text, in order: each token, then (from the second token
 * on) the previous token and this one joined by a space. Exposed for tests and for anyone wondering what the model sees. */
typedef void (*cg_textclf_feature_fn)(void *ctx, const char *feature, size_t len);
void cg_textclf_features(const char *text, size_t len, cg_textclf_feature_fn fn, void *ctx);

#endif
