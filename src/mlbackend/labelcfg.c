/*
 * labelcfg.c — a strict little XML scan for the <Choices>-over-<Text> labeling config.
 *
 * The scan walks the bytes once. Each start tag is read into a name and a small array of
 * decoded attributes, checked against the handful of elements we allow, and its meaning
 * is recorded in the cg_labelcfg being built; a stack of open element names checks that
 * end tags match. Nothing here recurses, so hostile nesting costs only the stack cap.
 * Every failure goes through scan_fail(), which keeps the first message and its line.
 */
#include "mlbackend/labelcfg.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/buf.h"

#define MAX_DEPTH 32
#define MAX_ATTRS 16
#define MAX_NAME 64

typedef struct attr {
    char name[MAX_NAME];
    char *value; /* decoded, owned */
} attr;

typedef struct scan {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    int failed;
    char stack[MAX_DEPTH][MAX_NAME];
    int depth;
    int n_text, n_choices_tags;
    char *choices_to_name;
    cg_labelcfg *cfg;
} scan;

static int line_of(const scan *sc, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos && i < sc->len; i++) line += sc->s[i] == '\n';
    return line;
}

static void scan_fail(scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void scan_fail(scan *sc, const char *fmt, ...)
{
    if (sc->failed) return;
    sc->failed = 1;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(sc->err, sc->errlen, "label config, line %d: %s", line_of(sc, sc->pos), msg);
}

static int at(const scan *sc, const char *lit)
{
    size_t n = strlen(lit);
    return sc->pos + n <= sc->len && !memcmp(sc->s + sc->pos, lit, n);
}

static void skip_space(scan *sc)
{
    while (sc->pos < sc->len && isspace((unsigned char)sc->s[sc->pos])) sc->pos++;
}

/* Skips past the next occurrence of lit; fails with what when there is none. */
static void skip_past(scan *sc, const char *lit, const char *what)
{
    const char *hit = memmem(sc->s + sc->pos, sc->len - sc->pos, lit, strlen(lit));
    if (!hit) {
        scan_fail(sc, "unterminated %s", what);
        return;
    }
    sc->pos = (size_t)(hit - sc->s) + strlen(lit);
}

static int is_name_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':';
}
static int is_name_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == ':' || c == '-' || c == '.';
}

/* Reads an XML name into out (MAX_NAME bytes). */
static void read_name(scan *sc, char *out, const char *what)
{
    size_t n = 0;
    if (sc->pos >= sc->len || !is_name_start((unsigned char)sc->s[sc->pos])) {
        scan_fail(sc, "expected %s name", what);
        return;
    }
    while (sc->pos < sc->len && is_name_char((unsigned char)sc->s[sc->pos])) {
        if (n + 1 >= MAX_NAME) {
            scan_fail(sc, "%s name longer than %d bytes", what, MAX_NAME - 1);
            return;
        }
        out[n++] = sc->s[sc->pos++];
    }
    out[n] = '\0';
}

/* Appends code point cp as UTF-8. */
static int append_utf8(cg_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return cg_buf_append(b, u, n);
}

/* Decodes one entity starting at '&' into b; advances past the ';'. */
static void decode_entity(scan *sc, cg_buf *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
    };
    const char *start = sc->s + sc->pos + 1;
    const char *semi = memchr(start, ';', sc->len - sc->pos - 1);
    if (!semi || semi - start > 10) {
        scan_fail(sc, "'&' that does not start an entity (write &amp;)");
        return;
    }
    size_t n = (size_t)(semi - start);
    if (n >= 2 && start[0] == '#') {
        char digits[12];
        memcpy(digits, start + 1, n - 1);
        digits[n - 1] = '\0';
        int hex = digits[0] == 'x' || digits[0] == 'X';
        char *end;
        unsigned long cp = strtoul(digits + hex, &end, hex ? 16 : 10);
        if (*end || end == digits + hex || cp == 0 || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            scan_fail(sc, "bad character reference '&%.*s;'", (int)n, start);
            return;
        }
        if (append_utf8(b, cp) != 0) scan_fail(sc, "out of memory");
    } else {
        size_t i = 0;
        for (; i < sizeof named / sizeof *named; i++)
            if (strlen(named[i].name) == n && !memcmp(named[i].name, start, n)) break;
        if (i == sizeof named / sizeof *named) {
            scan_fail(sc, "unknown entity '&%.*s;'", (int)n, start);
            return;
        }
        if (cg_buf_append(b, &named[i].c, 1) != 0) scan_fail(sc, "out of memory");
    }
    sc->pos = (size_t)(semi - sc->s) + 1;
}

