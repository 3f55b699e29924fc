// Numbers: the org's phone numbers with their agent, attach (number → agent) and detach; the provider's
// numbers when its account is linked. The original's `/phone-numbers/...` routes. Below them, the node's SIP
// trunks and their registration (`GET /api/v1/system`, which only admins may read).

import { api } from "../api.js";
import { h, field, select, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors, formValues } from "../ui.js";

const REGISTRATION_KIND = { registered: "ok", pending: "warn", failed: "bad", not_registering: "" };
const REGISTRATION_WORDS = {
  registered: "registered", pending: "registering…", failed: "registration failed", not_registering: "does not register",
};

/** The trunks calls go out (and come in) through, with their registration as this node sees it. */
async function trunksSection(ctx) {
  const section = h("section", { class: "panel", id: "trunks" }, h("h2", {}, "SIP trunks"));
  if (!ctx.canAdmin) {
    section.append(h("p", { class: "muted" }, "Trunks and their registration are shown to admins."));
    return section;
  }
  let trunks;
  try {
    trunks = ((await api("/system")).sip || {}).trunks || [];
  } catch (err) {
    section.append(failure("Trunks", err));
    return section;
  }
  section.append(trunks.length
    ? h("div", { class: "table-wrap" }, h("table", { id: "trunk-status" },
      h("caption", { class: "sr-only" }, "SIP trunks"),
      h("thead", {}, h("tr", {}, ["Trunk", "Registrar", "Registration"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, trunks.map((t) => h("tr", { dataset: { trunk: t.name, registration: t.registration } },
        h("td", {}, t.name), h("td", {}, h("code", {}, t.registrar)),
        h("td", {}, badge(REGISTRATION_WORDS[t.registration] || t.registration, REGISTRATION_KIND[t.registration] ?? "")))))))
    : h("p", { class: "muted" }, "This node has no [[trunks]] configured."));
  return section;
}

export async function page(root, ctx) {
  const body = h("div", {}, loading());
  const trunks = h("div", {}, loading());
  root.append(pageHeader("Numbers", "Phone numbers and the agents that answer them."), body, trunks);
  const trunksDrawn = trunksSection(ctx).then((section) => trunks.replaceChildren(section));
  let numbers;
  try {
    const answer = await api(`/phone-numbers/org/${encodeURIComponent(ctx.orgId)}`);
    numbers = Array.isArray(answer) ? answer : answer.phone_numbers || answer.numbers || answer.items || [];
  } catch (err) {
    body.replaceChildren(failure("Phone numbers", err));
    await trunksDrawn;
    return;
  }
  let agents = [];
  try {
    const a = await api(`/agents/org/${encodeURIComponent(ctx.orgId)}`);
    agents = (Array.isArray(a) ? a : a.agents || []).map((x) => x.agent_type);
  } catch (_) { /* the attach form lists none */ }
  const table = numbers.length ? h("div", { class: "table-wrap" }, h("table", { id: "numbers" },
    h("thead", {}, h("tr", {}, ["Number", "Provider", "Agent", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, numbers.map((n) => {
      const detach = ctx.canWrite && n.agent_type ? h("button", { type: "button", class: "secondary small" }, "Detach") : null;
      if (detach) detach.addEventListener("click", async () => {
        if (!(await confirm("Detach this number?", `${n.phone_number} stops reaching ${n.agent_type}.`, "Detach"))) return;
        try {
          await api("/phone-numbers/detach", { method: "DELETE", body: { phone_number: n.phone_number } });
          toast("Detached");
          ctx.navigate("/numbers", { replace: true });
        } catch (err) {
          body.prepend(errorBox(err));
        }
      });
      return h("tr", {}, h("td", { class: "mono" }, n.phone_number), h("td", {}, n.provider || "—"), h("td", {}, n.agent_type || "—"), h("td", {}, detach));
    })))) : empty("No numbers yet", "Attach a provider number to an agent below.");
  body.replaceChildren(table);
  if (ctx.canWrite) {
    const form = h("form", { class: "panel inline-form", id: "attach-number", novalidate: true }, h("h2", {}, "Attach a number"),
      h("div", { class: "grid3" },
        field("Number", h("input", { name: "phone_number", type: "tel", required: true, placeholder: "+918000000001" })),
        field("Provider", select({ name: "provider" }, ["Vobiz", "Plivo", "Twilio", "SIP trunk"], "Vobiz")),
        field("Agent", select({ name: "agent_type" }, agents, agents[0]))),
      h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary" }, "Attach")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      try {
        await api("/phone-numbers/attach", { method: "POST", body: formValues(form) });
        toast("Attached", "ok");
        ctx.navigate("/numbers", { replace: true });
      } catch (err) {
        showFormError(form, err);
      }
    });
    body.append(form);
  }
  await trunksDrawn;
}
