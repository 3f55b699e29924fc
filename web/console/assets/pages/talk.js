// Talk to an agent from the browser (the `/call-test` module, `voicera-call.js`: WebRTC or the browser socket,
// live transcript, keypad) and place a test call to a phone number. Both go to the node's own routes
// (`/browser/session`, `/outbound/call/`): they are tried with the console's session first; when the node still
// wants the owner's password (HTTP Basic) for them, the dialog asks for it, uses it for this one request and
// keeps it nowhere.

import { VoiceraCall } from "../voicera-call.js";
import { authHeaders, ApiError } from "../api.js";
import { h, field, dialog, errorBox, badge } from "../ui.js";

/** Where the API runs (always, beside the console) these routes take the console's session (cookie + CSRF,
 * or bearer) and refuse with the API's Bearer challenge; only the owner's password (Basic) omits the cookie. */
const credentialsMode = (headers) => (headers.Authorization && headers.Authorization.startsWith("Basic") ? "omit" : "same-origin");

const basic = (email, password) => "Basic " + btoa(unescape(encodeURIComponent(`${email}:${password}`)));

/** The node's browser-call session, with the console's credentials (or the owner's password, when given). */
async function browserSession(agentId, password, email) {
  const headers = { "Content-Type": "application/json", ...authHeaders("POST") };
  if (password) headers.Authorization = basic(email, password);
  const response = await fetch("/browser/session", { method: "POST", headers, credentials: credentialsMode(headers), body: JSON.stringify({ agent_id: agentId }) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, { detail: body.detail || body.message, code: body.code }, "/browser/session");
  return body;
}

/** `VoiceraCall` whose session comes from `browserSession`; the transports are the module's own. */
class ConsoleCall extends VoiceraCall {
  constructor(options, password, email) {
    super(options);
    this.password = password;
    this.email = email;
  }

  async start() {
    this.setState("connecting");
    try {
      const session = await browserSession(this.agentId, this.password, this.email);
      this.password = null;
      this.callId = session.call_id;
      this.stream = this.microphone ||
        (await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } }));
      if (this.transport === "webrtc") await this.startWebRtc(session);
      else await this.startSocket(session);
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }
}

export function talk(agent, ctx) {
  let call = null;
  const status = h("span", { id: "call-status", class: "call-status" }, "idle");
  const transcript = h("ol", { class: "transcript live", id: "live-transcript", "aria-live": "polite" });
  const transport = h("select", { id: "transport" }, h("option", { value: "ws" }, "Browser socket"), h("option", { value: "webrtc" }, "WebRTC (Opus)"));
  const password = h("input", { type: "password", id: "owner-password", autocomplete: "current-password" });
  const passwordField = field(`Owner password (${ctx.account.email})`, password, "This node's browser calls still take the owner's password for this agent; it is used for this call only.");
  passwordField.hidden = true;
  const message = h("div", { class: "form-message" });
  const start = h("button", { type: "button", class: "primary", id: "start-call" }, "Call");
  const hang = h("button", { type: "button", class: "secondary", id: "hang-up", disabled: true }, "Hang up");
  const keypad = h("div", { class: "keypad", role: "group", "aria-label": "Keypad" },
    [..."123456789*0#"].map((k) => h("button", { type: "button", class: "secondary", onclick: () => call && call.state === "live" && call.sendDtmf(k) }, k)));

  const show = (m) => {
    transcript.append(h("li", { class: `bubble ${m.role === "user" ? "user" : "agent"}${m.interrupted ? " interrupted" : ""}`, dataset: { turn: m.turn } },
      h("span", { class: "who" }, m.role === "user" ? "You" : agent.agent_type || agent.agent_id), m.content));
    transcript.scrollTop = transcript.scrollHeight;
  };

  async function begin() {
    message.replaceChildren();
    transcript.replaceChildren();
    start.disabled = true;
    hang.disabled = false;
    call = new ConsoleCall({ agentId: agent.agent_id, transport: transport.value }, password.value || null, ctx.account.email);
    window.voiceraCall = call; // for automated checks, as on /call-test
    call.addEventListener("transcript", (e) => show(e.detail));
    call.addEventListener("state", (e) => {
      const { state, reason } = e.detail;
      status.textContent = reason ? `${state}: ${reason}` : state;
      status.className = `call-status ${state}`;
      if (state === "ended" || state === "failed") {
        start.disabled = false;
        hang.disabled = true;
      }
    });
    try {
      await call.start();
    } catch (err) {
      if (err.status === 401 || err.status === 503) {
        passwordField.hidden = false;
        password.focus();
      }
      message.replaceChildren(errorBox(err));
    }
    password.value = "";
  }
  start.addEventListener("click", begin);
  hang.addEventListener("click", () => call && call.hangUp());

  const { done } = dialog(`Talk to ${agent.agent_type || agent.agent_id}`, () => h("div", { class: "talk" },
    h("div", { class: "talk-controls" }, field("Transport", transport), passwordField, h("div", { class: "actions" }, start, hang)),
    h("p", {}, "Status: ", status, " ", agent.source === "node" ? badge("built-in") : null),
    message,
    transcript,
    keypad), { wide: true });
  done.then(() => call && call.hangUp());
}

/** A test call to a phone number through the node's dialler (`POST /outbound/call/`). */
export function testCall(agent) {
  const number = h("input", { type: "tel", name: "customer_number", required: true, placeholder: "+918000000001", autocomplete: "off" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password" });
  const passwordField = field("Owner password", password, "Needed while the node's dialler takes only the owner's credentials.");
  passwordField.hidden = true;
  const message = h("div", { class: "form-message" });
  dialog(`Test call from ${agent.agent_type || agent.agent_id}`, (close) => {
    const form = h("form", { novalidate: true },
      field("Number to call", number, "The agent calls this number from its own number."),
      passwordField, message,
      h("div", { class: "actions end" }, h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Call")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      message.replaceChildren();
      const headers = { "Content-Type": "application/json", ...authHeaders("POST") };
      if (password.value) headers.Authorization = basic(document.querySelector(".topbar .email")?.textContent || "", password.value);
      const body = { customer_number: number.value.trim(), agent_id: agent.agent_id, caller_id: agent.phone_number || null };
      if (agent.telephony_provider) body.provider = agent.telephony_provider.toLowerCase();
      const response = await fetch("/outbound/call/", { method: "POST", headers, credentials: credentialsMode(headers), body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      password.value = "";
      if (response.ok) {
        message.replaceChildren(h("p", { class: "notice ok", role: "status" }, `Calling… (call ${answer.call_id || ""})`));
      } else {
        if (response.status === 401 || response.status === 503) passwordField.hidden = false;
        message.replaceChildren(errorBox(new ApiError(response.status, { detail: answer.detail || answer.message }, "/outbound/call/")));
      }
    });
    return form;
  });
}
