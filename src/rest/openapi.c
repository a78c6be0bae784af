/* placeholder, replaced below */
#include "rest/rest.h"
int cg_rest_openapi(const cg_spec *spec, const cg_rest_adapter *adapter, const char *server_url,
                    cg_buf *out)
{
    return cg_buf_append_str(out, "{}");
}
