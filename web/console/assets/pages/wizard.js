// The agent form, as a create wizard (type → agent → LLM → audio → telephony → review) and as the sections of
// the edit page. Field names are the original's `agent_config` keys; models are the original's objects
// (`{"name": …}`); the API checks the whole config with the same compile step as `[[agents]]` and names the
// field at fault, which is shown at that field, on its step.

import { api } from "../api.js";
import { h, field, select, checkbox, showFormError, clearFormErrors, pageHeader, badge } from "../ui.js";

export const LANGUAGES = [
  ["en", "English"], ["en-in", "English (India)"], ["en-gb", "English (UK)"], ["hi", "Hindi"], ["bn", "Bengali"],
  ["ta", "Tamil"], ["te", "Telugu"], ["mr", "Marathi"], ["gu", "Gujarati"], ["kn", "Kannada"], ["ml", "Malayalam"],
  ["pa", "Punjabi"], ["or", "Odia"], ["as", "Assamese"], ["ur", "Urdu"], ["ne", "Nepali"], ["es", "Spanish"],
  ["fr", "French"], ["de", "German"],
];
const STT = [["whisper-tiny.en", "Whisper tiny.en (English, fastest)"], ["whisper-base", "Whisper base (multilingual)"]];
const LLM = [["smollm2-135m", "SmolLM2 135M (local)"], ["qwen2.5-coder-0.5b", "Qwen2.5 0.5B (local)"], ["other", "Another model (name it)"]];
const TTS = [["espeak", "espeak-ng (every language, instant)"], ["piper", "Piper (natural English voice)"]];
const PROVIDERS = [["", "None (SIP / browser only)"], ["Vobiz", "Vobiz"], ["Plivo", "Plivo"], ["Twilio", "Twilio"]];

export function blankDraft() {
  return {
    agent_type: "", agent_id: "", interaction_mode: "conversational",
    system_prompt: "", greeting_message: "", language: "en", stt_model: "whisper-tiny.en", llm_model: "smollm2-135m",
    llm_model_other: "", tts_model: "espeak", tts_voice: "",
    ignore_user_speech_before_greeting: true, interruption_min_words: 1, user_silence_hangup_seconds: 0,
    call_timeout_seconds: 600, user_online_detection_enabled: false, user_online_detection_seconds: 10,
    user_online_detection_message: "", hold_messages: "",
    knowledge_base_enabled: false, knowledge_document_ids: [], phone_number: "", telephony_provider: "",
  };
}

const modelName = (m) => (m && typeof m === "object" ? m.name : m) || "";

/** The form's values of a stored agent. */
export function draftOf(agent) {
  const c = agent.agent_config || {};
  const d = blankDraft();
  const llm = modelName(c.llm_model);
  Object.assign(d, {
    agent_type: agent.agent_type || agent.agent_id || "", agent_id: agent.agent_id || "",
    interaction_mode: c.interaction_mode || "conversational",
    system_prompt: c.system_prompt || "", greeting_message: c.greeting_message || agent.greeting_message || "",
    language: c.language || "en", stt_model: modelName(c.stt_model) || d.stt_model,
    llm_model: LLM.some(([v]) => v === llm) ? llm : llm ? "other" : d.llm_model,
    llm_model_other: LLM.some(([v]) => v === llm) ? "" : llm,
    tts_model: modelName(c.tts_model) || d.tts_model, tts_voice: c.tts_voice || "",
    hold_messages: (c.hold_messages || []).join("\n"),
    phone_number: agent.phone_number || "", telephony_provider: agent.telephony_provider || "",
    knowledge_document_ids: c.knowledge_document_ids || [],
  });
  for (const k of ["ignore_user_speech_before_greeting", "interruption_min_words", "user_silence_hangup_seconds", "call_timeout_seconds",
    "user_online_detection_enabled", "user_online_detection_seconds", "user_online_detection_message", "knowledge_base_enabled"]) {
    if (c[k] !== undefined && c[k] !== null) d[k] = c[k];
  }
  return d;
}

