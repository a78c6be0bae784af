/*
 * www.h — the files capgate's two pages (the console, studio) share, embedded in the
 * binary: page.js (the DOM helpers and the sign-in form both scripts use), page.css (the
 * base sheet) and the favicon. Each page serves them beside its own files.
 */
#ifndef CG_WWW_H
#define CG_WWW_H

extern const char cg_www_page_js[], cg_www_page_js_end[];
extern const char cg_www_page_css[], cg_www_page_css_end[];
extern const char cg_www_favicon[], cg_www_favicon_end[];

#endif
