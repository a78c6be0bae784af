// capgate console — the page's script (served from the binary, no dependencies).
//
// Every value that comes from the spec, an upstream or a call is put on the page with
// textContent or as an attribute value, never parsed as HTML. The API token, when the
// gateway asks for one, lives in sessionStorage: this tab only.
"use strict";

const TOKEN_KEY = "capgate-console-token";
const FEED_ROWS = 200;

let capability = null;
let lastSeq = 0;
let feedTimer = null;
let streamAbort = null;

// ---- DOM helpers (text only; el(), $ and secretForm are in src/common/www/page.js) ----

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function statusBadge(status) {
  if (status === null || status === undefined) return el("span", { class: "muted" }, "–");
  const cls = status >= 500 ? "s5" : status >= 400 ? "s4" : "s2";
  return el("span", { class: "badge " + cls }, status);
}

// ---- the API, with the token -------------------------------------------------------

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

class Unauthorized extends Error {}

async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = authHeaders(o.headers);
  const res = await fetch(path, o);
  if (res.status === 401) {
    askForToken(sessionStorage.getItem(TOKEN_KEY) ? "That token was refused." : "");
    throw new Unauthorized("401");
  }
  return res;
}

async function apiJSON(path, options) {
  const res = await api(path, options);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text), text };
  } catch (e) {
    return { status: res.status, body: null, text };
  }
}

const askForToken = secretForm(TOKEN_KEY, "auth-token", () => start());

// ---- capability: header, routes, tools, upstreams ------------------------------------

function renderHeader(c) {
  $("cap-label").textContent = c.label || "(no label)";
  document.title = (c.label || "capgate") + " — capgate console";
  $("cap-description").textContent = c.description || "";
  $("cap-meta").textContent = [c.file, c.auth ? "inbound auth on" : "inbound auth off"]
    .filter(Boolean).join(" · ");
  if (c.mcp) $("mcp-url").textContent = `MCP on port ${c.mcp.port} at ${c.mcp.path}`;
}

function argsText(args) {
  return (args || []).map((a) => `${a.name} (${a.in}, ${a.type}${a.required ? ", required" : ""})`).join("; ");
}

function renderRoutes(c) {
  const tb = $("routes").tBodies[0];
  tb.replaceChildren();
  for (const r of c.routes) {
    tb.append(el("tr", { "data-route": r.method + " " + r.path },
      el("td", {}, el("span", { class: "badge" }, r.method)),
      el("td", { class: "mono" }, r.path),
      el("td", {}, r.description || r.name || ""),
      el("td", { class: "small" }, argsText(r.arguments))));
  }
  if (!c.routes.length) tb.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "no REST routes")));
}

function hintBadges(a) {
  const box = el("div", { class: "hints" });
  const names = { readOnlyHint: "read-only", destructiveHint: "destructive",
                  idempotentHint: "idempotent", openWorldHint: "open world" };
  for (const [k, label] of Object.entries(names)) {
    if (a && k in a) box.append(el("span", { class: "badge" + (k === "destructiveHint" && a[k] ? " s5" : "") },
      `${label}: ${a[k] ? "yes" : "no"}`));
  }
  return box;
}

function renderTools(c) {
  const box = $("tools");
  box.replaceChildren();
  for (const t of c.tools) {
    box.append(el("article", { class: "tool", "data-tool": t.name },
      el("h3", {}, t.name),
      t.title ? el("p", {}, t.title) : null,
      el("p", { class: "muted small" }, t.description || ""),
      hintBadges(t.annotations),
      el("details", {}, el("summary", {}, "input schema"),
        el("pre", {}, JSON.stringify(t.inputSchema, null, 2)))));
  }
  if (!c.tools.length) box.append(el("p", { class: "muted" }, "no MCP tools"));
}

function renderCallTargets(c) {
  const sel = $("call-target");
  sel.replaceChildren();
  const tools = el("optgroup", { label: "MCP tools" });
  for (const t of c.tools) tools.append(el("option", { value: "tool:" + t.name }, t.name));
  const routes = el("optgroup", { label: "REST routes" });
  c.routes.forEach((r, i) => routes.append(el("option", { value: "route:" + i }, `${r.method} ${r.path}`)));
  if (c.tools.length) sel.append(tools);
  if (c.routes.length) sel.append(routes);
}

