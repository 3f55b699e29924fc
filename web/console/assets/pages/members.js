// Members: who is in the organisation and with which role; invite (a single-use link), change a role,
// remove, transfer ownership. Owners and admins manage; others read.

import { api } from "../api.js";
import { h, field, select, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors, formValues } from "../ui.js";

const ROLES = [["viewer", "Viewer: reads everything"], ["member", "Member: also changes agents, numbers, documents"], ["admin", "Admin: also members and keys"]];

export async function page(root, ctx) {
  const body = h("div", {}, loading());
  root.append(pageHeader("Members", "People of your organisation and what they may do."), body);
  let members;
  try {
    const answer = await api(`/members/${encodeURIComponent(ctx.orgId)}`);
    members = answer.members || [];
  } catch (err) {
    body.replaceChildren(failure("Members", err));
    return;
  }
  const roleOf = (m) => m.role || (m.is_owner ? "owner" : "member");
  const problem = h("div", {});
  const rows = members.map((m) => {
    const mine = m.email === ctx.account.email;
    const manage = ctx.canAdmin && roleOf(m) !== "owner" && !mine;
    let roleCell = badge(roleOf(m), `role-${roleOf(m)}`);
    if (manage) {
      const choose = select({ "aria-label": `Role of ${m.email}` }, ROLES.map(([v]) => v), roleOf(m));
      choose.addEventListener("change", async () => {
        try {
          await api("/members/update-role", { method: "POST", body: { email: m.email, org_id: ctx.orgId, role: choose.value } });
          toast(`${m.email} is now ${choose.value}`, "ok");
        } catch (err) {
          problem.replaceChildren(errorBox(err));
          choose.value = roleOf(m);
        }
      });
      roleCell = choose;
    }
    const actions = [];
    if (manage) {
      const remove = h("button", { type: "button", class: "secondary small" }, "Remove");
      remove.addEventListener("click", async () => {
        if (!(await confirm("Remove this member?", `${m.email} loses access at once.`, "Remove"))) return;
        try {
          await api("/members/delete-member", { method: "POST", body: { email: m.email, org_id: ctx.orgId } });
          ctx.navigate("/members", { replace: true });
        } catch (err) {
          problem.replaceChildren(errorBox(err));
        }
      });
      actions.push(remove);
    }
    if (ctx.role === "owner" && !mine) {
      const transfer = h("button", { type: "button", class: "secondary small" }, "Make owner");
      transfer.addEventListener("click", async () => {
        if (!(await confirm("Transfer ownership?", `${m.email} becomes the owner; you become an admin.`, "Transfer"))) return;
        try {
          await api("/members/transfer-ownership", { method: "POST", body: { email: m.email, org_id: ctx.orgId } });
          location.reload();
        } catch (err) {
          problem.replaceChildren(errorBox(err));
        }
      });
      actions.push(transfer);
    }
    return h("tr", {}, h("td", {}, m.name || "—", h("div", { class: "muted small" }, m.email)), h("td", {}, roleCell), h("td", {}, fmt.date(m.created_at)), h("td", { class: "row-actions" }, actions));
  });
  body.replaceChildren(problem, members.length ? h("div", { class: "table-wrap" }, h("table", { id: "members" },
    h("thead", {}, h("tr", {}, ["Member", "Role", "Since", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))) : empty("No members", null));
  if (!ctx.canAdmin) return;
  const result = h("div", { id: "invite-result" });
  const form = h("form", { class: "panel", id: "invite-form", novalidate: true }, h("h2", {}, "Invite someone"),
    h("div", { class: "grid2" }, field("Email", h("input", { name: "email", type: "email", required: true, autocomplete: "off" })),
      field("Role", select({ name: "role" }, ROLES, "member"))),
    h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary", id: "invite" }, "Create invite link")), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    result.replaceChildren();
    try {
      const answer = await api("/members/invite", { method: "POST", body: { ...formValues(form), org_id: ctx.orgId } });
      const token = answer.invite_token || answer.token;
      const link = answer.invite_link || answer.invite_url || (token ? `${location.origin}/add-member/${answer.org_id || ctx.orgId}-${token}` : "");
      const input = h("input", { type: "text", readonly: true, value: link, id: "invite-link" });
      const copy = h("button", { type: "button", class: "secondary" }, "Copy");
      copy.addEventListener("click", async () => {
        input.select();
        try { await navigator.clipboard.writeText(link); toast("Copied"); } catch (_) { toast("Select the link and copy it"); }
      });
      result.append(field("Invite link (works once; send it to them)", input), copy);
    } catch (err) {
      showFormError(form, err);
    }
  });
  body.append(form);
}
