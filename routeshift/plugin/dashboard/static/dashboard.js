// The Routeshift dashboard page: follows /api/v1/events and draws the list or one Canary.
//
// Plain JavaScript, no build step and nothing loaded from elsewhere (the server's
// Content-Security-Policy forbids it). Every text from the cluster goes into the DOM as
// text nodes, never as HTML. Views are the server's documents (views.canary_view); this
// file only lays them out. With --allow-actions the command prints a URL whose fragment
// carries a per-run token: it is moved to sessionStorage at once (and out of the address
// bar) and sent in a header with each operation.
"use strict";

const TOKEN_KEY = "routeshift-dashboard-token";
const state = {
  info: null,
  canaries: new Map(), // "namespace/name" -> view
  problems: {},
  loaded: false,
  token: null,
  busy: false,
};

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function keyOf(view) { return `${view.namespace}/${view.name}`; }

function formatValue(value) {
  if (value === null || value === undefined) return "-";
  return Math.abs(value) < 1e6 ? String(Number(value.toPrecision(4))) : value.toExponential(3);
}

function age(timestamp) {
  if (!timestamp) return "-";
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (Number.isNaN(seconds)) return "-";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  if (seconds < 3 * 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function phaseBadge(view) {
  return el("span", { class: "phase", "data-phase": view.phase, "data-field": "phase" }, view.phase);
}

function verdictBadge(verdict) {
  if (!verdict) return el("span", { class: "muted" }, "-");
  return el("span", { class: "verdict", "data-verdict": verdict }, verdict);
}

function samples(metric) {
  if (metric.sampleSize === null || metric.sampleSize === undefined) return "-";
  return metric.minSampleSize ? `${metric.sampleSize}/${metric.minSampleSize}` : String(metric.sampleSize);
}

function weightBar(view) {
  const weights = view.weights;
  if (!weights) return el("span", { class: "muted", "data-field": "weights" }, "no weights yet");
  return el("div", { class: "weights", "data-field": "weights",
                     title: `${view.backends.stable} ${weights.stable}%, ${view.backends.canary} ${weights.canary}%` },
    el("div", { class: "bar" },
      el("span", { class: "stable", "data-width": weights.stable }),
      el("span", { class: "canary", "data-width": weights.canary })),
    el("span", { class: "weight-text" }, `canary ${weights.canary}% / stable ${weights.stable}%`));
}

function observedSplit(view) {
  if (!view.routes.length) return el("span", { class: "muted", "data-field": "observed" }, "no route");
  return el("span", { "data-field": "observed" }, view.routes.map((route) => {
    const label = view.routes.length > 1 ? `${route.name}: ` : "";
    if (route.state !== "found" || !route.splits.length) {
      return el("span", { class: "route muted", title: route.note }, `${label}${route.note || route.state}`);
    }
    const split = route.splits[0];
    const intended = view.weights ? view.weights.canary : null;
    const lagging = intended !== null && split.canaryPercent !== intended;
    return el("span", { class: lagging ? "route warn" : "route", title: `HTTPRoute ${route.namespace}/${route.name}` },
      `${label}canary ${split.canaryPercent}%`, lagging ? ` (intended ${intended}%)` : null);
  }));
}

// CSP forbids inline style attributes; widths are applied through the CSSOM instead.
function applyWidths(root) {
  for (const node of root.querySelectorAll("[data-width]")) node.style.width = `${node.dataset.width}%`;
}

// ------------------------------------------------------------------ list view

function renderList() {
  const all = state.info && state.info.allNamespaces;
  const items = [...state.canaries.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  if (!items.length) {
    const where = all ? "any namespace" : `namespace ${state.info ? state.info.namespace : ""}`;
    return el("p", { class: "empty", id: "empty" }, state.loaded ? `No canaries found in ${where}.` : "Loading…");
  }
  const head = ["Name", "Phase", "Step", "Weights", "Observed split", "Release", "Verdict", "Metrics", "Age"];
  if (all) head.unshift("Namespace");
  return el("table", { class: "list", id: "canary-list" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, items.map((view) => el("tr", { "data-canary": keyOf(view) },
      all ? el("td", {}, view.namespace) : null,
      el("td", {}, el("a", { href: `/canaries/${encodeURIComponent(view.namespace)}/${encodeURIComponent(view.name)}`,
                             "data-link": true, class: "name" }, view.name)),
      el("td", {}, phaseBadge(view), view.paused ? el("span", { class: "paused" }, " paused") : null),
      el("td", { "data-field": "step" }, view.step.label),
      el("td", {}, weightBar(view)),
      el("td", {}, observedSplit(view)),
      el("td", {}, view.release || "-"),
      el("td", {}, verdictBadge(view.lastVerdict)),
      el("td", { "data-field": "metrics" }, view.metrics.length
        ? view.metrics.map((m) => el("div", { class: "metric-line" },
            verdictBadge(m.verdict), ` ${m.metric} ${formatValue(m.value)} (${m.bound || "-"})`))
        : el("span", { class: "muted" }, "-")),
      el("td", {}, age(view.createdAt))))));
}

// ------------------------------------------------------------------ detail view

function section(title, ...content) {
  return el("section", { class: "card" }, el("h3", {}, title), content);
}

function planSteps(view) {
  if (!view.step.plan.length) return el("span", {}, view.strategy);
  return el("span", { class: "plan" }, `${view.strategy} `, view.step.plan.map((label, index) =>
    el("span", { class: index === view.step.current ? "step current" : "step" }, label)));
}

function summary(view) {
  const rows = [
    ["Phase", [phaseBadge(view), ` step ${view.step.label}`,
               view.paused ? el("span", { class: "paused" }, ` paused (${view.pausedReason || "paused"})`) : null]],
  ];
  if (view.workload) {
    const w = view.workload;
    rows.push(["Target", `Deployment ${w.target} (Services ${w.primary}, ${w.canaryService})`]);
  } else {
    rows.push(["Release", [view.specRelease || "(none)",
      view.statusRelease && view.statusRelease !== view.specRelease
        ? el("span", { class: "warn" }, ` (status still on ${view.statusRelease})`) : null]]);
  }
  if (!view.observed) rows.push(["Generation", el("span", { class: "warn" },
    `${view.generation} not yet observed by the controller`)]);
  rows.push(["Strategy", planSteps(view)]);
  if (view.message) rows.push(["Message", el("span", { "data-field": "message" }, view.message)]);
  rows.push(["Verdict", verdictBadge(view.lastVerdict)]);
  const pending = Object.keys(view.pendingOperations || {});
  if (pending.length) rows.push(["Pending", pending.join(", ")]);
  return el("dl", { class: "summary" }, rows.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function actions(view) {
  if (!state.info || !state.info.actionsAllowed) return null;
  const body = [];
  if (!state.token) {
    body.push(el("p", { class: "warn", id: "token-missing" },
      "Operations need the URL the dashboard printed (it carries the token after #)."));
  }
  body.push(el("div", { class: "buttons" }, state.info.operations.map((operation) => {
    const check = view.operations[operation] || { applies: false, reason: "" };
    return el("button", { type: "button", class: `action ${operation}`, "data-operation": operation,
                          disabled: !check.applies || !state.token || state.busy, title: check.reason,
                          onclick: () => operate(view, operation) }, operation);
  })));
  return section("Operations", body);
}

function traffic(view) {
  const w = view.weights;
  const rows = w ? [["stable", view.backends.stable, w.stable], ["canary", view.backends.canary, w.canary]]
    .map(([role, backend, weight]) => el("div", { class: "traffic-row" },
      el("span", { class: "role" }, role), el("span", { class: "backend" }, backend),
      el("div", { class: "bar wide" }, el("span", { class: role, "data-width": weight })),
      el("span", { class: "pct", "data-field": `weight-${role}` }, `${weight}%`)))
    : [el("p", { class: "muted" }, "no weights set yet")];
  const routes = view.routes.map((route) => el("div", { class: "route-line", "data-route": `${route.namespace}/${route.name}` },
    `HTTPRoute ${route.namespace}/${route.name}: `,
    route.splits.length
      ? route.splits.map((s) => `${view.backends.stable}=${s.stable} ${view.backends.canary}=${s.canary} (canary ${s.canaryPercent}%) `)
      : el("span", { class: "muted" }, route.note || route.state),
    route.accepted.map((a) => el("span", { class: a.status === "True" && a.current ? "ok" : "warn" },
      ` [Accepted=${a.status}${a.current ? "" : " for an older generation"}]`))));
  return section("Traffic", el("div", { "data-field": "weights" }, rows),
    el("h4", {}, "Observed split (what the routes carry)"), routes.length ? routes : el("p", { class: "muted" }, "no route"));
}

function analysis(view) {
  if (!view.metrics.length) {
    const note = view.configuredMetrics.length ? "no metric judged yet" : "no metrics configured";
    return section("Analysis", el("p", { class: "muted" }, note));
  }
  return section("Analysis", el("table", { class: "metrics", id: "metrics" },
    el("thead", {}, el("tr", {}, ["Metric", "Value", "Bound", "Samples", "Verdict", "Reason"].map((h) => el("th", {}, h)))),
    el("tbody", {}, view.metrics.map((m) => el("tr", { "data-metric": m.metric },
      el("td", {}, m.metric), el("td", { class: "num" }, formatValue(m.value)), el("td", {}, m.bound || "-"),
      el("td", { class: "num" }, samples(m)), el("td", {}, verdictBadge(m.verdict)), el("td", {}, m.reason))))));
}

function holds(view) {
  if (!view.holds.length) return null;
  return section("Holding", el("ul", { class: "holds" }, view.holds.map((reason) => el("li", {}, reason))));
}

function images(map) {
  const entries = Object.entries(map || {});
  return entries.length ? entries.map(([name, image]) => `${name}=${image}`).join(", ") : "-";
}

function workload(view) {
  const w = view.workload;
  if (!w) return null;
  const rows = [
    ["Primary", `${w.primary} revision ${w.primaryRevision || "-"} (${images(w.primaryImages)})`],
    ["Canary", w.canaryRevision ? `${w.target} revision ${w.canaryRevision} (${images(w.canaryImages)}), ${w.canaryState}`
                                : `${w.target}: no rollout`],
  ];
  if (w.failed) rows.push(["Last failed", `revision ${w.failed.revision} (${images(w.failed.images)})`
                           + (w.failed.reason ? `: ${w.failed.reason}` : "")]);
  return section("Revisions", el("dl", { class: "summary", id: "revisions" },
    rows.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)])));
}

function conditions(view) {
  if (!view.conditions.length) return null;
  return section("Conditions", el("table", { class: "conditions" },
    el("thead", {}, el("tr", {}, ["Type", "Status", "Reason", "Message"].map((h) => el("th", {}, h)))),
    el("tbody", {}, view.conditions.map((c) => el("tr", {},
      el("td", {}, c.type), el("td", { class: c.status === "True" ? "ok" : "warn" }, c.status),
      el("td", {}, c.reason || ""), el("td", {}, c.message || ""))))));
}

function decisions(view) {
  if (!view.decisions.length) return section("Decision log", el("p", { class: "muted" }, "no decisions recorded yet"));
  const newestFirst = [...view.decisions].reverse();
  return section("Decision log", el("table", { class: "decisions", id: "decisions" },
    el("thead", {}, el("tr", {}, ["Age", "Phase", "Step", "Weight", "Verdict", "Reason"].map((h) => el("th", {}, h)))),
    el("tbody", {}, newestFirst.map((d) => el("tr", {},
      el("td", { title: d.time || "" }, age(d.time)), el("td", {}, d.phase), el("td", { class: "num" }, d.step + 1),
      el("td", { class: "num" }, `${d.weight}%`), el("td", {}, verdictBadge(d.verdict)),
      el("td", {}, d.reason, d.metrics.map((m) => el("div", { class: "metric-line muted" },
        `${m.metric}: ${formatValue(m.value)} (bound ${m.bound || "-"}, n=${m.sampleSize ?? "-"}) ${m.verdict || ""}`))))))));
}

function renderDetail(namespace, name) {
  const view = state.canaries.get(`${namespace}/${name}`);
  const back = el("a", { href: "/", "data-link": true, class: "back" }, "← all canaries");
  if (!view) {
    return el("div", {}, back, el("p", { class: "empty", id: "empty" },
      state.loaded ? `Canary ${namespace}/${name} not found.` : "Loading…"));
  }
  return el("div", { class: "detail", "data-canary": keyOf(view) }, back,
    el("h2", {}, view.name, el("span", { class: "muted" }, ` namespace ${view.namespace}`)),
    summary(view), actions(view), traffic(view), analysis(view), holds(view), workload(view), conditions(view),
    decisions(view));
}

// ------------------------------------------------------------------ page

function route() {
  const match = location.pathname.match(/^\/canaries\/([^/]+)\/([^/]+)$/);
  return match ? { namespace: decodeURIComponent(match[1]), name: decodeURIComponent(match[2]) } : null;
}

function render() {
  const target = route();
  const view = target ? renderDetail(target.namespace, target.name) : renderList();
  applyWidths(view);
  document.getElementById("view").replaceChildren(view);
  document.title = target ? `${target.name} · Routeshift canaries` : "Routeshift canaries";
  const problems = Object.entries(state.problems);
  const banner = document.getElementById("problems");
  banner.hidden = !problems.length;
  banner.replaceChildren(...problems.map(([watch, text]) => el("div", {}, `${watch}: ${text}`)));
}

function renderHeader() {
  const info = state.info;
  document.getElementById("scope").textContent = info.allNamespaces ? "all namespaces" : `namespace ${info.namespace}`;
  const mode = document.getElementById("mode");
  mode.textContent = info.actionsAllowed ? "actions enabled" : "read-only";
  mode.dataset.mode = info.actionsAllowed ? "actions" : "read-only";
}

function setConnection(stateName, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = stateName;
  badge.textContent = text;
}

function flash(kind, text) {
  const box = document.getElementById("flash");
  box.dataset.kind = kind;
  box.textContent = text;
  box.hidden = false;
}

async function operate(view, operation) {
  state.busy = true;
  render();
  try {
    const response = await fetch(`/api/v1/canaries/${encodeURIComponent(view.namespace)}/${encodeURIComponent(view.name)}/${operation}`,
      { method: "POST", headers: { [state.info.tokenHeader]: state.token || "" }, credentials: "same-origin" });
    const body = await response.json();
    if (response.ok) flash("ok", `${operation} ${view.namespace}/${view.name}: ${body.expectation}`);
    else flash("error", `${operation} refused (${response.status}): ${body.error}`);
  } catch (error) {
    flash("error", `${operation} failed: ${error}`);
  } finally {
    state.busy = false;
    render();
  }
}

function connect() {
  const source = new EventSource("/api/v1/events");
  source.addEventListener("open", () => setConnection("live", "live"));
  source.addEventListener("error", () => setConnection("reconnecting", "reconnecting…"));
  source.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    state.canaries = new Map(data.items.map((view) => [keyOf(view), view]));
    state.problems = data.problems;
    state.loaded = true;
    setConnection("live", "live");
    render();
  });
  source.addEventListener("canary", (event) => {
    const view = JSON.parse(event.data);
    state.canaries.set(keyOf(view), view);
    render();
  });
  source.addEventListener("deleted", (event) => {
    state.canaries.delete(keyOf(JSON.parse(event.data)));
    render();
  });
  source.addEventListener("problems", (event) => {
    state.problems = JSON.parse(event.data).problems;
    render();
  });
}

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = sessionStorage.getItem(TOKEN_KEY);
}

async function start() {
  takeToken();
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-link]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    history.pushState(null, "", link.getAttribute("href"));
    document.getElementById("flash").hidden = true;
    render();
  });
  window.addEventListener("popstate", render);
  state.info = await (await fetch("/api/v1/info")).json();
  renderHeader();
  connect();
  setInterval(render, 15000); // ages move even when nothing else does
}

start();
