/* tests/unit/mlbackend/fixture.h — what the mlbackend unit tests share: a two-choice label
 * config (CFG), parsed, and an untrained model for it. */
#ifndef CG_TEST_MLBACKEND_FIXTURE_H
#define CG_TEST_MLBACKEND_FIXTURE_H

#include "mlbackend/labelcfg.h"
#include "mlbackend/textclf.h"

static const char CFG[] =
    "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\">"
    "<Choice value=\"Positive\"/><Choice value=\"Negative\"/></Choices></View>";

static inline void parse_cfg(cg_labelcfg *cfg)
{
    char err[256];
    assert_int_equal(cg_labelcfg_parse(CFG, strlen(CFG), cfg, err, sizeof err), 0);
}

static inline cg_textclf *model_for(const cg_labelcfg *cfg)
{
    char err[128];
    cg_textclf *m = cg_textclf_new((const char *const *)cfg->choices, cfg->n_choices, err,
                                   sizeof err);
    assert_non_null(m);
    return m;
}

#endif