/* Reads a quoted attribute value; returns it decoded (caller frees) or NULL. */
static char *read_value(scan *sc)
{
    if (sc->pos >= sc->len || (sc->s[sc->pos] != '"' && sc->s[sc->pos] != '\'')) {
        scan_fail(sc, "attribute value must be quoted");
        return NULL;
    }
    char q = sc->s[sc->pos++];
    cg_buf b = CG_BUF_INIT;
    while (!sc->failed) {
        if (sc->pos >= sc->len) {
            scan_fail(sc, "unterminated attribute value");
            break;
        }
        char c = sc->s[sc->pos];
        if (c == q) {
            sc->pos++;
            char *v = cg_buf_steal(&b);
            if (!v) scan_fail(sc, "out of memory");
            return v;
        }
        if (c == '<') {
            scan_fail(sc, "'<' inside an attribute value (write &lt;)");
        } else if (c == '&') {
            decode_entity(sc, &b);
        } else {
            if (cg_buf_append(&b, &c, 1) != 0) scan_fail(sc, "out of memory");
            sc->pos++;
        }
    }
    cg_buf_free(&b);
    return NULL;
}

static const char *attr_get(const attr *a, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, name)) return a[i].value;
    return NULL;
}

static int inside(const scan *sc, const char *tag)
{
    for (int i = 0; i < sc->depth; i++)
        if (!strcasecmp(sc->stack[i], tag)) return 1;
    return 0;
}

static int valid_field(const char *f)
{
    if (!*f) return 0;
    for (; *f; f++)
        if (!isalnum((unsigned char)*f) && *f != '_' && *f != '-') return 0;
    return 1;
}

static char *dup_or_fail(scan *sc, const char *s)
{
    char *d = strdup(s);
    if (!d) scan_fail(sc, "out of memory");
    return d;
}

static const char SUPPORTED[] =
    "capgate mlbackend supports one <Text> classified by one <Choices> (plus <View>, "
    "<Header> and <Style> for layout)";

