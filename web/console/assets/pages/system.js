// System: this node's health and version (`/health`), what the API offers (`/api/v1/openapi.json`), and the
// nodes, model cache and storage when the API reports them (`/api/v1/system`).

import { api, health } from "../api.js";
import { h, badge, pageHeader, failure, loading, errorBox, fmt } from "../ui.js";

export async function page(root) {
  const healthBox = h("section", { class: "panel", id: "health" }, h("h2", {}, "This node"), loading());
  const apiBox = h("section", { class: "panel" }, h("h2", {}, "API"), loading());
  const systemBox = h("section", { class: "panel" }, h("h2", {}, "Nodes, models and storage"), loading());
  root.append(pageHeader("System", "Health of this node and what it runs."), healthBox, apiBox, systemBox);
  try {
    const { status, body } = await health();
    const checks = Object.entries(body.checks || {});
    healthBox.lastChild.replaceWith(h("div", {},
      h("p", {}, "Status: ", badge(body.status || String(status), body.status === "ok" ? "ok" : "bad"), " · version ", h("code", {}, body.version || "?")),
      h("ul", { class: "checks" }, checks.map(([name, state]) => h("li", {}, badge(state, state === "up" ? "ok" : "bad"), " ", name)))));
  } catch (err) {
    healthBox.lastChild.replaceWith(errorBox(err));
  }
  try {
    const doc = await api("/openapi.json");
    const ops = Object.values(doc.paths || {}).reduce((n, p) => n + Object.keys(p).length, 0);
    apiBox.lastChild.replaceWith(h("p", {}, `OpenAPI ${doc.openapi} · ${ops} operations · `, h("a", { href: "/api/v1/openapi.json", target: "_blank", rel: "noopener" }, "openapi.json")));
  } catch (err) {
    apiBox.lastChild.replaceWith(errorBox(err));
  }
  try {
    const s = await api("/system");
    const rows = [];
    for (const n of s.nodes || []) rows.push(h("li", {}, `${n.name || n.id}: ${n.role || ""} ${n.version || ""}`));
    for (const m of s.models || []) rows.push(h("li", {}, `${m.name}: ${m.cached ? "cached" : "not fetched"}${m.size_bytes ? ` · ${fmt.number(m.size_bytes / 1e6)} MB` : ""}`));
    if (s.store) rows.push(h("li", {}, `Store: ${s.store.kind || ""} ${s.store.status || ""}`));
    if (s.spool) rows.push(h("li", {}, `Spool: ${fmt.number(s.spool.pending)} pending`));
    systemBox.lastChild.replaceWith(h("ul", { class: "checks" }, rows));
  } catch (err) {
    systemBox.lastChild.replaceWith(failure("Node and model details", err));
  }
}
