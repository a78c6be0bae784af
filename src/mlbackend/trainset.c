/*
 * trainset.c — reads labelled documents out of a Label Studio JSON export.
 *
 * Written defensively: the export comes over the network from a server we do not
 * control, so every member is type-checked and anything unexpected is skipped and
 * counted rather than trusted.
 */
#include "mlbackend/trainset.h"

#include <stdio.h>
#include <string.h>

/* Adds the choices of one annotation result item; counts what it cannot use. */
static int add_result_item(cg_textclf *m, const cg_labelcfg *cfg, const json_t *item,
                           const char *text, cg_trainset_stats *st)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    const char *from = json_string_value(json_object_get(item, "from_name"));
    if (!type || strcmp(type, "choices") || (from && strcmp(from, cfg->choices_name))) return 0;
    const json_t *choices = json_object_get(json_object_get(item, "value"), "choices");
    size_t i;
    const json_t *c;
    json_array_foreach(choices, i, c)
    {
        const char *label = json_string_value(c);
        int li = label ? cg_textclf_label_index(m, label) : -1;
        if (li < 0) {
            st->skipped++;
            continue;
        }
        if (cg_textclf_add(m, text, strlen(text), (size_t)li) != 0) return -1;
        st->documents++;
    }
    return 0;
}

int cg_trainset_add_export(cg_textclf *m, const cg_labelcfg *cfg, const json_t *tasks,
                           cg_trainset_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (!json_is_array(tasks)) {
        snprintf(err, errlen, "the export is not a JSON list of tasks");
        return -1;
    }
    size_t ti;
    const json_t *task;
    json_array_foreach(tasks, ti, task)
    {
        st->tasks++;
        const char *text = json_string_value(
            json_object_get(json_object_get(task, "data"), cfg->text_field));
        const json_t *anns = json_object_get(task, "annotations");
        if (!text) {
            st->skipped++;
            continue;
        }
        size_t ai;
        const json_t *ann;
        json_array_foreach(anns, ai, ann)
        {
            if (json_is_true(json_object_get(ann, "was_cancelled"))) {
                st->skipped++;
                continue;
            }
            size_t ri;
            const json_t *item;
            json_array_foreach(json_object_get(ann, "result"), ri, item)
            {
                if (add_result_item(m, cfg, item, text, st) != 0) {
                    snprintf(err, errlen, "out of memory while training");
                    return -1;
                }
            }
        }
    }
    return 0;
}
