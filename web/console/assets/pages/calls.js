// Calls: the history (the original's filters and sorts, masked numbers, pages, CSV export) and a call's page
// (facts, end reason, the transcript as bubbles, the recording with its waveform and turn markers, per-turn
// latency as a chart).

import { api, authHeaders, ApiError } from "../api.js";
import { h, field, select, fmt, badge, pageHeader, failure, empty, loading, errorBox, download, csv } from "../ui.js";
import { stackedBars, waveform, peaks } from "../charts.js";

const PAGE = 25;
const FILTERS = ["agent_type", "from_number", "to_number", "inbound", "call_status", "date_from", "date_to", "sort"];

function statusOf(m) {
  if (m.call_busy) return "Busy";
  if (m.end_time_utc || Number(m.duration) > 0) return "Completed";
  return "In Progress";
}

function queryOf(values, page, limit) {
  const q = { page, limit };
  for (const k of ["agent_type", "from_number", "to_number", "call_status", "date_from", "date_to"]) if (values[k]) q[k] = values[k];
  if (values.inbound) q.inbound = values.inbound;
  const [kind, order] = (values.sort || "date:latest").split(":");
  q[kind === "duration" ? "duration_sort_order" : "date_sort_order"] = order;
  return q;
}

export async function list(root, ctx) {
  const values = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) || ""]));
  const page = Math.max(1, Number(ctx.query.get("page")) || 1);
  let reveal = false;
  const exportButton = h("button", { type: "button", class: "secondary", id: "export-csv" }, "Export CSV");
  const revealButton = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Show numbers");
  root.append(pageHeader("Calls", "Every call of your organisation, newest first.", revealButton, exportButton));
  let options = { agent_types: [], from_numbers: [], to_numbers: [] };
  try {
    options = await api("/meetings/filter-options");
  } catch (_) { /* the drop-downs stay empty; the list says what is wrong */ }
  const opt = (list) => [["", "Any"], ...(list || []).map((v) => [v, v])];
  const form = h("form", { class: "filters", id: "call-filters", "aria-label": "Filters" },
    field("Agent", select({ name: "agent_type" }, opt(options.agent_types), values.agent_type)),
    field("From", select({ name: "from_number" }, opt((options.from_numbers || []).map(String)).map(([v, l]) => [v, v ? fmt.mask(l) : l]), values.from_number)),
    field("To", select({ name: "to_number" }, opt((options.to_numbers || []).map(String)).map(([v, l]) => [v, v ? fmt.mask(l) : l]), values.to_number)),
    field("Direction", select({ name: "inbound" }, [["", "Any"], ["true", "Inbound"], ["false", "Outbound"]], values.inbound)),
    field("Status", select({ name: "call_status" }, [["", "Any"], "Completed", "Busy", "In Progress"], values.call_status)),
    field("From date", h("input", { type: "date", name: "date_from", value: values.date_from })),
    field("To date", h("input", { type: "date", name: "date_to", value: values.date_to })),
    field("Sort", select({ name: "sort" }, [["date:latest", "Newest"], ["date:oldest", "Oldest"], ["duration:longest", "Longest"], ["duration:shortest", "Shortest"]], values.sort || "date:latest")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"), h("a", { href: "/calls", class: "button secondary" }, "Clear")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v && !(k === "sort" && v === "date:latest")) q.set(k, v);
    ctx.navigate(`/calls${q.toString() ? "?" + q : ""}`);
  });
  const body = h("div", {}, loading());
  // On a phone the filters fold away behind their summary.
  const filters = h("details", { class: "filter-box", open: matchMedia("(min-width: 761px)").matches || FILTERS.some((k) => values[k]) },
    h("summary", {}, "Filters"), form);
  root.append(filters, body);

  let answer;
  try {
    answer = await api("/meetings", { query: queryOf(values, page, PAGE) });
  } catch (err) {
    body.replaceChildren(failure("Calls", err));
    exportButton.disabled = true;
    return;
  }
  const items = answer.items || [];
  const table = () => h("div", { class: "table-wrap" }, h("table", { id: "calls" },
    h("caption", { class: "sr-only" }, "Calls"),
    h("thead", {}, h("tr", {}, ["When", "Agent", "Direction", "From", "To", "Duration", "Status"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((m) => h("tr", {},
      h("td", {}, h("a", { href: `/calls/${encodeURIComponent(m.meeting_id)}` }, fmt.date(m.start_time_utc || m.created_at))),
      h("td", {}, m.agent_type || m.agent_id || "—"),
      h("td", {}, m.inbound === false ? "Outbound" : m.inbound ? "Inbound" : "—"),
      h("td", { class: "mono" }, reveal ? m.from_number || "—" : fmt.mask(m.from_number)),
      h("td", { class: "mono" }, reveal ? m.to_number || "—" : fmt.mask(m.to_number)),
      h("td", {}, fmt.duration(m.duration)),
      h("td", {}, badge(statusOf(m), statusOf(m) === "Completed" ? "ok" : statusOf(m) === "Busy" ? "warn" : "info")))))));
  const pages = Math.max(1, Math.ceil((answer.total || 0) / PAGE));
  const link = (p) => { const q = new URLSearchParams(location.search); q.set("page", p); return `/calls?${q}`; };
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: link(page - 1), class: "button secondary" }, "Previous") : null,
    h("span", {}, `Page ${page} of ${pages} · ${fmt.number(answer.total || 0)} calls`),
    page < pages ? h("a", { href: link(page + 1), class: "button secondary" }, "Next") : null);
  const draw = () => body.replaceChildren(items.length ? table() : empty("No calls yet", "Calls appear here as soon as they end."), items.length ? pager : null);
  revealButton.addEventListener("click", () => {
    reveal = !reveal;
    revealButton.setAttribute("aria-pressed", String(reveal));
    revealButton.textContent = reveal ? "Mask numbers" : "Show numbers";
    draw();
  });
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    const name = `calls-${new Date().toISOString().slice(0, 10)}.csv`;
    try {
      // The API's CSV of the selection, where the node serves it; else the same rows, written here.
      const query = queryOf(values, 1, 10000);
      delete query.page;
      delete query.limit;
      try {
        download(name, await api("/meetings/export", { query, headers: { Accept: "text/csv" } }));
        return;
      } catch (err) {
        // Without the export route, `/meetings/export` is a meeting id that does not exist: 404 either way.
        if (!err.unavailable && err.status !== 404) throw err;
      }
      const all = await api("/meetings", { query: { ...queryOf(values, 1, 10000), for_export: true } });
      const rows = [["meeting_id", "start_time_utc", "end_time_utc", "agent_type", "inbound", "from_number", "to_number", "duration_seconds", "status"]];
      for (const m of all.items || []) rows.push([m.meeting_id, m.start_time_utc, m.end_time_utc, m.agent_type, m.inbound, m.from_number, m.to_number, m.duration, statusOf(m)]);
      download(name, csv(rows));
    } catch (err) {
      body.prepend(errorBox(err));
    } finally {
      exportButton.disabled = false;
    }
  });
  draw();
}

