// Live calls: the org's calls in progress (`GET /api/v1/calls/live`: this node's with their transcript so far,
// other nodes' from the store), refreshed every two seconds; the selected call's transcript as it is said
// (`/calls/live/{id}/events`, Server-Sent Events; polled where the session is a bearer token, which
// EventSource cannot send); hang-up for admins (`POST /calls/live/{id}/hangup`).

import { api, hasSession, authHeaders } from "../api.js";
import { h, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast } from "../ui.js";

const REFRESH_MS = 2000;

function bubble(turn) {
  const cls = `bubble ${turn.role === "user" ? "user" : "agent"}${turn.interrupted ? " interrupted" : ""}`;
  return h("li", { class: cls, dataset: { seq: turn.seq } },
    h("span", { class: "who" }, turn.role === "user" ? "Caller" : "Agent"), turn.content);
}

/** The transcript panel of one call: its turns as they come, and its end. */
function transcriptPanel(ctx) {
  const title = h("h2", { id: "live-transcript-title" }, "Transcript");
  const state = h("p", { class: "muted", id: "live-transcript-state", role: "status" }, "Choose a call to follow what is said.");
  const list = h("ol", { class: "transcript live", id: "live-transcript", "aria-labelledby": "live-transcript-title", "aria-live": "polite" });
  const panel = h("section", { class: "panel", id: "live-transcript-panel" }, title, state, list);
  let source = null;
  let poller = null;
  let current = null;
  let lastSeq = -1;

  const add = (turn) => {
    if (turn.seq <= lastSeq) return;
    lastSeq = turn.seq;
    list.append(bubble(turn));
    list.scrollTop = list.scrollHeight;
  };
  const stop = () => {
    if (source) source.close();
    if (poller) clearInterval(poller);
    source = null;
    poller = null;
  };
  const ended = () => {
    stop();
    state.textContent = "The call has ended.";
    panel.dataset.state = "ended";
  };
  const follow = (call) => {
    if (current === call.id) return;
    stop();
    current = call.id;
    lastSeq = -1;
    list.replaceChildren();
    panel.dataset.state = "following";
    panel.dataset.call = call.id;
    title.textContent = `Transcript · ${call.agent_type || "call"}`;
    if (!call.on_this_node) {
      state.textContent = `This call is on node ${call.node_id}: its transcript is there.`;
      return;
    }
    state.textContent = "Following the call as it is said.";
    for (const turn of call.transcript || []) add(turn);
    const path = `/api/v1/calls/live/${encodeURIComponent(call.id)}/events`;
    // EventSource sends cookies but no Authorization header: a bearer session polls instead.
    if (hasSession() && !authHeaders("GET").Authorization && "EventSource" in window) {
      source = new EventSource(path);
      source.addEventListener("turn", (e) => add(JSON.parse(e.data)));
      source.addEventListener("ended", ended);
      source.onerror = () => {
        // The server closed the stream without `ended` (restart, network): polling finds out what happened.
        if (source && source.readyState === EventSource.CLOSED) {
          source = null;
          pollFor(call.id);
        }
      };
    } else {
      pollFor(call.id);
    }
  };
  const pollFor = (id) => {
    poller = setInterval(async () => {
      if (!ctx.alive()) return stop();
      try {
        const call = await api(`/calls/live/${encodeURIComponent(id)}`);
        for (const turn of call.transcript || []) add(turn);
      } catch (err) {
        if (err.status === 404) ended();
        else state.replaceChildren(errorBox(err));
      }
    }, REFRESH_MS);
  };
  return { panel, follow, stop, current: () => current };
}

export async function page(root, ctx) {
  const body = h("div", { id: "live-body" }, loading());
  const transcript = transcriptPanel(ctx);
  transcript.panel.hidden = true;
  root.append(pageHeader("Live calls", "Calls in progress right now, with what is being said."), body, transcript.panel);

  const hangUp = async (call, button) => {
    if (!(await confirm("Hang up this call?", "The caller hears the call end now.", "Hang up"))) return;
    button.disabled = true;
    try {
      await api(`/calls/live/${encodeURIComponent(call.id)}/hangup`, { method: "POST" });
      toast("Hanging up…");
    } catch (err) {
      button.disabled = false;
      body.prepend(errorBox(err));
    }
  };

  const row = (call) => {
    const follow = h("button", { type: "button", class: "secondary small", "aria-label": `Follow the transcript of the call with ${call.agent_type}` }, "Transcript");
    follow.addEventListener("click", () => transcript.follow(call));
    const hang = ctx.canAdmin && call.on_this_node
      ? h("button", { type: "button", class: "danger small", dataset: { hangup: call.id }, "aria-label": `Hang up the call with ${call.agent_type}`, disabled: call.hangup_requested }, "Hang up")
      : null;
    if (hang) hang.addEventListener("click", () => hangUp(call, hang));
    return h("tr", { dataset: { call: call.id } },
      h("td", {}, call.agent_type || "—"),
      h("td", {}, badge(call.transport || "?", "info")),
      h("td", {}, call.direction || "—"),
      h("td", {}, fmt.mask(call.from_number)),
      h("td", {}, fmt.mask(call.to_number)),
      h("td", {}, fmt.date(call.start_time_utc)),
      h("td", { class: "duration" }, fmt.duration(call.duration)),
      h("td", {}, call.on_this_node ? "this node" : h("code", {}, call.node_id || "?")),
      h("td", { class: "row-actions" }, follow, hang));
  };

  // Rows are kept and updated in place (not redrawn), so focus and a click in progress survive a refresh.
  const rows = new Map();
  let tbody = null;
  const draw = async () => {
    let answer;
    try {
      answer = await api("/calls/live");
    } catch (err) {
      tbody = null;
      rows.clear();
      body.replaceChildren(failure("Live calls", err));
      return !err.unavailable;
    }
    const calls = answer.calls || [];
    if (!calls.length) {
      if (tbody || !body.querySelector("[data-state=empty]")) {
        tbody = null;
        rows.clear();
        body.replaceChildren(empty("No calls in progress", "Calls show here while they last."));
      }
      return true;
    }
    if (!tbody) {
      tbody = h("tbody", {});
      body.replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "live-calls" },
        h("caption", { class: "sr-only" }, "Calls in progress"),
        h("thead", {}, h("tr", {}, ["Agent", "Transport", "Direction", "From", "To", "Started", "Duration", "Node", ""]
          .map((t) => h("th", { scope: "col" }, t)))),
        tbody)));
    }
    const seen = new Set();
    for (const call of calls) {
      seen.add(call.id);
      let tr = rows.get(call.id);
      if (!tr) {
        tr = row(call);
        rows.set(call.id, tr);
      } else {
        tr.querySelector(".duration").textContent = fmt.duration(call.duration);
        const hang = tr.querySelector("button[data-hangup]");
        if (hang && call.hangup_requested) hang.disabled = true;
      }
      tr.setAttribute("aria-current", transcript.current() === call.id ? "true" : "false");
      if (!tr.isConnected) tbody.append(tr);
    }
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    // Nothing followed yet, or the followed call is over: follow the oldest call.
    const followed = transcript.current();
    if (!followed || (!seen.has(followed) && transcript.panel.dataset.state === "ended")) {
      transcript.panel.hidden = false;
      transcript.follow(calls[0]);
    }
    return true;
  };
  if (!(await draw())) return;
  const timer = setInterval(async () => {
    if (!ctx.alive()) {
      clearInterval(timer);
      transcript.stop();
      return;
    }
    if (!(await draw())) clearInterval(timer);
  }, REFRESH_MS);
}