/** The API body of a draft (`POST /agents` and `PUT /agents/id/{id}` alike). */
export function bodyOf(d, orgId) {
  const config = {
    interaction_mode: d.interaction_mode,
    system_prompt: d.system_prompt,
    greeting_message: d.greeting_message,
    language: d.language,
    stt_model: { name: d.stt_model },
    llm_model: { name: d.llm_model === "other" ? d.llm_model_other.trim() : d.llm_model },
    tts_model: { name: d.tts_model },
    ignore_user_speech_before_greeting: d.ignore_user_speech_before_greeting,
    interruption_min_words: d.interruption_min_words ?? 1,
    user_silence_hangup_seconds: d.user_silence_hangup_seconds ?? 0,
    call_timeout_seconds: d.call_timeout_seconds ?? 600,
    user_online_detection_enabled: d.user_online_detection_enabled,
    hold_messages: d.hold_messages.split("\n").map((l) => l.trim()).filter(Boolean),
    knowledge_base_enabled: d.knowledge_base_enabled,
    knowledge_document_ids: d.knowledge_base_enabled ? d.knowledge_document_ids : [],
  };
  if (d.tts_voice.trim()) config.tts_voice = d.tts_voice.trim();
  if (d.user_online_detection_enabled) {
    config.user_online_detection_seconds = d.user_online_detection_seconds ?? 10;
    if (d.user_online_detection_message.trim()) config.user_online_detection_message = d.user_online_detection_message.trim();
  }
  const body = { agent_type: d.agent_type.trim(), agent_config: config, phone_number: d.phone_number.trim() || null,
    telephony_provider: d.telephony_provider || null };
  if (orgId !== undefined) {
    body.org_id = orgId;
    if (d.agent_id.trim()) body.agent_id = d.agent_id.trim();
  }
  return body;
}

/** The original front end's id of a name: lower case, spaces to `_`, other characters dropped. */
export function slug(name) {
  return name.trim().toLowerCase().replace(/ /g, "_").replace(/[^a-z0-9_-]/g, "");
}

const text = (name, value, extra = {}) => h("input", { name, type: "text", value: value ?? "", ...extra });
const number = (name, value, extra = {}) => h("input", { name, type: "number", value: value ?? "", inputmode: "numeric", ...extra });
const area = (name, value, rows = 4, extra = {}) => { const el = h("textarea", { name, rows, ...extra }); el.value = value ?? ""; return el; };

function typeStep(d) {
  const option = (value, title, text_) => {
    const id = `mode-${value}`;
    return h("div", { class: "choice" },
      h("input", { type: "radio", name: "interaction_mode", id, value, checked: d.interaction_mode === value }),
      h("label", { for: id }, h("strong", {}, title), h("span", { class: "muted" }, text_)));
  };
  return h("fieldset", {}, h("legend", {}, "What kind of agent?"),
    option("conversational", "Conversational", "Talks with callers: listens, thinks, answers."),
    option("non_conversational", "Alert", "Speaks its greeting (an announcement) and hangs up; no listening."));
}

function agentStep(d, { editing = false } = {}) {
  const name = text("agent_type", d.agent_type, { required: true, maxlength: 100, autocomplete: "off" });
  const id = text("agent_id", d.agent_id, { maxlength: 64, pattern: "[A-Za-z0-9_-]+", disabled: editing, autocomplete: "off" });
  if (!editing) name.addEventListener("input", () => { if (!id.dataset.touched) id.value = slug(name.value); });
  id.addEventListener("input", () => { id.dataset.touched = "1"; });
  return h("div", {},
    h("fieldset", {}, h("legend", {}, "Agent"),
      h("div", { class: "grid2" },
        field("Name", name),
        field("Id", id, editing ? "Calls address the agent by this id; it does not change." : "Dialled as sip:<id>@…; letters, digits, - and _.")),
      field("Prompt", area("system_prompt", d.system_prompt, 6), "What the agent knows and how it behaves. {{variables}} are filled per call."),
      field("Greeting", area("greeting_message", d.greeting_message, 2), "The first thing the agent says.")),
    h("fieldset", {}, h("legend", {}, "Call management"),
      checkbox("ignore_user_speech_before_greeting", "Ignore the caller's speech until the greeting has played", d.ignore_user_speech_before_greeting),
      h("div", { class: "grid3" },
        field("Words to interrupt", number("interruption_min_words", d.interruption_min_words, { min: 0, max: 10 })),
        field("Hang up after silence (s)", number("user_silence_hangup_seconds", d.user_silence_hangup_seconds, { min: 0 }), "0 = never."),
        field("Longest call (s)", number("call_timeout_seconds", d.call_timeout_seconds, { min: 60 }))),
      checkbox("user_online_detection_enabled", "Ask whether the caller is still there after a pause", d.user_online_detection_enabled),
      h("div", { class: "grid2" },
        field("Pause before asking (s)", number("user_online_detection_seconds", d.user_online_detection_seconds, { min: 1 })),
        field("What to ask", text("user_online_detection_message", d.user_online_detection_message, { placeholder: "Are you still there?" }))),
      field("Hold messages", area("hold_messages", d.hold_messages, 2), "One per line; said while a slow answer is on its way.")));
}

