/*
 * fuzz_spec.c — libFuzzer target for the spec loader: any bytes, as a capability YAML.
 * The loader must never crash, leak or read out of bounds, whatever it is given; an
 * accepted spec must also survive the CLI's renderings (tools JSON).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mcp/tool_schema.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_buf errors = CG_BUF_INIT;
    cg_spec *spec = NULL;
    if (cg_spec_load_string("fuzz.yaml", (const char *)data, size, &spec, &errors) == CG_SPEC_OK) {
        for (size_t i = 0; i < spec->n_mcp; i++) {
            json_t *tools = cg_mcp_tools_json(&spec->mcp[i]);
            char *text = json_dumps(tools, 0);
            free(text);
            json_decref(tools);
        }
        cg_spec_free(spec);
    }
    cg_buf_free(&errors);
    return 0;
}
