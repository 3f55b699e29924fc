// System: this node's health (`/health`), its make-up (`GET /api/v1/system`, admins: id, version, uptime, roles,
// store and spool, blob store, SIP listeners and trunk registrations, the model cache as `voicera models list`
// prints it) and what the API offers (`/api/v1/openapi.json`).

import { api, health } from "../api.js";
import { h, badge, pageHeader, failure, loading, errorBox, fmt } from "../ui.js";

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function uptime(secs) {
  const s = Number(secs) || 0;
  const d = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${hours}h` : hours ? `${hours}h ${m}m` : fmt.duration(s);
}

function table(id, caption, head, rows) {
  return h("div", { class: "table-wrap" }, h("table", { id },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

const STATUS_KIND = { ok: "ok", up: "ok", registered: "ok", degraded: "warn", pending: "warn", not_registering: "", down: "bad", failed: "bad" };

function nodeSections(s) {
  const store = s.store || {};
  const spool = s.spool;
  const sip = s.sip || {};
  const models = (s.models && s.models.items) || [];
  const node = h("section", { class: "panel", id: "node" }, h("h2", {}, "Node"), facts([
    ["Node id", h("code", {}, s.node_id || "— (takes no calls)")],
    ["Version", h("code", {}, s.version || "?")],
    ["Roles", (s.roles || []).join(", ") || "—"],
    ["Up for", uptime(s.uptime_secs)],
    ["Started", fmt.date(s.started_at)],
    ["Calls now", fmt.number(s.calls_in_progress)],
  ]));
  const storage = h("section", { class: "panel", id: "storage" }, h("h2", {}, "Store and storage"), facts([
    ["Store", [badge(store.status || "?", STATUS_KIND[store.status] || ""), " ", store.backend || ""]],
    ["Where", h("code", {}, store.describe || "—")],
    spool ? ["Spool", `${fmt.number(spool.items)} records waiting (${fmt.number(spool.bytes / 1024, 1)} KB)${spool.oldest_at ? `, oldest ${fmt.date(spool.oldest_at)}` : ""}`] : null,
    ["Blob store", [(s.blob_store && s.blob_store.kind) || "?", " · ", h("code", {}, (s.blob_store && s.blob_store.describe) || "")]],
  ]));
  const listeners = sip.listeners || [];
  const trunks = sip.trunks || [];
  const sipBox = h("section", { class: "panel", id: "sip" }, h("h2", {}, "SIP"),
    listeners.length
      ? table("sip-listeners", "SIP listeners", ["Transport", "Address", "State"], listeners.map((l) =>
        h("tr", {}, h("td", {}, l.transport.toUpperCase()), h("td", {}, h("code", {}, l.address)), h("td", {}, badge(l.up ? "up" : "down", l.up ? "ok" : "bad")))))
      : h("p", { class: "muted" }, "This node takes no SIP calls."),
    trunks.length
      ? table("sip-trunks", "SIP trunks", ["Trunk", "Registrar", "Registration"], trunks.map((t) =>
        h("tr", {}, h("td", {}, t.name), h("td", {}, h("code", {}, t.registrar)), h("td", {}, badge(t.registration.replace("_", " "), STATUS_KIND[t.registration] || "")))))
      : h("p", { class: "muted" }, "No trunks configured."));
  const cached = models.filter((m) => m.cached).length;
  const modelBox = h("section", { class: "panel", id: "models" }, h("h2", {}, "Model cache"),
    h("p", { class: "muted" }, `${cached} of ${models.length} models cached in `, h("code", {}, (s.models && s.models.dir) || "?"), "."),
    table("model-cache", "Model cache", ["Model", "Kind", "State", "Size", "Used by"], models.map((m) =>
      h("tr", {}, h("td", {}, h("span", { title: m.about || "" }, m.name)), h("td", {}, m.kind),
        h("td", {}, badge(m.cached ? "cached" : "not fetched", m.cached ? "ok" : "")),
        h("td", {}, m.size_bytes ? `${fmt.number(m.size_bytes / 1e6, 1)} MB` : "—"),
        h("td", {}, (m.used_by || []).join(", ") || "—")))));
  return [h("div", { class: "system-grid" }, node, storage), sipBox, modelBox];
}

export async function page(root) {
  const healthBox = h("section", { class: "panel", id: "health" }, h("h2", {}, "Health"), loading());
  const systemBox = h("div", { id: "system" }, loading());
  const apiBox = h("section", { class: "panel", id: "api" }, h("h2", {}, "API"), loading());
  root.append(pageHeader("System", "This node: its health, what it runs and what it keeps."), healthBox, systemBox, apiBox);
  const [healthAnswer, systemAnswer, docAnswer] = await Promise.allSettled([health(), api("/system"), api("/openapi.json")]);
  if (healthAnswer.status === "fulfilled") {
    const { status, body } = healthAnswer.value;
    const checks = Object.entries(body.checks || {});
    healthBox.lastChild.replaceWith(h("div", {},
      h("p", {}, "Status: ", badge(body.status || String(status), body.status === "ok" ? "ok" : body.status === "degraded" ? "warn" : "bad")),
      h("ul", { class: "checks" }, checks.map(([name, state]) => h("li", {}, badge(state, STATUS_KIND[state] || "bad"), " ", name)))));
  } else {
    healthBox.lastChild.replaceWith(errorBox(healthAnswer.reason));
  }
  if (systemAnswer.status === "fulfilled") {
    systemBox.replaceChildren(...nodeSections(systemAnswer.value));
  } else {
    systemBox.replaceChildren(h("section", { class: "panel" }, h("h2", {}, "Node"), failure("Node details", systemAnswer.reason)));
  }
  if (docAnswer.status === "fulfilled") {
    const doc = docAnswer.value;
    const ops = Object.values(doc.paths || {}).reduce((n, p) => n + Object.keys(p).length, 0);
    apiBox.lastChild.replaceWith(h("p", {}, `OpenAPI ${doc.openapi} · ${ops} operations · `,
      h("a", { href: "/api/docs", target: "_blank", rel: "noopener" }, "API docs"), " · ",
      h("a", { href: "/api/v1/openapi.json", target: "_blank", rel: "noopener" }, "openapi.json")));
  } else {
    apiBox.lastChild.replaceWith(errorBox(docAnswer.reason));
  }
}