/** The per-turn latency rows of a call, whichever naming its record uses. */
function latencyTurns(m) {
  const turns = (m.turn_latencies && m.turn_latencies.length && m.turn_latencies) ||
    (m.latency_metrics && m.latency_metrics.turns) || m.turns || [];
  return turns.map((t, i) => ({
    turn: t.turn_index ?? t.turn ?? i + 1,
    stt: t.stt_ms ?? null,
    llm: t.llm_ttfb_ms ?? t.llm_first_token_ms ?? null,
    tts: t.tts_first_chunk_ms ?? t.tts_first_audio_ms ?? null,
    total: t.latency_ms ?? t.e2e_ms ?? t.end_of_speech_to_audio_ms ?? null,
    interrupted: Boolean(t.interrupted),
  })).filter((t) => t.stt !== null || t.llm !== null || t.tts !== null || t.total !== null);
}

async function recording(m, transcriptTurns) {
  const box = h("section", { class: "panel", id: "recording" }, h("h2", {}, "Recording"));
  if (!m.recording_url) {
    box.append(h("p", { class: "muted" }, "No recording was made of this call."));
    return box;
  }
  const audio = h("audio", { controls: true, preload: "metadata", class: "player" });
  const wave = h("div", { class: "wave-box" }, loading("Drawing the waveform…"));
  const save = h("a", { href: m.recording_url, download: `${m.meeting_id}.wav`, hidden: true }, "Download the recording");
  box.append(wave, audio, h("p", {}, save));
  (async () => {
    try {
      const response = await fetch(m.recording_url, { headers: authHeaders(), credentials: "same-origin" });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new ApiError(response.status, body, m.recording_url);
      }
      const bytes = await response.arrayBuffer();
      const blobUrl = URL.createObjectURL(new Blob([bytes], { type: response.headers.get("Content-Type") || "audio/wav" }));
      // With a cookie session the player streams the route itself (seeking asks for byte ranges).
      audio.src = authHeaders().Authorization ? blobUrl : m.recording_url;
      save.href = blobUrl;
      save.hidden = false;
      const context = new (window.OfflineAudioContext || window.AudioContext)(2, 1, 16000);
      const decoded = await context.decodeAudioData(bytes.slice(0));
      const start = Date.parse(m.start_time_utc || m.created_at || "");
      const markers = transcriptTurns
        .map((t, i) => ({ t: (Date.parse(t.timestamp || "") - start) / 1000, label: `${t.role === "user" ? "Caller" : "Agent"}: ${t.content}`, short: String(i + 1) }))
        .filter((x) => Number.isFinite(x.t));
      wave.replaceChildren(waveform(peaks(decoded), decoded.duration, markers, audio));
    } catch (err) {
      audio.hidden = true;
      wave.replaceChildren(failure("Recordings", err));
    }
  })();
  return box;
}

