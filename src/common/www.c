/*
 * www.c — the shared page files' bytes (see www.h), embedded once for both pages.
 */
#include "common/www.h"

#include "common/embed.h"

CG_EMBED(cg_www_page_js, "src/common/www/page.js");
CG_EMBED(cg_www_page_css, "src/common/www/page.css");
CG_EMBED(cg_www_favicon, "src/common/www/favicon.svg");

/* .incbin labels are local to their object: these are used from console.c and page.c. */
__asm__(".globl cg_www_page_js, cg_www_page_js_end, cg_www_page_css, cg_www_page_css_end, "
        "cg_www_favicon, cg_www_favicon_end");
