// Campaigns (the original's batches, `/api/v1/batches...`, with `/api/v1/campaigns/{id}` for what the original
// lacked): the org's campaigns with status and progress; a CSV upload whose every refused row is listed by line
// and reason (bad numbers, duplicates) with the do-not-call numbers it kept out; run now or at a time through a
// trunk or a provider's API (Vobiz, Plivo, Twilio, with a caller id), pause, resume, stop and cancel a schedule (destructive ones behind a confirm dialog); the chosen
// campaign's progress, counts per disposition and contacts with outcome and attempts. Everything is refreshed
// in place every two seconds (rows and panels are kept, so focus and a click in progress survive), and a
// viewer sees no write controls.

import { api } from "../api.js";
import { h, field, select, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, dialog, toast, showFormError, clearFormErrors } from "../ui.js";

const REFRESH_MS = 2000;
const CONTACTS_PER_PAGE = 50;
const STATUS_KIND = { running: "ok", completed: "ok", scheduled: "info", paused: "warn", stopping: "warn", failed: "bad", stopped: "" };
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const RETRIES = [["busy", "Busy"], ["no_answer", "No answer"], ["failed", "Failed"], ["machine", "Machine"]];
/** Where a campaign's calls go out: a `[[trunks]]` entry (the value ""), or a provider's REST API. */
const ROUTES = [["", "SIP trunk"], ["vobiz", "Vobiz"], ["plivo", "Plivo"], ["twilio", "Twilio"]];
const AMD_MODES = [["off", "Off"], ["hangup", "Hang up on machines"], ["leave_message", "Leave the message after the beep"], ["connect", "Connect machines to the agent"]];

/**
 * The route controls: a `provider` select (a trunk or a provider) and the trunk's field, shown only for a trunk.
 * A provider needs a caller id (a number on its account); the caller id's hint says which applies.
 */
function routeFields(campaign, trunks, listId, trunkRequired) {
  const provider = select({ name: "provider" }, ROUTES, campaign.provider || "");
  const trunkInput = h("input", { name: "trunk", list: listId, required: trunkRequired, value: campaign.trunk || (trunkRequired && !campaign.provider && trunks[0] && trunks[0].name) || "", autocomplete: "off" });
  const trunk = field("Trunk", trunkInput, "The [[trunks]] entry the calls go through.");
  const callerId = h("input", { name: "caller_id", value: campaign.caller_id || "", autocomplete: "off" });
  const callerHint = h("span");
  const follow = () => {
    const viaTrunk = provider.value === "";
    trunk.hidden = !viaTrunk;
    trunkInput.required = trunkRequired && viaTrunk;
    callerId.required = !viaTrunk;
    callerHint.textContent = viaTrunk ? "Empty: the trunk's username." : "Required: a number on your account with the provider.";
  };
  provider.addEventListener("change", follow);
  follow();
  return { route: field("Route", provider, "A SIP trunk, or a provider's API with your org's account on it."), trunk, callerId: field("Caller id", callerId, callerHint) };
}

/** The route part of a request body: a trunk, or a provider (the other one cleared). */
function routeBody(v) {
  const provider = v.provider.value;
  return provider ? { provider, trunk: null } : { trunk: v.trunk.value.trim() || null, provider: null };
}

/** Statuses whose progress moves: the list counts their contacts on each refresh. */
const ACTIVE = new Set(["running", "paused", "stopping"]);
const statusOf = (b) => b.execution_status || "not_started";
const words = (s) => String(s || "—").replace(/_/g, " ");
const statusBadge = (s) => badge(words(s), STATUS_KIND[s] || "");