function llmStep(d, docs) {
  const model = select({ name: "llm_model" }, LLM, d.llm_model);
  const other = text("llm_model_other", d.llm_model_other, { placeholder: "e.g. a model of an OpenAI-compatible server" });
  const otherField = field("Model name", other);
  const sync = () => { otherField.hidden = model.value !== "other"; };
  model.addEventListener("change", sync);
  sync();
  let knowledge;
  if (docs === null) knowledge = h("p", { class: "muted" }, "Knowledge documents are not available on this node.");
  else if (!docs.length) knowledge = h("p", { class: "muted" }, "No knowledge documents yet: upload them on the Knowledge page.");
  else {
    knowledge = h("fieldset", { class: "inner" }, h("legend", {}, "Documents"),
      docs.map((doc) => {
        const idv = doc.document_id || doc.id;
        return checkbox(`doc:${idv}`, `${doc.original_filename || doc.filename || idv} (${doc.status || "?"})`, d.knowledge_document_ids.includes(idv));
      }));
  }
  return h("fieldset", {}, h("legend", {}, "Language model"),
    field("Model", model, "Local models run on this node; others need their provider's key under Integrations."),
    otherField,
    checkbox("knowledge_base_enabled", "Answer from knowledge documents", d.knowledge_base_enabled),
    knowledge);
}

function audioStep(d) {
  return h("fieldset", {}, h("legend", {}, "Audio"),
    h("div", { class: "grid2" },
      field("Language", select({ name: "language" }, LANGUAGES, d.language)),
      field("Speech to text", select({ name: "stt_model" }, STT, d.stt_model))),
    h("div", { class: "grid2" },
      field("Text to speech", select({ name: "tts_model" }, TTS, d.tts_model)),
      field("Voice", text("tts_voice", d.tts_voice, { placeholder: "default voice of the language" }), "An espeak-ng voice name; Piper has one voice.")));
}

function telephonyStep(d) {
  return h("fieldset", {}, h("legend", {}, "Telephony"),
    h("div", { class: "grid2" },
      field("Phone number", text("phone_number", d.phone_number, { placeholder: "+918000000001", inputmode: "tel", autocomplete: "off" }),
        "Calls to this number reach the agent. Attach provider numbers on the Numbers page."),
      field("Provider", select({ name: "telephony_provider" }, PROVIDERS, d.telephony_provider))));
}

function reviewStep(d) {
  const row = (k, v) => [h("dt", {}, k), h("dd", {}, v === "" || v === null || v === undefined ? "—" : String(v))];
  const llm = d.llm_model === "other" ? d.llm_model_other : d.llm_model;
  return h("section", { class: "review" }, h("h2", {}, "Review"),
    h("dl", {},
      row("Name", d.agent_type), row("Id", d.agent_id || slug(d.agent_type)),
      row("Kind", d.interaction_mode === "conversational" ? "Conversational" : "Alert"),
      row("Greeting", d.greeting_message), row("Prompt", d.system_prompt.length > 160 ? d.system_prompt.slice(0, 160) + "…" : d.system_prompt),
      row("Language", (LANGUAGES.find(([v]) => v === d.language) || [0, d.language])[1]),
      row("Speech to text", d.stt_model), row("Language model", llm), row("Text to speech", d.tts_model + (d.tts_voice ? ` (${d.tts_voice})` : "")),
      row("Phone number", d.phone_number), row("Provider", d.telephony_provider),
      row("Knowledge", d.knowledge_base_enabled ? `${d.knowledge_document_ids.length} documents` : "off")));
}

