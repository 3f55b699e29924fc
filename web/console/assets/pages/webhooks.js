// Webhooks: the org's endpoints (`/api/v1/webhooks`), their subscribed events and signing secret (shown once,
// in the answer that creates or rotates it, with a copy button; masked ever after), enable/disable, delete, a
// test event, and each endpoint's delivery log: status, HTTP answer, latency, attempts, error, and a replay.
// The log refreshes in place every two seconds (rows kept, so focus survives). Writes are for admins.

import { api } from "../api.js";
import { h, field, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, dialog, toast, showFormError, clearFormErrors } from "../ui.js";

const REFRESH_MS = 2000;
const DELIVERY_KIND = { delivered: "ok", pending: "info", failed: "bad", cancelled: "" };

/** The secret, once: a read-only field, a copy button, and the warning that it is not shown again. */
function secretPanel(answer, what) {
  const input = h("input", { id: "webhook-secret", readonly: true, value: answer.secret, "aria-label": "Signing secret", spellcheck: "false" });
  const copy = h("button", { type: "button", class: "secondary", id: "copy-secret" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      copy.textContent = "Copied";
    } catch (_) {
      // No clipboard permission (plain http on another host): select it for Ctrl+C.
      input.select();
      copy.textContent = "Selected: press Ctrl+C";
    }
  });
  const hide = h("button", { type: "button", class: "secondary small", id: "hide-secret" }, "I have saved it");
  const panel = h("section", { class: "notice ok", id: "webhook-secret-panel", role: "status" },
    h("p", {}, h("strong", {}, `${what} `), "Sign-check deliveries to ", h("code", {}, answer.url),
      " with this secret. It is shown now only: afterwards only its last characters are."),
    h("div", { class: "secret-once" }, input, copy), h("div", { class: "actions end" }, hide));
  hide.addEventListener("click", () => panel.remove());
  return panel;
}

function eventChoices(events, chosen) {
  const all = ["*", ...new Set(events.map((e) => `${e.split(".")[0]}.*`)), ...events];
  return h("fieldset", { class: "inner", id: "webhook-events" }, h("legend", {}, "Events"),
    h("div", { class: "events" }, all.map((e) => {
      const id = `event-${e.replace(/[^a-z0-9]/gi, "-")}`;
      return h("span", { class: "check" }, h("input", { type: "checkbox", id, name: "events", value: e, checked: chosen.includes(e) }),
        h("label", { for: id }, e === "*" ? "every event (*)" : e));
    })));
}

/** One delivery's attempts and body, in a dialog. */
async function deliveryDialog(endpointId, delivery) {
  let full;
  try {
    full = await api(`/webhooks/${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(delivery.id)}`);
  } catch (err) {
    toast(err.detail, "");
    return;
  }
  let body = full.body;
  try { body = JSON.stringify(JSON.parse(full.body), null, 2); } catch (_) { /* as sent */ }
  dialog(`Delivery ${full.id}`, () => h("div", { id: "delivery-detail" },
    h("p", {}, badge(full.status, DELIVERY_KIND[full.status] || ""), " ", h("code", {}, full.event), " · event ", h("code", {}, full.event_id),
      full.replay_of ? [" · replay of ", h("code", {}, full.replay_of)] : null),
    (full.attempts || []).length
      ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["#", "At", "HTTP", "Latency", "Answer or error"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, full.attempts.map((a) => h("tr", {}, h("td", {}, String(a.n)), h("td", {}, fmt.date(a.at)),
          h("td", {}, a.status ? String(a.status) : "—"), h("td", {}, fmt.ms(a.latency_ms)),
          h("td", { class: "small" }, a.error ? h("span", { class: "bad-text" }, a.error) : h("code", {}, a.response || "")))))))
      : h("p", { class: "muted" }, "Not attempted yet."),
    h("h3", {}, "Body"), h("pre", { class: "body" }, body)), { wide: true });
}