/** The batch's progress as the list knows it (the runner's counters) or as its detail counts it. */
function progressOf(b) {
  if (b.progress) return { total: b.progress.contacts, done: b.progress.done, percent: b.progress.percent_done };
  const total = (b.valid_contacts ?? 0) + (b.dnc_contacts ?? 0);
  const done = statusOf(b) === "completed" ? total : statusOf(b) === "not_started" ? 0 : Math.min(b.attempted_calls ?? 0, total);
  return { total, done, percent: total ? Math.round((done * 1000) / total) / 10 : 0 };
}

/** A `<progress>` with its words beside it; `set(b)` updates both in place. */
function progressBar(label) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": label });
  const text = h("span", { class: "muted small progress-text" });
  const set = (p) => {
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    text.textContent = `${fmt.number(p.done)} of ${fmt.number(p.total)} · ${fmt.number(p.percent, 1)}%`;
  };
  return { el: h("div", { class: "progress" }, bar, text), set };
}

/** The upload's answer: counts, every refused row by line and reason, the do-not-call numbers kept out. */
function uploadReport(answer) {
  const rejected = answer.rejected_rows || [];
  const dnc = answer.dnc_rows || [];
  const blank = answer.blank_lines || [];
  return h("section", { class: "panel", id: "upload-result", dataset: { batch: answer.batch_id } },
    h("h2", {}, `Uploaded “${answer.batch_name}”`),
    h("dl", { class: "facts wide" },
      h("dt", {}, "Rows"), h("dd", {}, fmt.number(answer.total_contacts)),
      h("dt", {}, "To call"), h("dd", { id: "upload-valid" }, fmt.number(answer.valid_contacts)),
      h("dt", {}, "Invalid"), h("dd", {}, fmt.number(answer.invalid_contacts)),
      h("dt", {}, "Duplicates"), h("dd", {}, fmt.number(answer.duplicate_contacts)),
      h("dt", {}, "Do not call"), h("dd", {}, fmt.number(answer.dnc_contacts)),
      h("dt", {}, "Blank lines"), h("dd", {}, blank.length ? blank.join(", ") : "none")),
    rejected.length
      ? [h("h3", {}, `Rows not loaded (${rejected.length})`),
        h("div", { class: "table-wrap" }, h("table", { id: "rejected-rows" },
          h("caption", { class: "sr-only" }, "Rows not loaded"),
          h("thead", {}, h("tr", {}, ["Line", "Number", "Problem", "Why"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rejected.map((r) => h("tr", { dataset: { line: r.line, code: r.code } },
            h("td", {}, String(r.line)), h("td", { class: "mono" }, r.contact_number || "—"),
            h("td", {}, badge(words(r.code), r.code === "duplicate" ? "warn" : "bad")), h("td", {}, r.reason))))))]
      : h("p", { class: "muted" }, "Every row was loaded."),
    dnc.length
      ? [h("h3", {}, `On the do-not-call list (${dnc.length}): kept, never called`),
        h("ul", { id: "dnc-rows", class: "small" }, dnc.map((r) => h("li", {}, `line ${r.line}: `, h("span", { class: "mono" }, r.contact_number))))]
      : null);
}

function uploadForm(ctx, agents, uploaded) {
  const form = h("form", { class: "panel", id: "campaign-upload", novalidate: true }, h("h2", {}, "Upload contacts"),
    h("div", { class: "grid3" },
      field("Campaign name", h("input", { name: "batch_name", required: true, autocomplete: "off" })),
      field("Agent", select({ name: "agent_type" }, agents, agents[0]), "The agent that talks on every call."),
      field("CSV file", h("input", { name: "file", type: "file", accept: ".csv,text/csv,text/plain", required: true }), "A contact_number column; other columns become {{variables}}.")),
    h("div", { class: "grid2" },
      field("Country of national numbers", h("input", { name: "default_country", value: "IN", maxlength: 2, autocomplete: "off" }), "ISO code for numbers written without +."),
      field("Do not call", h("textarea", { name: "do_not_call", rows: 2 }), "Numbers never to call, separated by commas or lines.")),
    h("div", { class: "form-message" }), h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary", id: "upload-campaign" }, "Upload")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!form.elements.file.files.length) return showFormError(form, { detail: "choose a CSV file", field: "file" });
    const data = new FormData(form);
    data.set("org_id", ctx.orgId);
    for (const name of ["default_country", "do_not_call"]) if (!String(data.get(name) || "").trim()) data.delete(name);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api("/batches/upload", { method: "POST", body: data });
      form.reset();
      toast(`Uploaded ${answer.valid_contacts} contacts`, "ok");
      uploaded(answer);
    } catch (err) {
      showFormError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The run dialog: now or at a local time, through a trunk, with a caller id and a live-call limit. */
function runDialog(b, campaign, trunks, done) {
  const { el } = dialog(`Run “${b.batch_name}”`, (close) => {
    const when = select({ name: "when" }, [["now", "Now"], ["later", "At a time"]], "now");
    const later = h("div", { class: "grid2", hidden: true },
      field("Start at (local time)", h("input", { name: "scheduled_at_local", type: "datetime-local" })),
      field("Time zone", h("input", { name: "timezone", value: "UTC", autocomplete: "off" }), "UTC, +05:30, or a zone like Asia/Kolkata."));
    when.addEventListener("change", () => { later.hidden = when.value !== "later"; });
    const trunkList = h("datalist", { id: "run-trunks" }, trunks.map((t) => h("option", { value: t.name }, `${t.name} (${words(t.registration)})`)));
    const route = routeFields(campaign, trunks, "run-trunks", true);
    const form = h("form", { id: "run-form", novalidate: true },
      h("div", { class: "grid2" },
        route.route, route.trunk, route.callerId,
        field("Live calls at most", h("input", { name: "concurrency", type: "number", min: 1, max: 1000, value: campaign.max_live_calls || b.concurrency || 5 })),
        field("Start", when)),
      trunkList, later,
      h("div", { class: "form-message" }),
      h("div", { class: "actions end" },
        h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "submit", class: "primary", id: "run-confirm" }, "Run")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      const v = form.elements;
      // The run body takes a trunk or a provider (the one given replaces the stored route).
      const chosen = routeBody(v);
      const body = chosen.provider ? { provider: chosen.provider, caller_id: v.caller_id.value.trim() } : { trunk: v.trunk.value.trim(), caller_id: v.caller_id.value.trim() };
      if (v.concurrency.value !== "") body.concurrency = Number(v.concurrency.value);
      let path = `/batches/${encodeURIComponent(b.batch_id)}/run`;
      if (v.when.value === "later") {
        body.scheduled_at_local = v.scheduled_at_local.value;
        body.timezone = v.timezone.value.trim();
        path = `/batches/${encodeURIComponent(b.batch_id)}/schedule${statusOf(b) === "scheduled" ? "/reschedule" : ""}`;
      }
      try {
        await api(path, { method: "POST", body });
        toast(v.when.value === "later" ? "Scheduled" : "Running", "ok");
        close(true);
        done();
      } catch (err) {
        showFormError(form, err);
      }
    });
    return form;
  });
  el.querySelector("[name=provider]").focus();
}

/** The campaign's settings (`PUT /campaigns/{id}`): pacing, ring time, route, machine detection, retries, days and windows. */
function settingsForm(ctx, b, campaign, trunks, saved) {
  const c = campaign;
  const retry = c.retry || {};
  const route = routeFields(c, trunks, "settings-trunks", false);
  const form = h("form", { class: ctx.canWrite ? "" : "readonly", id: "campaign-settings", novalidate: true },
    h("div", { class: "grid3" },
      field("Live calls at most", h("input", { name: "max_live_calls", type: "number", min: 1, max: 1000, value: c.max_live_calls })),
      field("New calls per second", h("input", { name: "calls_per_second", type: "number", min: 1, max: 100, value: c.calls_per_second })),
      field("Ring for (seconds)", h("input", { name: "ring_timeout_seconds", type: "number", min: 1, value: c.ring_timeout_seconds })),
      route.route, route.trunk, route.callerId,
      field("Answering machines", select({ name: "amd" }, AMD_MODES, c.amd || "off"), "Detected on early and answered audio, decided within 3 s."),
      field("Time zone (minutes east of UTC)", h("input", { name: "utc_offset_minutes", type: "number", value: c.utc_offset_minutes || 0 }), "India: 330.")),
    h("datalist", { id: "settings-trunks" }, trunks.map((t) => h("option", { value: t.name }))),
    h("fieldset", { class: "inner" }, h("legend", {}, "Retries per outcome"),
      h("div", { class: "grid2" }, RETRIES.map(([key, label]) => h("div", { class: "grid2" },
        field(`${label}: attempts`, h("input", { name: `retry.${key}.max_attempts`, type: "number", min: 1, max: 10, value: (retry[key] || {}).max_attempts ?? 1 })),
        field(`${label}: wait (s)`, h("input", { name: `retry.${key}.spacing_seconds`, type: "number", min: 0, value: (retry[key] || {}).spacing_seconds ?? 0 })))))),
    h("fieldset", { class: "inner" }, h("legend", {}, "When calls may be placed"),
      h("div", { class: "days" }, DAYS.map((d) => {
        const id = `day-${d}`;
        return h("span", { class: "check" }, h("input", { type: "checkbox", id, name: `day.${d}`, checked: (c.days || []).includes(d) }), h("label", { for: id }, d));
      })),
      field("Daily windows", h("input", { name: "windows", value: (c.windows || []).map((w) => `${w.start}-${w.end}`).join(", "), placeholder: "09:00-13:00, 14:00-18:00", autocomplete: "off" }), "No day ticked: every day. No window: the whole day.")),
    h("div", { class: "form-message" }),
    h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary", id: "save-settings" }, "Save settings")));
  if (!ctx.canWrite) for (const el of form.elements) el.disabled = true;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const v = form.elements;
    const num = (name) => (v[name].value === "" ? undefined : Number(v[name].value));
    const windows = [];
    for (const part of v.windows.value.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [start, end] = part.split("-").map((s) => s.trim());
      if (!start || !end) return showFormError(form, { detail: `“${part}” is not a window like 09:00-18:00`, field: "windows" });
      windows.push({ start, end });
    }
    const body = {
      max_live_calls: num("max_live_calls"), calls_per_second: num("calls_per_second"), ring_timeout_seconds: num("ring_timeout_seconds"),
      utc_offset_minutes: num("utc_offset_minutes") ?? 0, ...routeBody(v), caller_id: v.caller_id.value.trim() || null,
      amd: v.amd.value, voicemail_message: c.voicemail_message ?? null,
      retry: Object.fromEntries(RETRIES.map(([key]) => [key, { max_attempts: num(`retry.${key}.max_attempts`) ?? 1, spacing_seconds: num(`retry.${key}.spacing_seconds`) ?? 0 }])),
      days: DAYS.filter((d) => v[`day.${d}`].checked), windows,
      start_at: c.start_at ?? null, end_at: c.end_at ?? null,
    };
    try {
      await api(`/campaigns/${encodeURIComponent(b.batch_id)}`, { method: "PUT", body });
      toast("Settings saved", "ok");
      saved();
    } catch (err) {
      // The API names fields as dotted paths (`retry.busy.max_attempts`, `windows[0].start`).
      showFormError(form, err && err.field && err.field.startsWith("windows") ? { ...err, field: "windows" } : err);
    }
  });
  return form;
}

/** The buttons a campaign in `status` offers; `act` runs one. */
function actionsFor(ctx, b, act) {
  if (!ctx.canWrite) return [];
  const button = (label, what, kind = "secondary") =>
    h("button", { type: "button", class: `${kind} small`, dataset: { action: what }, onclick: () => act(b, what) }, label);
  switch (statusOf(b)) {
    case "running": return [button("Pause", "pause"), button("Stop", "stop", "danger")];
    case "paused": return [button("Resume", "resume", "primary"), button("Stop", "stop", "danger")];
    case "scheduled": return [button("Run now…", "run", "primary"), button("Cancel schedule", "cancel", "danger")];
    case "stopping": return [];
    default: return [button("Run…", "run", "primary"), button("Delete", "delete", "danger")];
  }
}

/** A contact's row: line, number, state, outcome, attempts and the last attempt's outcome. */
function contactRow(c) {
  const history = c.history || [];
  const last = history[history.length - 1];
  const state = c.status === "done" ? badge("done", "ok") : c.status === "dialing" ? badge("dialing", "info") : badge(c.status || "queued");
  return h("tr", { dataset: { line: c.row_number, status: c.status, disposition: c.disposition || "" } },
    h("td", {}, String(c.row_number)),
    h("td", { class: "mono", title: "Masked: only the last four digits show" }, fmt.mask(c.contact_number)),
    h("td", {}, state),
    h("td", { class: "outcome" }, c.disposition || "—"),
    h("td", { class: "attempts" }, String(c.attempts ?? history.length)),
    h("td", { class: "muted small" }, last ? `${fmt.date(new Date(last.started_at).toISOString())}${last.outcome ? ` · ${last.outcome}` : " · up"}` : "—"));
}

/** The chosen campaign: status, progress, counts per disposition, actions, settings and contacts. */
function detailPanel(ctx, act) {
  const title = h("h2", { id: "campaign-detail-title" }, "Campaign");
  const status = h("span", { class: "status" });
  const bar = progressBar("Contacts done");
  const facts = h("dl", { class: "facts wide", id: "campaign-facts" });
  const outcomes = h("dl", { class: "facts wide", id: "campaign-outcomes", "aria-live": "polite" });
  const message = h("div", { class: "detail-message" });
  const actions = h("div", { class: "actions", id: "campaign-actions" });
  const settings = h("details", { id: "campaign-settings-box" }, h("summary", {}, "Settings"));
  const contactsBody = h("tbody", {});
  const pageInfo = h("span", { class: "muted small" });
  const prev = h("button", { type: "button", class: "secondary small" }, "Previous");
  const next = h("button", { type: "button", class: "secondary small" }, "Next");
  const contacts = h("section", { id: "campaign-contacts-box" }, h("h3", {}, "Contacts"),
    h("div", { class: "table-wrap" }, h("table", { id: "campaign-contacts" },
      h("caption", { class: "sr-only" }, "The campaign's contacts"),
      h("thead", {}, h("tr", {}, ["Line", "Number", "State", "Outcome", "Attempts", "Last attempt"].map((t) => h("th", { scope: "col" }, t)))),
      contactsBody)),
    h("div", { class: "pager" }, prev, pageInfo, next));
  const panel = h("section", { class: "panel", id: "campaign-detail", "aria-labelledby": "campaign-detail-title", hidden: true },
    h("div", { class: "card-head" }, title, status), message, bar.el, facts, h("h3", {}, "Outcomes"), outcomes, actions, settings, contacts);
  let current = null;
  let shownStatus = null;
  let page = 1;
  let lastContacts = "";
  let settingsFor = null;

  const loadContacts = async () => {
    if (!current) return;
    const id = current;
    const answer = await api(`/batches/${encodeURIComponent(id)}/contacts`, { query: { page, limit: CONTACTS_PER_PAGE } });
    if (id !== current) return;
    const key = JSON.stringify(answer.items);
    if (key !== lastContacts) {
      lastContacts = key;
      contactsBody.replaceChildren(...answer.items.map(contactRow));
    }
    const pages = Math.max(1, Math.ceil(answer.total / CONTACTS_PER_PAGE));
    pageInfo.textContent = `Page ${page} of ${pages} · ${fmt.number(answer.total)} contacts`;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  };
  prev.addEventListener("click", () => { page = Math.max(1, page - 1); loadContacts().catch((err) => message.replaceChildren(errorBox(err))); });
  next.addEventListener("click", () => { page += 1; loadContacts().catch((err) => message.replaceChildren(errorBox(err))); });

  /** Shows `batch_id` (or refreshes it): only what changed is touched. */
  const show = async (batchId, trunks) => {
    if (batchId !== current) {
      current = batchId;
      shownStatus = null;
      settingsFor = null;
      page = 1;
      lastContacts = "";
      contactsBody.replaceChildren();
      outcomes.replaceChildren();
      delete outcomes.dataset.key;
      message.replaceChildren();
      panel.dataset.batch = batchId;
    }
    const b = await api(`/batches/${encodeURIComponent(batchId)}`);
    if (batchId !== current) return;
    panel.hidden = false;
    const s = statusOf(b);
    panel.dataset.status = s;
    title.textContent = b.batch_name;
    const p = b.progress || {};
    bar.set(progressOf(b));
    facts.replaceChildren(...[
      h("dt", {}, "Agent"), h("dd", {}, b.agent_type || "—"),
      h("dt", {}, "Queued"), h("dd", {}, fmt.number(p.queued)),
      h("dt", {}, "Dialling"), h("dd", {}, fmt.number(p.dialing)),
      h("dt", {}, "Done"), h("dd", { id: "campaign-done" }, fmt.number(p.done)),
      h("dt", {}, "Attempts"), h("dd", {}, fmt.number(p.attempts)),
      h("dt", {}, "Time left"), h("dd", {}, p.eta_seconds != null ? `about ${fmt.duration(p.eta_seconds)}` : "—"),
      b.scheduled_at_utc && s === "scheduled" ? [h("dt", {}, "Starts"), h("dd", {}, `${fmt.date(b.scheduled_at_utc)} (${b.scheduled_timezone || "UTC"})`)] : null,
      h("dt", {}, "Not loaded"), h("dd", {}, `${fmt.number(b.invalid_contacts)} invalid, ${fmt.number(b.duplicate_contacts)} duplicate`),
      h("dt", {}, "Do not call"), h("dd", {}, fmt.number(b.dnc_contacts)),
    ].flat().filter(Boolean));
    // Redrawn only when a count changed: the list is a live region, announced on change.
    const byOutcome = Object.entries(p.by_outcome || {});
    const outcomesKey = JSON.stringify(byOutcome);
    if (outcomes.dataset.key !== outcomesKey) {
      outcomes.dataset.key = outcomesKey;
      outcomes.replaceChildren(...(byOutcome.length
        ? byOutcome.flatMap(([name, count]) => [h("dt", {}, name), h("dd", { dataset: { outcome: name } }, fmt.number(count))])
        : [h("dt", {}, "None yet"), h("dd", {}, "—")]));
    }
    if (s !== shownStatus) {
      shownStatus = s;
      status.replaceChildren(statusBadge(s));
      const hadFocus = actions.contains(document.activeElement);
      actions.replaceChildren(...actionsFor(ctx, b, act));
      if (hadFocus && actions.firstChild) actions.firstChild.focus();
      message.replaceChildren(...(b.error_message ? [errorBox({ detail: b.error_message })] : []));
    }
    const campaign = b.campaign || {};
    if (settingsFor !== batchId) {
      settingsFor = batchId;
      settings.replaceChildren(h("summary", {}, "Settings"), settingsForm(ctx, b, campaign, trunks, () => show(batchId, trunks)));
    }
    await loadContacts();
    return b;
  };
  return { panel, show, current: () => current, clear: () => { current = null; panel.hidden = true; } };
}

export async function page(root, ctx) {
  const body = h("div", { id: "campaigns-body" }, loading());
  const notices = h("div", { id: "campaign-notices" });
  root.append(pageHeader("Campaigns", "Outbound calls to a list of contacts: upload, run, watch, stop."), notices, body);
  let agents = [];
  try {
    const a = await api(`/agents/org/${encodeURIComponent(ctx.orgId)}`);
    agents = (Array.isArray(a) ? a : a.agents || []).map((x) => x.agent_type);
  } catch (_) { /* none stored: the built-ins below */ }
  for (const builtIn of ["echo", "bench"]) if (!agents.includes(builtIn)) agents.push(builtIn);
  // Trunks and their registration come from the node's make-up, which only admins may read; others type one.
  let trunks = [];
  if (ctx.canAdmin) {
    try {
      trunks = ((await api("/system")).sip || {}).trunks || [];
    } catch (_) { /* typed by hand */ }
  }

  const say = (node) => { notices.replaceChildren(node); };
  let detail = null;
  const act = async (b, what) => {
    const id = encodeURIComponent(b.batch_id);
    const confirmations = {
      stop: ["Stop this campaign?", `“${b.batch_name}” places no new calls; calls in progress finish. Run it again to call the contacts left.`, "Stop"],
      cancel: ["Cancel the schedule?", `“${b.batch_name}” will not start at ${fmt.date(b.scheduled_at_utc)}.`, "Cancel schedule"],
      delete: ["Delete this campaign?", `“${b.batch_name}” and its contacts and outcomes are removed.`, "Delete"],
    };
    if (what === "run") {
      // The settings as they are now (saved since the buttons were drawn, perhaps).
      let campaign;
      try { campaign = (await api(`/campaigns/${id}`)).campaign; } catch (err) { return say(errorBox(err)); }
      return runDialog(b, campaign || {}, trunks, refresh);
    }
    if (confirmations[what] && !(await confirm(...confirmations[what]))) return;
    const calls = {
      pause: [`/campaigns/${id}/pause`, "POST"], resume: [`/campaigns/${id}/resume`, "POST"], stop: [`/batches/${id}/stop`, "POST"],
      cancel: [`/batches/${id}/schedule/cancel`, "POST"], delete: [`/batches/${id}`, "DELETE"],
    };
    const [path, method] = calls[what];
    try {
      await api(path, { method });
      notices.replaceChildren();
      toast({ pause: "Paused", resume: "Resumed", stop: "Stopping", cancel: "Schedule cancelled", delete: "Deleted" }[what]);
      if (what === "delete" && detail.current() === b.batch_id) {
        detail.clear();
        history.replaceState(null, "", "/campaigns");
      }
      await refresh();
    } catch (err) {
      say(errorBox(err));
    }
  };
  detail = detailPanel(ctx, act);

  const choose = (b) => {
    history.replaceState(null, "", `/campaigns?batch=${encodeURIComponent(b.batch_id)}`);
    detail.show(b.batch_id, trunks).then(() => detail.panel.scrollIntoView({ block: "nearest" })).catch((err) => say(errorBox(err)));
    for (const [id, tr] of rows) tr.setAttribute("aria-current", id === b.batch_id ? "true" : "false");
  };

  // Rows are kept and updated in place (not redrawn), so focus and a click in progress survive a refresh.
  const rows = new Map();
  let tbody = null;
  const row = (b) => {
    const bar = progressBar(`Progress of ${b.batch_name}`);
    const open = h("button", { type: "button", class: "link", "aria-label": `Open ${b.batch_name}` }, b.batch_name);
    const tr = h("tr", { dataset: { batch: b.batch_id } },
      h("td", {}, open, h("div", { class: "muted small" }, b.original_filename || "")),
      h("td", {}, b.agent_type || "—"),
      h("td", { class: "contacts" }),
      h("td", { class: "bar" }, bar.el),
      h("td", { class: "status" }),
      h("td", { class: "row-actions" }));
    tr.update = (next) => {
      tr.batch = next;
      bar.set(progressOf(next));
      tr.querySelector(".contacts").replaceChildren(`${fmt.number(next.valid_contacts)} to call`,
        ...(next.invalid_contacts || next.duplicate_contacts || next.dnc_contacts
          ? [h("div", { class: "muted small" }, `${fmt.number(next.invalid_contacts)} invalid · ${fmt.number(next.duplicate_contacts)} dup · ${fmt.number(next.dnc_contacts)} DNC`)]
          : []));
      const s = statusOf(next);
      if (tr.dataset.status !== s) {
        tr.dataset.status = s;
        tr.querySelector(".status").replaceChildren(statusBadge(s));
        const cell = tr.querySelector(".row-actions");
        const hadFocus = cell.contains(document.activeElement);
        cell.replaceChildren(...actionsFor(ctx, next, act));
        if (hadFocus && cell.firstChild) cell.firstChild.focus();
      }
    };
    open.addEventListener("click", () => choose(tr.batch || b));
    tr.update(b);
    return tr;
  };

  const draw = async () => {
    let answer;
    try {
      answer = await api("/batches");
    } catch (err) {
      tbody = null;
      rows.clear();
      body.replaceChildren(failure("Campaigns", err));
      return !err.unavailable;
    }
    const batches = Array.isArray(answer) ? answer : answer.batches || answer.items || [];
    // The list's counters are the runner's attempts; a campaign on the move gets its contacts counted.
    await Promise.all(batches.filter((b) => ACTIVE.has(statusOf(b))).map(async (b) => {
      try { b.progress = (await api(`/batches/${encodeURIComponent(b.batch_id)}`)).progress; } catch (_) { /* the counters */ }
    }));
    if (!batches.length) {
      if (tbody || !body.querySelector("[data-state=empty]")) {
        tbody = null;
        rows.clear();
        body.replaceChildren(empty("No campaigns yet", ctx.canWrite ? "Upload a CSV of contacts below to start one." : "None has been uploaded."));
      }
    } else {
      if (!tbody) {
        tbody = h("tbody", {});
        body.replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "campaigns" },
          h("caption", { class: "sr-only" }, "Campaigns"),
          h("thead", {}, h("tr", {}, ["Campaign", "Agent", "Contacts", "Progress", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
          tbody)));
      }
      const seen = new Set();
      batches.forEach((b, index) => {
        seen.add(b.batch_id);
        let tr = rows.get(b.batch_id);
        if (!tr) {
          tr = row(b);
          rows.set(b.batch_id, tr);
        } else {
          tr.update(b);
        }
        tr.setAttribute("aria-current", detail.current() === b.batch_id ? "true" : "false");
        if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
      });
      for (const [id, tr] of rows) {
        if (!seen.has(id)) {
          tr.remove();
          rows.delete(id);
        }
      }
    }
    if (detail.current()) {
      if (rows.has(detail.current())) await detail.show(detail.current(), trunks).catch((err) => say(errorBox(err)));
      else detail.clear();
    }
    return true;
  };
  const refresh = () => draw();

  if (!(await draw())) return;
  root.append(detail.panel);
  const wanted = ctx.query.get("batch");
  if (wanted && rows.has(wanted)) choose(rows.get(wanted).batch);
  if (ctx.canWrite) {
    const report = h("div", { id: "upload-report" });
    root.append(h("div", {}, report, uploadForm(ctx, agents, async (answer) => {
      report.replaceChildren(uploadReport(answer));
      await draw();
      if (rows.has(answer.batch_id)) choose(rows.get(answer.batch_id).batch);
    })));
  }
  const timer = setInterval(async () => {
    if (!ctx.alive()) return clearInterval(timer);
    if (!(await draw())) clearInterval(timer);
  }, REFRESH_MS);
}