/** Reads a form's controls into the draft. */
export function readInto(form, d) {
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.name.startsWith("doc:")) continue;
    if (el.type === "radio") { if (el.checked) d[el.name] = el.value; }
    else if (el.type === "checkbox") d[el.name] = el.checked;
    else if (el.type === "number") d[el.name] = el.value === "" ? null : Number(el.value);
    else d[el.name] = el.value;
  }
  const docs = [...form.querySelectorAll("input[name^='doc:']")];
  if (docs.length) d.knowledge_document_ids = docs.filter((c) => c.checked).map((c) => c.name.slice(4));
}

/** The knowledge documents to pick from: a list, or null when this node has none. */
export async function loadDocs() {
  try {
    const answer = await api("/knowledge");
    return Array.isArray(answer) ? answer : answer.documents || answer.items || [];
  } catch (err) {
    if (err.unavailable) return null;
    return [];
  }
}

export const SECTIONS = { agent: agentStep, llm: llmStep, audio: audioStep, telephony: telephonyStep };

const STEPS = [
  ["Type", (d) => typeStep(d), ["interaction_mode"]],
  ["Agent", (d) => agentStep(d), ["agent_type", "agent_id", "system_prompt", "greeting_message", "ignore_user_speech_before_greeting",
    "interruption_min_words", "user_silence_hangup_seconds", "call_timeout_seconds", "user_online_detection_seconds",
    "user_online_detection_message", "hold_messages"]],
  ["LLM", (d, docs) => llmStep(d, docs), ["llm_model", "llm_model_other", "knowledge_base_enabled", "knowledge_document_ids"]],
  ["Audio", (d) => audioStep(d), ["language", "stt_model", "tts_model", "tts_voice"]],
  ["Telephony", (d) => telephonyStep(d), ["phone_number", "telephony_provider"]],
  ["Review", (d) => reviewStep(d), []],
];

/** Which step shows `field` (an API field name such as `agent_config.llm_model`). */
function stepOf(fieldName) {
  const name = (fieldName || "").replace(/^agent_config\./, "").split(".")[0];
  const i = STEPS.findIndex(([, , fields]) => fields.includes(name));
  return i < 0 ? STEPS.length - 1 : i;
}

export async function page(root, ctx) {
  if (!ctx.canWrite) {
    root.append(pageHeader("New agent"), h("p", { class: "notice" }, "Your role can see agents but not create them."));
    return;
  }
  const draft = blankDraft();
  const docs = await loadDocs();
  let step = 0;
  let pendingError = null;
  const steps = h("ol", { class: "stepper" });
  const form = h("form", { novalidate: true, id: "wizard" });
  root.append(pageHeader("New agent", "Six short steps; nothing is saved until you create it."), steps, form);

  function show() {
    steps.replaceChildren(...STEPS.map(([name], i) => h("li", { class: i < step ? "done" : "", "aria-current": i === step ? "step" : null },
      h("span", { class: "num" }, String(i + 1)), name)));
    const back = h("button", { type: "button", class: "secondary", disabled: step === 0 }, "Back");
    back.addEventListener("click", () => { readInto(form, draft); step -= 1; show(); });
    const last = step === STEPS.length - 1;
    form.replaceChildren(STEPS[step][1](draft, docs), h("div", { class: "form-message" }),
      h("div", { class: "actions end" }, back,
        h("button", { type: "submit", class: "primary", id: last ? "create-agent" : "next" }, last ? "Create agent" : "Next")));
    if (pendingError) {
      showFormError(form, pendingError);
      pendingError = null;
    } else {
      const first = form.querySelector("input:not([type=hidden]):not([disabled]), textarea, select");
      if (first && step > 0) first.focus();
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    readInto(form, draft);
    if (step === 1 && !draft.agent_type.trim()) {
      showFormError(form, { detail: "name the agent", field: "agent_type" });
      return;
    }
    if (step < STEPS.length - 1) {
      step += 1;
      show();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await api("/agents", { method: "POST", body: bodyOf(draft, ctx.orgId) });
      const id = (created && (created.agent_id || (created.agent && created.agent.agent_id))) || draft.agent_id || slug(draft.agent_type);
      ctx.navigate(`/agents?created=${encodeURIComponent(id)}`);
    } catch (err) {
      button.disabled = false;
      if (err.field) {
        step = stepOf(err.field);
        pendingError = err;
        show();
      } else showFormError(form, err);
    }
  });
  show();
  root.append(h("p", { class: "muted small" }, "Creating needs the ", badge("member"), " role or above."));
}
