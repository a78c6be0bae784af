/*
 * fuzz_mlbackend_labelcfg.c — libFuzzer target for the mlbackend's untrusted-input parsers:
 * the label config reader (labelcfg.c, input from /setup and /predict), and the model's
 * JSON loader and feature splitter (textclf.c, input from model files and task text).
 * Built and run by `make fuzz` (seeds in fuzz/corpus/mlbackend_labelcfg/, dictionary
 * fuzz/fuzz_mlbackend_labelcfg.dict).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mlbackend/labelcfg.h"
#include "mlbackend/textclf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_feature(void *ctx, const char *f, size_t n)
{
    *(size_t *)ctx += n + (f[0] != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    cg_labelcfg cfg;
    if (cg_labelcfg_parse((const char *)data, size, &cfg, err, sizeof err) == 0) {
        /* A parsed config must be usable as a model's labels. */
        cg_textclf *m = cg_textclf_new((const char *const *)cfg.choices, cfg.n_choices, err,
                                       sizeof err);
        if (!m) __builtin_trap();
        cg_textclf_add(m, (const char *)data, size, 0);
        double probs[CG_TEXTCLF_MAX_LABELS];
        cg_textclf_predict(m, (const char *)data, size, probs);
        cg_textclf_free(m);
        cg_labelcfg_free(&cfg);
    }
    size_t total = 0;
    cg_textclf_features((const char *)data, size, count_feature, &total);
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (j) {
        cg_textclf *m = cg_textclf_from_json(j, err, sizeof err);
        if (m) {
            cg_textclf_predict(m, (const char *)data, size, NULL);
            cg_textclf_free(m);
        }
        json_decref(j);
    }
    return 0;
}
