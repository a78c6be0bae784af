/*
 * labelcfg.h — reads the one Label Studio labeling config the mlbackend can learn:
 * a <Choices> classifying a <Text>.
 *
 *   <View>
 *     <Text name="text" value="$text"/>
 *     <Choices name="sentiment" toName="text" choice="single">
 *       <Choice value="Positive"/> <Choice value="Negative"/> <Choice value="Neutral"/>
 *     </Choices>
 *   </View>
 *
 * The scan is a small, strict XML reader: elements, attributes in any order with single or
 * double quotes, self-closing tags, the five predefined entities and numeric character
 * references, comments, <?xml?> declarations and CDATA sections. Tag names match
 * case-insensitively. Allowed elements are View, Header and Style (layout), exactly one
 * Text, exactly one Choices whose toName is that Text, and its Choice children (at least
 * two, distinct). A Choice's label is its `alias` when it has one (that is what Label
 * Studio stores in annotations), else its `value`. Anything else — another object or
 * control tag, bytes that are not UTF-8, a Text whose value is not "$field",
 * valueType="url", broken XML — is refused with a message that says what was found and
 * what is supported.
 */
#ifndef CG_LABELCFG_H
#define CG_LABELCFG_H

#include <stddef.h>

/* Largest config accepted, in bytes. */
#define CG_LABELCFG_MAX_SIZE (1024 * 1024)

typedef struct cg_labelcfg {
    char *text_name;    /* the <Text name>: predictions' "to_name" */
    char *text_field;   /* the task data key of <Text value="$field">, without the '$' */
    char *choices_name; /* the <Choices name>: predictions' "from_name" */
    int multiple;       /* choice="multiple" */
    size_t n_choices;
    char **choices; /* labels in document order */
} cg_labelcfg;

/* Parses xml (len bytes) into cfg. 0 on success; -1 with cfg zeroed and a message
 * (naming the line) in err. Free a parsed cfg with cg_labelcfg_free(). */
int cg_labelcfg_parse(const char *xml, size_t len, cg_labelcfg *cfg, char *err, size_t errlen);

/* Frees what cg_labelcfg_parse() allocated and zeroes cfg. */
void cg_labelcfg_free(cg_labelcfg *cfg);

#endif
