// capgate's pages (the console, studio) — what both scripts share; loaded before each.
//
// Values that come from the spec, an upstream, a call or the database go on the page as text
// nodes or attribute values only, never parsed as HTML: el() is how both pages build it.
"use strict";

const $ = (id) => document.getElementById(id);

// el(tag, {attr: value, class: "c"}, ...children) — an element; children that are not
// nodes become text nodes; undefined and null attributes and children are left out.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// secretForm(storageKey, inputId, onSecret) — the sign-in both pages show when their API
// refuses: #auth (whose #auth-form has the input inputId, and #auth-error) in place of
// #main. The secret given is kept in this tab only (sessionStorage[storageKey]), then
// onSecret runs. Returns ask(message), which shows the form with message.
function secretForm(storageKey, inputId, onSecret) {
  $("auth-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $(inputId).value.trim();
    if (!v) return;
    sessionStorage.setItem(storageKey, v);
    $(inputId).value = "";
    $("auth").hidden = true;
    $("main").hidden = false;
    onSecret();
  });
  return (message) => {
    $("auth").hidden = false;
    $("main").hidden = true;
    $("auth-error").textContent = message || "";
    $(inputId).focus();
  };
}
