// Live calls: the calls in progress on this node (agent, transport, duration, live transcript), refreshed every
// few seconds, with hang-up. `GET /api/v1/calls/live`; a node without that route says so.

import { api } from "../api.js";
import { h, fmt, pageHeader, failure, empty, loading, errorBox, confirm } from "../ui.js";

export async function page(root, ctx) {
  const body = h("div", {}, loading());
  root.append(pageHeader("Live calls", "Calls in progress right now."), body);
  const draw = async () => {
    let calls;
    try {
      const answer = await api("/calls/live");
      calls = Array.isArray(answer) ? answer : answer.calls || answer.items || [];
    } catch (err) {
      body.replaceChildren(failure("Live calls", err));
      return false;
    }
    if (!calls.length) {
      body.replaceChildren(empty("No calls in progress", "Calls show here while they last."));
      return true;
    }
    body.replaceChildren(h("ul", { class: "cards", id: "live-calls" }, calls.map((c) => {
      const hang = ctx.canWrite ? h("button", { type: "button", class: "danger small" }, "Hang up") : null;
      if (hang) hang.addEventListener("click", async () => {
        if (!(await confirm("Hang up this call?", "The caller hears the call end now.", "Hang up"))) return;
        try {
          await api(`/calls/live/${encodeURIComponent(c.call_id)}/hangup`, { method: "POST" });
        } catch (err) {
          body.prepend(errorBox(err));
        }
      });
      const started = c.started_at ? (typeof c.started_at === "number" ? c.started_at * 1000 : Date.parse(c.started_at)) : null;
      return h("li", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, c.agent_type || c.agent || c.agent_id || "call"), h("span", { class: "badge info" }, c.transport || "")),
        h("dl", { class: "facts" }, h("dt", {}, "Caller"), h("dd", {}, fmt.mask(c.caller || c.from_number)),
          h("dt", {}, "Duration"), h("dd", {}, started ? fmt.duration((Date.now() - started) / 1000) : "—")),
        (c.transcript || []).length ? h("ol", { class: "transcript compact" }, c.transcript.slice(-4).map((t) =>
          h("li", { class: `bubble ${t.role === "user" ? "user" : "agent"}` }, t.content))) : null,
        h("div", { class: "card-actions" }, hang));
    })));
    return true;
  };
  if (!(await draw())) return;
  const timer = setInterval(async () => {
    if (!ctx.alive() || !(await draw())) clearInterval(timer);
  }, 3000);
}
