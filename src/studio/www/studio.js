// capgate studio's page — the script (served from the binary, no dependencies).
//
// Reads studio's JSON API with the key the user gives (kept in sessionStorage: this tab
// only), renders every value from the database as text (textContent, attribute values),
// and polls: every second while a prediction run is queued or running, else every 5 s.
"use strict";

const KEY = "capgate-studio-key";
const projectNodes = new Map();   // project id -> {root, counts, backends}
const backendNodes = new Map();   // backend id -> {...}
let timer = null;

class Unauthorized extends Error {}

async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = Object.assign({ Authorization: "Token " + (sessionStorage.getItem(KEY) || "") }, o.headers || {});
  const res = await fetch(path, o);
  if (res.status === 401 || res.status === 403) {
    askForKey(sessionStorage.getItem(KEY) ? "That key was refused." : "");
    throw new Unauthorized(String(res.status));
  }
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, body };
}

const askSecret = secretForm(KEY, "auth-key", () => refresh());

function askForKey(message) {
  clearTimeout(timer);
  $("signout").hidden = true;
  askSecret(message);
}
$("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); askForKey(""); });

// ---- rendering ----------------------------------------------------------------------------

function count(label, cls) {
  const v = el("strong", { class: cls }, "–");
  return { node: el("div", {}, v, el("span", { class: "muted small" }, label)), value: v };
}

function projectNode(p) {
  let n = projectNodes.get(p.id);
  if (n) return n;
  const tasks = count("tasks", "tasks"), anns = count("annotations", "annotations"), preds = count("predictions", "predictions");
  const title = el("h2", {});
  const backends = el("div", { class: "backends" });
  const root = el("article", { class: "project", "data-project": p.id }, title,
    el("div", { class: "counts" }, tasks.node, anns.node, preds.node), backends);
  $("projects").append(root);
  n = { root, title, tasks: tasks.value, anns: anns.value, preds: preds.value, backends };
  projectNodes.set(p.id, n);
  return n;
}

function renderProject(p) {
  const n = projectNode(p);
  n.title.textContent = p.title || `Project ${p.id}`;
  n.tasks.textContent = p.task_number ?? 0;
  n.anns.textContent = p.total_annotations_number ?? 0;
  n.preds.textContent = p.total_predictions_number ?? 0;
  return n;
}

function backendNode(b, parent) {
  let n = backendNodes.get(b.id);
  if (n) return n;
  const title = el("h3", {});
  const state = el("span", { class: "badge" });
  const version = el("span", { class: "version" });
  const versions = el("span", { class: "versions muted" });
  const url = el("code", { class: "url" });
  const train = el("button", { type: "button", class: "train" }, "Train");
  const predict = el("button", { type: "button", class: "predict" }, "Predict all tasks");
  const note = el("p", { class: "note muted", role: "status" });
  const fill = el("div", {});
  const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 0, "aria-valuenow": 0,
                          "aria-label": "prediction run progress" }, fill);
  const runText = el("div", { class: "run-text" });
  const run = el("div", { class: "run", hidden: "" }, bar, runText);
  const root = el("section", { class: "backend", "data-backend": b.id }, title,
    el("div", { class: "meta" }, state, el("span", {}, "model ", version), versions, url),
    el("div", { class: "actions" }, train, predict), note, run);
  parent.append(root);
  n = { root, title, state, version, versions, url, train, predict, note, run, bar, fill, runText, id: b.id, versionsLoaded: false };
  train.addEventListener("click", () => act(n, "train"));
  predict.addEventListener("click", () => act(n, "predict"));
  backendNodes.set(b.id, n);
  return n;
}

function renderBackend(b, parent) {
  const n = backendNode(b, parent);
  n.title.textContent = b.title || `Backend ${b.id}`;
  n.state.textContent = b.readable_state || b.state || "";
  n.state.className = "badge " + (b.state === "CO" ? "ok" : b.state === "ER" ? "bad" : "");
  n.version.textContent = b.model_version || "(none)";
  n.url.textContent = b.url || "";
  if (!n.versionsLoaded) {
    n.versionsLoaded = true;
    api(`/api/ml/${b.id}/versions`).then((r) => {
      const v = r.body && Array.isArray(r.body.versions) ? r.body.versions : [];
      n.versions.textContent = v.length ? "versions: " + v.join(", ") : "";
    }).catch(() => {});
  }
  return n;
}