/* Gives a start tag its meaning. */
static void on_element(scan *sc, const char *name, const attr *a, int na)
{
    if (!strcasecmp(name, "View") || !strcasecmp(name, "Header") || !strcasecmp(name, "Style"))
        return;
    if (!strcasecmp(name, "Text")) {
        const char *tname = attr_get(a, na, "name"), *value = attr_get(a, na, "value");
        const char *vtype = attr_get(a, na, "valueType");
        if (++sc->n_text > 1) {
            scan_fail(sc, "a second <Text>: %s", SUPPORTED);
            return;
        }
        if (!tname || !*tname) {
            scan_fail(sc, "<Text> needs a name attribute");
            return;
        }
        if (!value || value[0] != '$' || !valid_field(value + 1)) {
            scan_fail(sc, "<Text value> must name a task field as \"$field\", not \"%.60s\"",
                      value ? value : "");
            return;
        }
        if (vtype && strcasecmp(vtype, "text")) {
            scan_fail(
                sc,
                "<Text valueType=\"%.20s\"> is not supported: the text must be in the task data",
                vtype);
            return;
        }
        sc->cfg->text_name = dup_or_fail(sc, tname);
        sc->cfg->text_field = dup_or_fail(sc, value + 1);
        return;
    }
    if (!strcasecmp(name, "Choices")) {
        const char *cname = attr_get(a, na, "name"), *to = attr_get(a, na, "toName");
        const char *choice = attr_get(a, na, "choice");
        if (++sc->n_choices_tags > 1) {
            scan_fail(sc, "a second <Choices>: %s", SUPPORTED);
            return;
        }
        if (!cname || !*cname) {
            scan_fail(sc, "<Choices> needs a name attribute");
            return;
        }
        if (!to || !*to) {
            scan_fail(sc, "<Choices> needs a toName attribute");
            return;
        }
        if (choice && strcmp(choice, "single") && strcmp(choice, "single-radio") &&
            strcmp(choice, "multiple")) {
            scan_fail(sc, "<Choices choice=\"%.20s\">: expected single, single-radio or multiple",
                      choice);
            return;
        }
        sc->cfg->choices_name = dup_or_fail(sc, cname);
        sc->choices_to_name = dup_or_fail(sc, to);
        sc->cfg->multiple = choice && !strcmp(choice, "multiple");
        return;
    }
    if (!strcasecmp(name, "Choice")) {
        const char *alias = attr_get(a, na, "alias"), *value = attr_get(a, na, "value");
        const char *label = alias && *alias ? alias : value;
        if (!inside(sc, "Choices")) {
            scan_fail(sc, "<Choice> outside <Choices>");
            return;
        }
        if (!label || !*label) {
            scan_fail(sc, "<Choice> needs a non-empty value attribute");
            return;
        }
        for (size_t i = 0; i < sc->cfg->n_choices; i++)
            if (!strcmp(sc->cfg->choices[i], label)) {
                scan_fail(sc, "choice \"%.60s\" appears twice", label);
                return;
            }
        if (sc->cfg->n_choices >= 256) {
            scan_fail(sc, "more than 256 choices");
            return;
        }
        char **grown = realloc(sc->cfg->choices, (sc->cfg->n_choices + 1) * sizeof *grown);
        if (!grown) {
            scan_fail(sc, "out of memory");
            return;
        }
        sc->cfg->choices = grown;
        if ((grown[sc->cfg->n_choices] = dup_or_fail(sc, label))) sc->cfg->n_choices++;
        return;
    }
    scan_fail(sc, "unsupported tag <%s>: %s", name, SUPPORTED);
}

static void read_start_tag(scan *sc)
{
    char name[MAX_NAME];
    attr a[MAX_ATTRS];
    int na = 0, self_closing = 0;
    sc->pos++; /* '<' */
    read_name(sc, name, "tag");
    while (!sc->failed) {
        size_t before = sc->pos;
        skip_space(sc);
        if (sc->pos >= sc->len) {
            scan_fail(sc, "unterminated <%s> tag", name);
            break;
        }
        if (at(sc, "/>")) {
            sc->pos += 2;
            self_closing = 1;
            break;
        }
        if (sc->s[sc->pos] == '>') {
            sc->pos++;
            break;
        }
        if (sc->pos == before) {
            scan_fail(sc, "expected a space before the next attribute of <%s>", name);
            break;
        }
        if (na == MAX_ATTRS) {
            scan_fail(sc, "more than %d attributes on <%s>", MAX_ATTRS, name);
            break;
        }
        read_name(sc, a[na].name, "attribute");
        if (sc->failed) break;
        skip_space(sc);
        if (sc->pos >= sc->len || sc->s[sc->pos] != '=') {
            scan_fail(sc, "attribute %s of <%s> has no value", a[na].name, name);
            break;
        }
        sc->pos++;
        skip_space(sc);
        if (attr_get(a, na, a[na].name)) {
            scan_fail(sc, "attribute %s appears twice on <%s>", a[na].name, name);
            break;
        }
        if (!(a[na].value = read_value(sc))) break;
        na++;
    }
    if (!sc->failed) {
        on_element(sc, name, a, na);
        if (!self_closing && !sc->failed) {
            if (sc->depth == MAX_DEPTH) scan_fail(sc, "elements nested deeper than %d", MAX_DEPTH);
            else strcpy(sc->stack[sc->depth++], name);
        }
    }
    for (int i = 0; i < na; i++) free(a[i].value);
}

