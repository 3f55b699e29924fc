// Integrations: provider keys (shown masked as the API returns them) and custom OpenAI-compatible LLMs.

import { api } from "../api.js";
import { h, field, select, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors, formValues } from "../ui.js";

const PROVIDERS = ["OpenAI", "Anthropic", "Grok", "Groq", "Deepgram", "Cartesia", "ElevenLabs", "Sarvam", "Bhashini", "Google",
  "VobizAuthId", "VobizAuthToken", "PlivoAuthId", "PlivoAuthToken", "TwilioAccountSid", "TwilioAuthToken"];

export async function page(root, ctx) {
  const keys = h("section", {}, h("h2", {}, "Provider keys"), loading());
  const llms = h("section", {}, h("h2", {}, "Custom LLMs"), loading());
  root.append(pageHeader("Integrations", "Keys for cloud models and telephony providers; stored encrypted, shown masked."), keys, llms);

  try {
    const answer = await api("/integrations");
    const list = Array.isArray(answer) ? answer : answer.integrations || answer.items || [];
    keys.lastChild.replaceWith(list.length ? h("ul", { class: "cards", id: "integrations" }, list.map((i) => {
      const remove = ctx.canAdmin ? h("button", { type: "button", class: "secondary small" }, "Remove") : null;
      if (remove) remove.addEventListener("click", async () => {
        if (!(await confirm("Remove this key?", `Agents using ${i.model} stop working until a key is set again.`, "Remove"))) return;
        try {
          await api(`/integrations/${encodeURIComponent(i.model)}`, { method: "DELETE" });
          ctx.navigate("/integrations", { replace: true });
        } catch (err) {
          keys.append(errorBox(err));
        }
      });
      return h("li", { class: "card" }, h("h3", {}, i.model), h("p", { class: "mono muted" }, i.api_key_masked || i.api_key || "••••"), h("div", { class: "card-actions" }, remove));
    })) : empty("No keys yet", "Local models need none."));
    if (ctx.canAdmin) {
      const form = h("form", { class: "panel", id: "integration-form", novalidate: true },
        h("div", { class: "grid2" }, field("Provider", select({ name: "model" }, PROVIDERS, "OpenAI")),
          field("Key", h("input", { name: "api_key", type: "password", autocomplete: "off", required: true }))),
        h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary" }, "Save key")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearFormErrors(form);
        try {
          await api("/integrations", { method: "POST", body: { ...formValues(form), org_id: ctx.orgId } });
          toast("Key saved", "ok");
          ctx.navigate("/integrations", { replace: true });
        } catch (err) {
          showFormError(form, err);
        }
      });
      keys.append(form);
    }
  } catch (err) {
    keys.lastChild.replaceWith(failure("Provider keys", err));
  }

  try {
    const answer = await api("/custom-llm-integrations");
    const list = Array.isArray(answer) ? answer : answer.integrations || answer.items || [];
    llms.lastChild.replaceWith(list.length ? h("ul", { class: "cards" }, list.map((l) => h("li", { class: "card" },
      h("h3", {}, l.name), h("p", { class: "mono muted" }, `${l.base_url} · ${l.model}`)))) : empty("No custom LLMs", "Any OpenAI-compatible endpoint can be added."));
    if (ctx.canAdmin) {
      const form = h("form", { class: "panel", novalidate: true },
        h("div", { class: "grid2" }, field("Name", h("input", { name: "name", required: true })), field("Model id", h("input", { name: "model", required: true }))),
        h("div", { class: "grid2" }, field("Endpoint URL", h("input", { name: "base_url", type: "url", required: true, placeholder: "https://host/v1" })),
          field("Key", h("input", { name: "api_key", type: "password", autocomplete: "off" }))),
        h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary" }, "Add LLM")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearFormErrors(form);
        try {
          await api("/custom-llm-integrations", { method: "POST", body: { ...formValues(form), org_id: ctx.orgId } });
          ctx.navigate("/integrations", { replace: true });
        } catch (err) {
          showFormError(form, err);
        }
      });
      llms.append(form);
    }
  } catch (err) {
    llms.lastChild.replaceWith(failure("Custom LLMs", err));
  }
}