/** The delivery log of one endpoint, kept in place. */
function deliveryLog(ctx) {
  const title = h("h2", { id: "deliveries-title" }, "Delivery log");
  const state = h("p", { class: "muted", role: "status" }, "Choose an endpoint to see what was sent to it.");
  const tbody = h("tbody", {});
  const table = h("div", { class: "table-wrap", hidden: true }, h("table", { id: "webhook-deliveries", "aria-labelledby": "deliveries-title" },
    h("thead", {}, h("tr", {}, ["Event", "Queued", "Status", "HTTP", "Latency", "Attempts", "Error", ""].map((t) => h("th", { scope: "col" }, t)))),
    tbody));
  const panel = h("section", { class: "panel", id: "webhook-log", hidden: true }, title, state, table);
  const rows = new Map();
  const details = new Map();
  let current = null;

  const row = (endpointId, d) => {
    const open = h("button", { type: "button", class: "link", "aria-label": `Attempts of delivery ${d.id}` }, d.event);
    open.addEventListener("click", () => deliveryDialog(endpointId, d));
    const replay = ctx.canAdmin ? h("button", { type: "button", class: "secondary small", dataset: { replay: d.id } }, "Replay") : null;
    if (replay) replay.addEventListener("click", async () => {
      replay.disabled = true;
      try {
        const answer = await api(`/webhooks/${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(d.id)}/replay`, { method: "POST" });
        toast(`Replayed as ${answer.delivery_id}`, "ok");
        await refresh();
      } catch (err) {
        state.replaceChildren(errorBox(err));
      } finally {
        replay.disabled = false;
      }
    });
    return h("tr", { dataset: { delivery: d.id } },
      h("td", {}, open, d.replay_of ? h("div", { class: "muted small" }, `replay of ${d.replay_of}`) : null),
      h("td", {}, fmt.date(d.created_at)),
      h("td", { class: "status" }), h("td", { class: "http" }), h("td", { class: "latency" }),
      h("td", { class: "attempts" }), h("td", { class: "error small" }), h("td", { class: "row-actions" }, replay));
  };

  /** The last attempt of `d` (from its detail, fetched again only when its attempt count or status changed). */
  const lastAttempt = async (endpointId, d) => {
    const key = `${d.status}:${d.attempt_count}`;
    const known = details.get(d.id);
    if (known && known.key === key) return known.attempt;
    let attempt = null;
    if (d.attempt_count) {
      const full = await api(`/webhooks/${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(d.id)}`);
      attempt = (full.attempts || [])[full.attempts.length - 1] || null;
    }
    details.set(d.id, { key, attempt });
    return attempt;
  };

  const refresh = async () => {
    if (!current) return;
    const id = current.id;
    const answer = await api(`/webhooks/${encodeURIComponent(id)}/deliveries`, { query: { limit: 20 } });
    if (!current || id !== current.id) return;
    const items = answer.items || [];
    state.textContent = items.length ? `${fmt.number(answer.total)} deliveries, newest first (the last 20 show).` : "Nothing sent to this endpoint yet.";
    table.hidden = !items.length;
    const seen = new Set();
    for (const [index, d] of items.entries()) {
      seen.add(d.id);
      let tr = rows.get(d.id);
      if (!tr) {
        tr = row(id, d);
        rows.set(d.id, tr);
      }
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
      const attempt = await lastAttempt(id, d);
      tr.dataset.status = d.status;
      tr.querySelector(".status").replaceChildren(badge(d.status, DELIVERY_KIND[d.status] || ""),
        ...(d.status === "pending" && d.next_attempt_at && d.attempt_count ? [h("div", { class: "muted small" }, `retry ${fmt.date(d.next_attempt_at)}`)] : []));
      tr.querySelector(".http").textContent = attempt && attempt.status ? String(attempt.status) : "—";
      tr.querySelector(".latency").textContent = attempt ? fmt.ms(attempt.latency_ms) : "—";
      tr.querySelector(".attempts").textContent = String(d.attempt_count ?? 0);
      tr.querySelector(".error").textContent = (attempt && attempt.error) || d.error || "";
    }
    for (const [key, tr] of rows) {
      if (!seen.has(key)) {
        tr.remove();
        rows.delete(key);
      }
    }
  };

  const show = async (endpoint) => {
    if (!current || current.id !== endpoint.id) {
      rows.clear();
      details.clear();
      tbody.replaceChildren();
    }
    current = endpoint;
    panel.hidden = false;
    panel.dataset.endpoint = endpoint.id;
    title.textContent = `Delivery log · ${endpoint.url}`;
    await refresh();
  };
  return { panel, show, refresh, current: () => current, clear: () => { current = null; panel.hidden = true; } };
}