static void read_end_tag(scan *sc)
{
    char name[MAX_NAME];
    sc->pos += 2; /* "</" */
    read_name(sc, name, "end tag");
    if (sc->failed) return;
    skip_space(sc);
    if (sc->pos >= sc->len || sc->s[sc->pos] != '>') {
        scan_fail(sc, "malformed </%s>", name);
        return;
    }
    sc->pos++;
    if (sc->depth == 0 || strcmp(sc->stack[sc->depth - 1], name)) {
        scan_fail(sc, "</%s> does not close %s%s%s", name, sc->depth ? "<" : "any open tag",
                  sc->depth ? sc->stack[sc->depth - 1] : "", sc->depth ? ">" : "");
        return;
    }
    sc->depth--;
}

static void check_complete(scan *sc)
{
    cg_labelcfg *cfg = sc->cfg;
    if (sc->depth) {
        scan_fail(sc, "<%s> is never closed", sc->stack[sc->depth - 1]);
        return;
    }
    if (!cfg->text_name) {
        scan_fail(sc, "no <Text> tag: %s", SUPPORTED);
        return;
    }
    if (!cfg->choices_name) {
        scan_fail(sc, "no <Choices> tag: %s", SUPPORTED);
        return;
    }
    if (strcmp(sc->choices_to_name, cfg->text_name)) {
        scan_fail(sc, "<Choices toName=\"%.60s\"> must name the <Text> \"%.60s\"",
                  sc->choices_to_name, cfg->text_name);
        return;
    }
    if (cfg->n_choices < 2) {
        scan_fail(sc, "<Choices> needs at least two <Choice> values, it has %zu", cfg->n_choices);
        return;
    }
}

int cg_labelcfg_parse(const char *xml, size_t len, cg_labelcfg *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    scan sc = {.s = xml, .len = len, .err = err, .errlen = errlen, .cfg = cfg};
    if (len > CG_LABELCFG_MAX_SIZE) {
        snprintf(err, errlen, "label config is larger than %d bytes", CG_LABELCFG_MAX_SIZE);
        return -1;
    }
    if (memchr(xml, '\0', len)) {
        snprintf(err, errlen, "label config contains a NUL byte");
        return -1;
    }
    /* Names and labels go into JSON replies, which must be UTF-8: check once, up front. */
    json_t *utf8 = json_stringn(xml, len);
    if (!utf8) {
        snprintf(err, errlen, "label config is not valid UTF-8");
        return -1;
    }
    json_decref(utf8);
    while (!sc.failed && sc.pos < sc.len) {
        if (sc.s[sc.pos] != '<') {
            sc.pos++; /* text content: layout only, ignored */
        } else if (at(&sc, "<!--")) {
            skip_past(&sc, "-->", "comment");
        } else if (at(&sc, "<![CDATA[")) {
            skip_past(&sc, "]]>", "CDATA section");
        } else if (at(&sc, "<?")) {
            skip_past(&sc, "?>", "processing instruction");
        } else if (at(&sc, "<!")) {
            scan_fail(&sc, "DOCTYPE and other declarations are not supported");
        } else if (at(&sc, "</")) {
            read_end_tag(&sc);
        } else {
            read_start_tag(&sc);
        }
    }
    if (!sc.failed) check_complete(&sc);
    free(sc.choices_to_name);
    if (sc.failed) {
        cg_labelcfg_free(cfg);
        return -1;
    }
    return 0;
}

void cg_labelcfg_free(cg_labelcfg *cfg)
{
    free(cfg->text_name);
    free(cfg->text_field);
    free(cfg->choices_name);
    for (size_t i = 0; i < cfg->n_choices; i++) free(cfg->choices[i]);
    free(cfg->choices);
    memset(cfg, 0, sizeof *cfg);
}