async function loadUpstreams() {
  const tb = $("upstreams").tBodies[0];
  const byNs = {};
  for (const u of capability.consumes) byNs[u.namespace] = u;
  if (!tb.rows.length) {
    for (const u of capability.consumes) {
      tb.append(el("tr", { "data-namespace": u.namespace },
        el("td", { class: "mono" }, u.namespace), el("td", { class: "mono" }, u.baseUri),
        el("td", {}, el("span", { class: "badge" }, "checking")), el("td", {}, u.authentication)));
    }
  }
  const r = await apiJSON("/console/api/upstreams");
  if (!r.body) return;
  tb.replaceChildren();
  for (const u of r.body.upstreams) {
    const answer = u.up ? el("span", { class: "badge up", title: `HTTP ${u.status}` }, `yes (HTTP ${u.status}, ${Math.round(u.ms)} ms)`)
                        : el("span", { class: "badge down" }, "no: " + (u.error || "no answer"));
    tb.append(el("tr", { "data-namespace": u.namespace },
      el("td", { class: "mono" }, u.namespace), el("td", { class: "mono" }, u.baseUri),
      el("td", {}, answer), el("td", {}, (byNs[u.namespace] || {}).authentication || "")));
  }
}
$("upstreams-refresh").addEventListener("click", () => loadUpstreams().catch(() => {}));

// ---- the live feed ------------------------------------------------------------------

function fmtTime(ts) {
  const d = new Date(ts * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// Rows are added once per animation frame, so a busy gateway costs the page one layout a
// frame, not one per call; only a trickle of rows gets the highlight animation.
let pending = [];
let frameAsked = false;

function addEvent(e) {
  if (e.seq <= lastSeq) return;
  lastSeq = e.seq;
  pending.push(e);
  if (!frameAsked) {
    frameAsked = true;
    requestAnimationFrame(flushEvents);
  }
}

function flushEvents() {
  frameAsked = false;
  const batch = pending.slice(-FEED_ROWS);
  pending = [];
  const tb = $("feed").tBodies[0];
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) {
    const e = batch[i];
    const call = e.method === "tools/call" ? e.target : `${e.method} ${e.target}`;
    frag.append(el("tr", { class: batch.length <= 5 ? "new" : null, "data-adapter": e.adapter, "data-seq": e.seq },
      el("td", { class: "mono" }, fmtTime(e.ts)),
      el("td", {}, e.adapter),
      el("td", { class: "mono" }, call),
      el("td", {}, statusBadge(e.status)),
      el("td", {}, statusBadge(e.upstream_status)),
      el("td", {}, e.duration_ms.toFixed(1))));
  }
  tb.prepend(frag);
  while (tb.rows.length > FEED_ROWS) tb.deleteRow(tb.rows.length - 1);
}

function setFeedState(text, live) {
  const b = $("feed-state");
  b.textContent = text;
  b.className = "badge" + (live ? " live" : "");
}

let skippedTotal = 0;
function noteSkipped(n) {
  if (!n) return;
  skippedTotal += n;
  $("feed-skipped").textContent = `${skippedTotal} calls not shown (more than this page is sent per second)`;
}

// Server-Sent Events read through fetch (EventSource cannot send the token).
async function streamFeed() {
  streamAbort = new AbortController();
  const res = await api("/console/api/stream?after=" + lastSeq, { signal: streamAbort.signal });
  if (res.status !== 200 || !res.body) throw new Error("stream status " + res.status);
  setFeedState("live", true);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (!data) continue;
      const obj = JSON.parse(data);
      if (event === "skipped") noteSkipped(obj.skipped);
      else addEvent(obj);
    }
  }
  throw new Error("stream ended");
}

async function pollFeed() {
  setFeedState("polling", true);
  for (;;) {
    const r = await apiJSON("/console/api/events?after=" + lastSeq);
    if (r.body) {
      noteSkipped(r.body.skipped);
      for (const e of r.body.events) addEvent(e);
    }
    await new Promise((ok) => setTimeout(ok, 400));
  }
}

