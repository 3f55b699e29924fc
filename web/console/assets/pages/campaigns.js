// Campaigns (the original's batches): upload a CSV of contacts for an agent, then run now, schedule, stop,
// delete, and watch the counters. `/api/v1/batches...` as the original had them.

import { api } from "../api.js";
import { h, field, select, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors } from "../ui.js";

function uploadForm(ctx, agents, done) {
  const form = h("form", { class: "panel", id: "campaign-upload", novalidate: true }, h("h2", {}, "Upload contacts"),
    h("div", { class: "grid3" },
      field("Campaign name", h("input", { name: "batch_name", required: true, autocomplete: "off" })),
      field("Agent", select({ name: "agent_type" }, agents, agents[0])),
      field("CSV file", h("input", { name: "file", type: "file", accept: ".csv,text/csv", required: true }), "A contact_number column; other columns become {{variables}}.")),
    h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary" }, "Upload")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const data = new FormData(form);
    data.set("org_id", ctx.orgId);
    if (!form.elements.file.files.length) return showFormError(form, { detail: "choose a CSV file", field: "file" });
    try {
      await api("/batches/upload", { method: "POST", body: data });
      toast("Uploaded", "ok");
      done();
    } catch (err) {
      showFormError(form, err);
    }
  });
  return form;
}

export async function page(root, ctx) {
  const body = h("div", {}, loading());
  root.append(pageHeader("Campaigns", "Outbound calls to a list of contacts."), body);
  const reload = () => ctx.navigate("/campaigns", { replace: true });
  let agents = [];
  try {
    const a = await api(`/agents/org/${encodeURIComponent(ctx.orgId)}`);
    agents = (Array.isArray(a) ? a : a.agents || []).map((x) => x.agent_type);
  } catch (_) { /* none to choose */ }
  let batches;
  try {
    const answer = await api("/batches");
    batches = Array.isArray(answer) ? answer : answer.batches || answer.items || [];
  } catch (err) {
    body.replaceChildren(failure("Campaigns", err));
    if (ctx.canWrite && err.unavailable) body.append(uploadForm(ctx, agents, reload));
    return;
  }
  const act = (b, path, label, payload) => {
    const button = h("button", { type: "button", class: "secondary small" }, label);
    button.addEventListener("click", async () => {
      if (path === "DELETE" && !(await confirm("Delete this campaign?", `“${b.batch_name}” and its contacts are removed.`))) return;
      try {
        if (path === "DELETE") await api(`/batches/${encodeURIComponent(b.batch_id)}`, { method: "DELETE" });
        else await api(`/batches/${encodeURIComponent(b.batch_id)}/${path}`, { method: "POST", body: payload || {} });
        reload();
      } catch (err) {
        body.prepend(errorBox(err));
      }
    });
    return button;
  };
  body.replaceChildren(batches.length ? h("div", { class: "table-wrap" }, h("table", { id: "campaigns" },
    h("thead", {}, h("tr", {}, ["Campaign", "Agent", "Contacts", "Progress", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, batches.map((b) => {
      const total = b.valid_contacts ?? b.total_contacts ?? 0;
      const attempted = b.attempted_calls ?? 0;
      const running = b.execution_status === "running";
      return h("tr", {},
        h("td", {}, b.batch_name, h("div", { class: "muted small" }, b.original_filename || "")),
        h("td", {}, b.agent_type || "—"),
        h("td", {}, `${fmt.number(total)} valid`, b.invalid_contacts ? h("div", { class: "muted small" }, `${b.invalid_contacts} invalid`) : null),
        h("td", {}, h("progress", { max: Math.max(total, 1), value: attempted, "aria-label": `${attempted} of ${total} called` }),
          h("div", { class: "muted small" }, `${attempted} called · ${b.successful_calls ?? 0} ok · ${b.failed_calls ?? 0} failed`)),
        h("td", {}, badge(b.execution_status || b.status || "—", running ? "ok" : "")),
        h("td", { class: "row-actions" }, ctx.canWrite ? [running ? act(b, "stop", "Stop") : act(b, "run", "Run now", { concurrency: b.concurrency || 5 }), act(b, "DELETE", "Delete")] : null));
    })))) : empty("No campaigns yet", "Upload a CSV of contacts to start one."));
  if (ctx.canWrite) body.append(uploadForm(ctx, agents, reload));
}
