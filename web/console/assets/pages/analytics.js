// Analytics: the original's KPIs and per-agent chart, calls per day and latency percentiles when the API
// gives them, with date, agent and number filters (`GET /api/v1/analytics`).

import { api } from "../api.js";
import { h, field, select, fmt, pageHeader, failure, loading, empty } from "../ui.js";
import { barChart, lineChart } from "../charts.js";

export async function page(root, ctx) {
  const values = Object.fromEntries(["agent_type", "phone_number", "start_date", "end_date"].map((k) => [k, ctx.query.get(k) || ""]));
  let agents = [];
  try {
    const a = await api(`/agents/org/${encodeURIComponent(ctx.orgId)}`);
    agents = (Array.isArray(a) ? a : a.agents || []).map((x) => x.agent_type);
  } catch (_) { /* no agent filter */ }
  const form = h("form", { class: "filters" },
    field("Agent", select({ name: "agent_type" }, [["", "All agents"], ...agents.map((x) => [x, x])], values.agent_type)),
    field("Number", h("input", { name: "phone_number", type: "tel", value: values.phone_number })),
    field("From", h("input", { name: "start_date", type: "date", value: values.start_date })),
    field("To", h("input", { name: "end_date", type: "date", value: values.end_date })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    ctx.navigate(`/analytics${q.toString() ? "?" + q : ""}`);
  });
  const body = h("div", {}, loading());
  root.append(pageHeader("Analytics", "How your agents' calls go."), form, body);
  let a;
  try {
    a = await api("/analytics", { query: values });
  } catch (err) {
    body.replaceChildren(failure("Analytics", err));
    return;
  }
  const kpi = (label, value, id) => h("div", { class: "kpi", id }, h("span", { class: "kpi-label" }, label), h("span", { class: "kpi-value" }, value));
  const connectedShare = a.calls_attempted ? `${Math.round((100 * (a.calls_connected || 0)) / a.calls_attempted)}%` : "—";
  body.replaceChildren(
    h("div", { class: "kpis", id: "kpis" },
      kpi("Calls attempted", fmt.number(a.calls_attempted), "kpi-attempted"),
      kpi("Connected", `${fmt.number(a.calls_connected)} (${a.success_rate !== undefined ? `${fmt.number(a.success_rate)}%` : connectedShare})`, "kpi-connected"),
      kpi("Average duration", `${fmt.number(a.average_call_duration, 1)} min`),
      kpi("Minutes connected", fmt.number(a.total_minutes_connected, 1)),
      kpi("Most used agent", a.most_used_agent ? `${a.most_used_agent} (${a.most_used_agent_count})` : "—")));
  const breakdown = (a.agent_breakdown || []).map((b) => ({ label: b.agent_type, value: b.call_count }));
  body.append(h("section", { class: "panel" }, h("h2", {}, "Calls per agent"),
    breakdown.length ? barChart(breakdown, { label: "Calls per agent" }) : empty("No calls in this period", null)));
  const latency = a.latency || {};
  const perDay = latency.per_day || a.calls_per_day || [];
  if (perDay.length) {
    body.append(h("section", { class: "panel" }, h("h2", {}, "Calls per day"),
      lineChart(perDay.map((d) => ({ x: fmt.day(d.date || d.day), y: d.calls ?? d.count ?? 0 })), { label: "Calls per day" })));
  }
  const table = (rows, first, key) => h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, [first, "p50", "p90", "p99", "Turns"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((l) => h("tr", {}, h("td", {}, key(l)), h("td", {}, fmt.ms(l.p50_ms ?? l.p50)),
      h("td", {}, fmt.ms(l.p90_ms ?? l.p90)), h("td", {}, fmt.ms(l.p99_ms ?? l.p99)), h("td", {}, fmt.number(l.turns)))))));
  const perAgent = latency.per_agent || [];
  if (perAgent.length || perDay.some((d) => d.turns)) {
    body.append(h("section", { class: "panel", id: "latency" }, h("h2", {}, "Reply latency (end of the caller's speech to the agent's audio)"),
      perAgent.length ? table(perAgent, "Agent", (l) => l.agent_type) : null,
      perDay.some((d) => d.turns) ? table(perDay.filter((d) => d.turns), "Day", (l) => fmt.day(l.date)) : null));
  }
}
