/*
 * trainset.h — turns a Label Studio project export into training documents.
 *
 * Label Studio's JSON export (GET /api/projects/{id}/export?exportType=JSON) is a list of
 * tasks: {"id": 1, "data": {"text": "..."}, "annotations": [{"was_cancelled": false,
 * "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
 * "value": {"choices": ["Positive"]}}]}]}. Every annotation that is not cancelled counts
 * once per choice it selected (so two annotators agreeing weigh twice, as they should);
 * results of other types or other control tags are ignored; choices the label config
 * does not know are counted as skipped, not errors. A task without the config's text
 * field (or with a non-string one) is skipped whole.
 */
#ifndef CG_TRAINSET_H
#define CG_TRAINSET_H

#include <stddef.h>

#include <jansson.h>

#include "mlbackend/labelcfg.h"
#include "mlbackend/textclf.h"

typedef struct cg_trainset_stats {
    size_t tasks;     /* tasks in the export */
    size_t documents; /* (text, label) pairs added to the model */
    size_t skipped;   /* cancelled annotations, unknown choices, tasks without text */
} cg_trainset_stats;

/* Adds the export's labelled documents to m, whose labels must be cfg's choices.
 * 0 on success (even when nothing was usable: check stats->documents); -1 with a
 * message in err when the export is not a list of tasks or memory runs out. */
int cg_trainset_add_export(cg_textclf *m, const cg_labelcfg *cfg, const json_t *tasks,
                           cg_trainset_stats *stats, char *err, size_t errlen);

#endif