function fmtSeconds(s) {
  if (!isFinite(s) || s < 0) return "–";
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function renderRun(n, j) {
  if (!j) { n.run.hidden = true; return false; }
  n.run.hidden = false;
  const done = j.predicted + j.failed;
  n.bar.setAttribute("aria-valuemax", j.total);
  n.bar.setAttribute("aria-valuenow", done);
  n.bar.setAttribute("aria-valuetext", `${done} of ${j.total} tasks`);
  n.fill.style.width = (j.total ? (100 * done) / j.total : j.status === "completed" ? 100 : 0).toFixed(1) + "%";
  n.run.className = "run " + (j.status === "completed" ? "done" : j.status === "failed" || j.status === "cancelled" ? "failed" : "");
  n.run.dataset.status = j.status;
  const rate = j.tasks_per_second || 0;
  const parts = [`${j.status}`, `${done} / ${j.total} tasks`];
  if (j.failed) parts.push(`${j.failed} failed`);
  parts.push(`${rate.toFixed(1)} tasks/s`);
  if (j.status === "running" || j.status === "queued") parts.push(`${j.remaining} remaining` + (rate > 0 ? ` (about ${fmtSeconds(j.remaining / rate)})` : ""));
  if (j.model_version) parts.push(`model ${j.model_version}`);
  if (j.error) parts.push(j.error);
  n.runText.textContent = parts.join(" · ");
  const active = j.status === "running" || j.status === "queued";
  n.predict.disabled = active;
  return active;
}

async function act(n, what) {
  const btn = what === "train" ? n.train : n.predict;
  btn.disabled = true;
  n.note.textContent = what === "train" ? "asking the backend to train…" : "starting predictions for all tasks…";
  try {
    const r = await api(`/api/ml/${n.id}/${what}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    if (what === "train") n.note.textContent = r.status < 300 ? "training started" : `training refused: HTTP ${r.status} ${r.body && (r.body.detail || JSON.stringify(r.body)) || ""}`;
    else {
      n.note.textContent = r.status < 300 ? (r.body && r.body.detail) || "started" : `refused: HTTP ${r.status}`;
      if (r.status < 300) {
        n.hasRun = true;
        if (r.body && r.body.job) renderRun(n, r.body.job);
      }
    }
  } catch (e) {
    if (!(e instanceof Unauthorized)) n.note.textContent = "failed: " + e.message;
  } finally {
    btn.disabled = false;
    refresh();
  }
}

// ---- polling -----------------------------------------------------------------------------

let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  clearTimeout(timer);
  let active = false;
  try {
    const r = await api("/api/projects?page_size=100");
    const projects = r.body ? (Array.isArray(r.body) ? r.body : r.body.results || []) : [];
    $("signout").hidden = false;
    $("status").textContent = projects.length ? "" : "No projects yet.";
    for (const p of projects) {
      const pn = renderProject(p);
      const ml = await api(`/api/ml?project=${p.id}`);
      const backends = Array.isArray(ml.body) ? ml.body : [];
      if (!backends.length && !pn.backends.querySelector(".empty"))
        pn.backends.append(el("p", { class: "muted small empty" }, "No ML backend connected."));
      for (const b of backends) {
        const bn = renderBackend(b, pn.backends);
        // A backend's latest run: asked once a run is known to exist (started here, or the
        // project has predictions), since "no run yet" is a 404 the browser would log.
        if (!bn.hasRun && !(p.total_predictions_number > 0)) continue;
        const job = await api(`/api/ml/${b.id}/predict`);
        bn.hasRun = job.status === 200;
        if (renderRun(bn, bn.hasRun ? job.body : null)) active = true;
      }
    }
    document.body.dataset.ready = "1";
  } catch (e) {
    if (e instanceof Unauthorized) { refreshing = false; return; }
    $("status").textContent = "Could not reach studio's API: " + e.message;
  }
  refreshing = false;
  timer = setTimeout(refresh, active ? 1000 : 5000);
}

refresh();
