// Knowledge: documents agents answer from (PDF, text, Markdown): upload, status, delete.

import { api } from "../api.js";
import { h, field, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors } from "../ui.js";

export async function page(root, ctx) {
  const body = h("div", {}, loading());
  root.append(pageHeader("Knowledge", "Documents your agents can answer from."), body);
  let docs;
  try {
    const answer = await api("/knowledge");
    docs = Array.isArray(answer) ? answer : answer.documents || answer.items || [];
  } catch (err) {
    body.replaceChildren(failure("Knowledge documents", err));
    return;
  }
  const kind = { ready: "ok", failed: "bad", processing: "info" };
  body.replaceChildren(docs.length ? h("div", { class: "table-wrap" }, h("table", { id: "documents" },
    h("thead", {}, h("tr", {}, ["Document", "Status", "Chunks", "Uploaded", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, docs.map((d) => {
      const id = d.document_id || d.id;
      const remove = ctx.canWrite ? h("button", { type: "button", class: "secondary small" }, "Delete") : null;
      if (remove) remove.addEventListener("click", async () => {
        if (!(await confirm("Delete this document?", `Agents stop answering from “${d.original_filename || id}”.`))) return;
        try {
          await api(`/knowledge/${encodeURIComponent(id)}`, { method: "DELETE" });
          ctx.navigate("/knowledge", { replace: true });
        } catch (err) {
          body.prepend(errorBox(err));
        }
      });
      return h("tr", {}, h("td", {}, d.original_filename || d.filename || id, d.error_message ? h("div", { class: "muted small" }, d.error_message) : null),
        h("td", {}, badge(d.status || "—", kind[d.status] || "")), h("td", {}, fmt.number(d.chunk_count)), h("td", {}, fmt.date(d.created_at)), h("td", {}, remove));
    })))) : empty("No documents yet", "Upload a PDF, text or Markdown file."));
  // A document is stored and read after its upload answers: while any is processing, look again every 2 s
  // and redraw once one has settled (unless a file is being chosen for the next upload).
  const processing = docs.filter((d) => d.status === "processing").map((d) => d.document_id || d.id);
  let form = null;
  const watch = () => setTimeout(async () => {
    if (!ctx.alive()) return;
    try {
      const now = await api("/knowledge");
      const list = Array.isArray(now) ? now : now.documents || now.items || [];
      const settled = processing.some((id) => !list.some((d) => (d.document_id || d.id) === id && d.status === "processing"));
      if (settled && ctx.alive() && !(form && form.elements.file.files.length)) return ctx.navigate("/knowledge", { replace: true });
    } catch (err) { /* the next look may succeed */ }
    watch();
  }, 2000);
  if (processing.length) watch();
  if (!ctx.canWrite) return;
  form = h("form", { class: "panel", id: "knowledge-upload", novalidate: true }, h("h2", {}, "Upload"),
    field("File", h("input", { type: "file", name: "file", accept: ".pdf,.txt,.md,application/pdf,text/plain,text/markdown", required: true }), "Up to 25 MB."),
    h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary" }, "Upload")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!form.elements.file.files.length) return showFormError(form, { detail: "choose a file", field: "file" });
    const data = new FormData(form);
    data.set("org_id", ctx.orgId);
    try {
      await api("/knowledge/upload", { method: "POST", body: data });
      toast("Uploaded: processing", "ok");
      ctx.navigate("/knowledge", { replace: true });
    } catch (err) {
      showFormError(form, err);
    }
  });
  body.append(form);
}