async function runFeed() {
  // the recent past first, then live
  const r = await apiJSON("/console/api/events?after=0");
  if (r.body) for (const e of r.body.events.slice(-50)) addEvent(e);
  for (;;) {
    try {
      await streamFeed();
    } catch (e) {
      if (e instanceof Unauthorized) return;
      if (/status 50[01]/.test(String(e.message))) return pollFeed();
      setFeedState("reconnecting", false);
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }
}

// ---- stats and charts ----------------------------------------------------------------

function drawBars(id, values, cls) {
  const s = $(id);
  s.replaceChildren();
  const max = Math.max(1, ...values);
  const w = 120 / values.length;
  s.append(svg("line", { x1: 0, y1: 35.5, x2: 120, y2: 35.5, class: "axis" }));
  values.forEach((v, i) => {
    if (!v) return;
    const h = Math.max(1, (v / max) * 34);
    s.append(svg("rect", { x: (i * w).toFixed(2), y: (35 - h).toFixed(2), width: Math.max(0.5, w - 0.4).toFixed(2),
                           height: h.toFixed(2), class: "bar" + (cls ? " " + cls : "") }));
  });
}

const ms = (v) => (v === null || v === undefined ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(0));

async function loadStats() {
  const r = await apiJSON("/console/api/stats");
  if (!r.body) return;
  const s = r.body.seconds, t = r.body.total;
  $("stat-rate").textContent = t.rate.toFixed(1);
  $("stat-errors").textContent = `${t.errors} (${(t.error_rate * 100).toFixed(1)}%)`;
  $("stat-latency").textContent = `${ms(t.p50)} / ${ms(t.p95)} / ${ms(t.p99)} ms`;
  drawBars("chart-rate", s.map((x) => x.calls));
  drawBars("chart-errors", s.map((x) => x.errors), "err");
  drawBars("chart-latency", s.map((x) => x.p95 || 0));
}

// ---- calling a tool or a route --------------------------------------------------------

function routeRequest(route, args) {
  let path = route.path;
  const query = new URLSearchParams();
  const headers = {};
  let body;
  for (const a of route.arguments) {
    if (!(a.name in args)) continue;
    const v = args[a.name];
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (a.in === "path") path = path.replace(new RegExp("\\{\\{?" + a.name + "\\}?\\}"), encodeURIComponent(text));
    else if (a.in === "query") query.set(a.name, text);
    else if (a.in === "header") headers[a.name] = text;
    else if (a.in === "body") body = typeof v === "string" ? v : JSON.stringify(v);
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const qs = query.toString();
  return { url: path + (qs ? "?" + qs : ""), options: { method: route.method, headers, body } };
}

$("call-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("call-output"), status = $("call-status");
  let args;
  try {
    args = JSON.parse($("call-args").value || "{}");
    if (typeof args !== "object" || args === null || Array.isArray(args)) throw new Error("not an object");
  } catch (e) {
    status.textContent = "The arguments must be a JSON object: " + e.message;
    status.className = "small error";
    return;
  }
  const target = $("call-target").value;
  $("call-submit").disabled = true;
  status.className = "small";
  status.textContent = "calling…";
  out.textContent = "";
  const t0 = performance.now();
  try {
    let r;
    if (target.startsWith("tool:")) {
      r = await apiJSON("/console/api/tools/" + encodeURIComponent(target.slice(5)),
        { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(args) });
    } else {
      const req = routeRequest(capability.routes[Number(target.slice(6))], args);
      r = await apiJSON(req.url, req.options);
    }
    const took = Math.round(performance.now() - t0);
    const isError = r.body && r.body.result && r.body.result.isError;
    status.textContent = `HTTP ${r.status} in ${took} ms` + (isError ? " — the tool reported an error" : "");
    out.textContent = r.body ? JSON.stringify(r.body, null, 2) : r.text;
  } catch (e) {
    if (!(e instanceof Unauthorized)) {
      status.textContent = "The call failed: " + e.message;
      status.className = "small error";
    }
  } finally {
    $("call-submit").disabled = false;
  }
});

// ---- start ----------------------------------------------------------------------------

let started = false;
async function start() {
  try {
    const r = await apiJSON("/console/api/capability");
    if (!r.body) throw new Error("capability: HTTP " + r.status);
    capability = r.body;
  } catch (e) {
    if (!(e instanceof Unauthorized)) $("cap-label").textContent = "The console could not load: " + e.message;
    return;
  }
  renderHeader(capability);
  renderRoutes(capability);
  renderTools(capability);
  renderCallTargets(capability);
  document.body.dataset.ready = "1";
  loadUpstreams().catch(() => {});
  if (started) return;
  started = true;
  runFeed().catch(() => setFeedState("stopped", false));
  loadStats().catch(() => {});
  feedTimer = setInterval(() => loadStats().catch(() => {}), 2000);
}

start();