export async function detail(root, ctx) {
  const id = ctx.params[0];
  root.append(h("p", {}, h("a", { href: "/calls" }, "← All calls")), loading());
  let m;
  try {
    m = await api(`/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    root.lastChild.replaceWith(pageHeader("Call"), failure("Calls", err));
    return;
  }
  root.lastChild.remove();
  const turns = m.transcript || [];
  const facts = [
    ["Agent", m.agent_type || m.agent_id], ["Direction", m.inbound === false ? "Outbound" : m.inbound ? "Inbound" : "—"],
    ["From", fmt.mask(m.from_number)], ["To", fmt.mask(m.to_number)], ["Started", fmt.date(m.start_time_utc || m.created_at)],
    ["Duration", fmt.duration(m.duration)], ["Status", statusOf(m)], ["Transport", m.transport || "—"],
    ["End reason", m.end_reason || m.hangup_cause || "—"],
  ];
  root.append(pageHeader("Call", m.meeting_id),
    h("section", { class: "panel" }, h("dl", { class: "facts wide", id: "call-facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v || "—")]))));
  root.append(await recording(m, turns));
  const transcript = h("section", { class: "panel" }, h("h2", {}, "Transcript"));
  transcript.append(turns.length
    ? h("ol", { class: "transcript", id: "transcript" }, turns.map((t) => h("li", { class: `bubble ${t.role === "user" ? "user" : "agent"}${t.interrupted ? " interrupted" : ""}` },
      h("span", { class: "who" }, t.role === "user" ? "Caller" : "Agent", t.timestamp ? h("time", {}, ` · ${fmt.date(t.timestamp)}`) : null), t.content)))
    : h("p", { class: "muted" }, "No transcript was kept for this call."));
  root.append(transcript);
  const lat = latencyTurns(m);
  const latency = h("section", { class: "panel", id: "latency" }, h("h2", {}, "Latency per turn"));
  if (!lat.length) latency.append(h("p", { class: "muted" }, "No latency was measured for this call."));
  else {
    latency.append(stackedBars(lat.map((t) => ({ label: `#${t.turn}`, parts: [t.stt, t.llm, t.tts], total: t.total })),
      ["Speech to text", "LLM first token", "TTS first audio"], { label: "Latency per turn, in milliseconds" }));
    latency.append(h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Turn", "STT", "LLM first token", "TTS first audio", "End to end", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, lat.map((t) => h("tr", {}, h("td", {}, `#${t.turn}`), h("td", {}, fmt.ms(t.stt)), h("td", {}, fmt.ms(t.llm)),
        h("td", {}, fmt.ms(t.tts)), h("td", {}, fmt.ms(t.total)), h("td", {}, t.interrupted ? badge("interrupted", "warn") : "")))))));
  }
  root.append(latency);
}