export async function page(root, ctx) {
  const body = h("div", { id: "webhooks-body" }, loading());
  const notices = h("div", { id: "webhook-notices" });
  root.append(pageHeader("Webhooks", "Signed HTTP calls to your systems when calls and campaigns happen."), notices, body);
  const log = deliveryLog(ctx);
  let answer;
  try {
    answer = await api("/webhooks");
  } catch (err) {
    body.replaceChildren(failure("Webhooks", err));
    return;
  }
  const endpoints = answer.webhooks || [];
  const events = answer.events || [];
  const reload = () => ctx.navigate(`/webhooks${log.current() ? `?endpoint=${encodeURIComponent(log.current().id)}` : ""}`, { replace: true });

  const choose = (w) => {
    history.replaceState(null, "", `/webhooks?endpoint=${encodeURIComponent(w.id)}`);
    for (const tr of body.querySelectorAll("#webhooks tbody tr")) tr.setAttribute("aria-current", tr.dataset.endpoint === w.id ? "true" : "false");
    log.show(w).catch((err) => notices.replaceChildren(errorBox(err)));
  };

  const rowActions = (w) => {
    const deliveries = h("button", { type: "button", class: "secondary small", dataset: { deliveries: w.id } }, "Deliveries");
    deliveries.addEventListener("click", () => choose(w));
    if (!ctx.canAdmin) return [deliveries];
    const test = h("button", { type: "button", class: "secondary small", dataset: { test: w.id } }, "Send test");
    test.addEventListener("click", async () => {
      test.disabled = true;
      try {
        const sent = await api(`/webhooks/${encodeURIComponent(w.id)}/test`, { method: "POST" });
        toast(`Test event queued (${sent.delivery_id})`, "ok");
        choose(w);
      } catch (err) {
        notices.replaceChildren(errorBox(err));
      } finally {
        test.disabled = false;
      }
    });
    const toggle = h("button", { type: "button", class: "secondary small", dataset: { toggle: w.id } }, w.enabled ? "Disable" : "Enable");
    toggle.addEventListener("click", async () => {
      if (w.enabled && !(await confirm("Disable this endpoint?", `Nothing is sent to ${w.url} until it is enabled again.`, "Disable"))) return;
      try {
        await api(`/webhooks/${encodeURIComponent(w.id)}`, { method: "PUT", body: { enabled: !w.enabled } });
        toast(w.enabled ? "Disabled" : "Enabled");
        reload();
      } catch (err) {
        notices.replaceChildren(errorBox(err));
      }
    });
    const rotate = h("button", { type: "button", class: "secondary small" }, "New secret");
    rotate.addEventListener("click", async () => {
      if (!(await confirm("Make a new signing secret?", `Deliveries to ${w.url} are signed with the new secret from now on; the old one stops working.`, "Make new secret"))) return;
      try {
        const rotated = await api(`/webhooks/${encodeURIComponent(w.id)}`, { method: "PUT", body: { rotate_secret: true } });
        notices.replaceChildren(secretPanel(rotated, "A new signing secret."));
        for (const tr of body.querySelectorAll(`tr[data-endpoint="${CSS.escape(w.id)}"] .secret`)) tr.textContent = "(new: shown above)";
      } catch (err) {
        notices.replaceChildren(errorBox(err));
      }
    });
    const remove = h("button", { type: "button", class: "danger small", dataset: { delete: w.id } }, "Delete");
    remove.addEventListener("click", async () => {
      if (!(await confirm("Delete this endpoint?", `${w.url} gets no more deliveries; those waiting are cancelled.`))) return;
      try {
        await api(`/webhooks/${encodeURIComponent(w.id)}`, { method: "DELETE" });
        toast("Deleted");
        if (log.current() && log.current().id === w.id) log.clear();
        reload();
      } catch (err) {
        notices.replaceChildren(errorBox(err));
      }
    });
    return [deliveries, test, toggle, rotate, remove];
  };

  body.replaceChildren(endpoints.length ? h("div", { class: "table-wrap" }, h("table", { id: "webhooks" },
    h("caption", { class: "sr-only" }, "Webhook endpoints"),
    h("thead", {}, h("tr", {}, ["Endpoint", "Events", "State", "Secret", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, endpoints.map((w) => h("tr", { dataset: { endpoint: w.id } },
      h("td", {}, h("code", {}, w.url), w.description ? h("div", { class: "muted small" }, w.description) : null),
      h("td", { class: "small" }, (w.events || []).join(", ")),
      h("td", {}, badge(w.enabled ? "enabled" : "disabled", w.enabled ? "ok" : "warn"), w.disabled_reason ? h("div", { class: "muted small" }, w.disabled_reason) : null),
      h("td", { class: "mono secret" }, w.secret || "••••"),
      h("td", { class: "row-actions" }, rowActions(w)))))))
    : empty("No webhook endpoints yet", ctx.canAdmin ? "Add one below: its URL gets a signed POST for each event it subscribes to." : "An admin can add one."));
  root.append(log.panel);

  if (ctx.canAdmin) {
    const form = h("form", { class: "panel", id: "webhook-form", novalidate: true }, h("h2", {}, "Add an endpoint"),
      h("div", { class: "grid2" },
        field("URL", h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/voicera", autocomplete: "off" }), "https; plain http only to loopback where the node allows it."),
        field("Description", h("input", { name: "description", maxlength: 500, autocomplete: "off" }))),
      eventChoices(events, ["*"]),
      h("div", { class: "form-message" }),
      h("div", { class: "actions end" }, h("button", { type: "submit", class: "primary", id: "add-webhook" }, "Add endpoint")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      const chosen = [...form.querySelectorAll("input[name=events]:checked")].map((c) => c.value);
      try {
        const created = await api("/webhooks", { method: "POST", body: { url: form.elements.url.value.trim(), events: chosen, description: form.elements.description.value } });
        // The page is drawn again with the new endpoint; the secret stays above it, this once.
        await ctx.navigate(`/webhooks?endpoint=${encodeURIComponent(created.id)}`, { replace: true });
        const notice = document.getElementById("webhook-notices");
        if (notice) notice.replaceChildren(secretPanel(created, "Endpoint added."));
      } catch (err) {
        showFormError(form, err.field === "events" ? { ...err, field: null } : err);
      }
    });
    root.append(form);
  }

  const wanted = ctx.query.get("endpoint");
  const first = endpoints.find((w) => w.id === wanted);
  if (first) choose(first);
  const timer = setInterval(() => {
    if (!ctx.alive()) return clearInterval(timer);
    log.refresh().catch((err) => {
      if (ctx.alive()) notices.replaceChildren(errorBox(err));
    });
  }, REFRESH_MS);
}
