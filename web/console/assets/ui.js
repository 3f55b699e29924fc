// Small DOM helpers shared by the pages: an element builder, formatters, form fields with labels, the
// in-place error and "not available" states, dialogs and toasts. No framework: pages build DOM and replace it.

/** `h("button", {class: "primary", onclick}, "Save")`: attributes, `on*` handlers, children (text, nodes,
 * arrays, null). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "for") el.htmlFor = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

let ids = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

export const fmt = {
  date(text) {
    if (!text) return "—";
    const d = new Date(typeof text === "number" ? text * 1000 : text);
    return Number.isNaN(d.getTime()) ? String(text) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  },
  day(text) {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? String(text) : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined || seconds === "") return "—";
    const s = Math.round(Number(seconds));
    if (!Number.isFinite(s)) return "—";
    const m = Math.floor(s / 60);
    return m ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  },
  ms(value) {
    return value === null || value === undefined ? "—" : `${Math.round(value)} ms`;
  },
  number(value, digits = 0) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
  },
  /** `+91 •••• ••12 34` style: only the last four digits show. */
  mask(number) {
    if (!number) return "—";
    const text = String(number);
    const digits = text.replace(/\D/g, "");
    if (digits.length <= 4) return text;
    return (text.startsWith("+") ? "+" : "") + "•".repeat(Math.min(digits.length - 4, 8)) + digits.slice(-4);
  },
};

/** A labelled control: `field("Name", h("input", {name: "name"}), "hint")`. */
export function field(label, control, hint) {
  const id = control.id || uid();
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: errorId, role: "alert", hidden: true }));
}

/** A `<select>` from `[value, label]` pairs (or plain values). */
export function select(attrs, options, value) {
  const el = h("select", attrs, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: String(v) === String(value ?? "") }, label);
  }));
  return el;
}

export function checkbox(name, label, checked) {
  const id = uid();
  return h("div", { class: "check" }, h("input", { type: "checkbox", id, name, checked: Boolean(checked) }), h("label", { for: id }, label));
}

/** The API's error, in words, where it happened. */
export function errorBox(err) {
  const box = h("div", { class: "notice error", role: "alert" });
  const detail = err && err.detail ? err.detail : String(err && err.message ? err.message : err);
  box.append(h("strong", {}, "Error: "), detail);
  if (err && err.field) box.append(" ", h("span", { class: "muted" }, `(field: ${err.field})`));
  return box;
}

/** Shows `err` next to the form control its `field` names (if any) and in the form's message slot. */
export function showFormError(form, err) {
  clearFormErrors(form);
  const slot = form.querySelector(".form-message");
  if (err && err.field) {
    const names = [err.field, err.field.replace(/^agent_config\./, ""), err.field.split(".").pop()];
    const control = names.map((n) => form.querySelector(`[name="${CSS.escape(n)}"]`)).find(Boolean);
    if (control) {
      const message = control.closest(".field")?.querySelector(".field-error");
      if (message) {
        message.textContent = err.detail;
        message.hidden = false;
      }
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
  }
  if (slot) slot.replaceChildren(errorBox(err));
}

export function clearFormErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.hidden = true;
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const slot = form.querySelector(".form-message");
  if (slot) slot.replaceChildren();
}

/** A page section whose API route this node does not serve: said plainly, with the route. */
export function unavailable(what, err) {
  return h("div", { class: "empty unavailable", dataset: { state: "unavailable" } },
    h("h2", {}, `${what} are not available on this node`),
    h("p", {}, "This server does not offer this part of the API yet",
      err && err.path ? [" (", h("code", {}, `${err.path.split("?")[0]}`), " answered ", String(err.status), ")"] : null,
      ". Nothing is shown rather than something made up."));
}

export function empty(title, text, action) {
  return h("div", { class: "empty", dataset: { state: "empty" } }, h("h2", {}, title), text ? h("p", {}, text) : null, action || null);
}

/** The section's content for a failed load: "not available" for a missing route, else the error. */
export function failure(what, err) {
  return err && err.unavailable ? unavailable(what, err) : errorBox(err);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

export function pageHeader(title, subtitle, ...actions) {
  return h("header", { class: "page-header" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    h("div", { class: "actions" }, actions));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

/** A modal `<dialog>`; resolves with the value passed to `close`. Escape and the close button cancel. */
export function dialog(title, build, { wide = false } = {}) {
  const titleId = uid("dlg");
  const el = h("dialog", { class: wide ? "wide" : "", "aria-labelledby": titleId });
  let resolve;
  const done = new Promise((r) => { resolve = r; });
  const close = (value) => {
    if (el.open) el.close();
    el.remove();
    resolve(value);
  };
  el.addEventListener("cancel", (e) => { e.preventDefault(); close(undefined); });
  el.append(
    h("div", { class: "dialog-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => close(undefined) }, "×")),
    build(close));
  document.body.append(el);
  el.showModal();
  return { el, close, done };
}

export async function confirm(title, text, ok = "Delete") {
  const { done } = dialog(title, (close) => h("div", {},
    h("p", {}, text),
    h("div", { class: "actions end" },
      h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
      h("button", { type: "button", class: "danger", onclick: () => close(true) }, ok))));
  return Boolean(await done);
}

export function toast(text, kind = "") {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  const el = h("div", { class: `toast ${kind}` }, text);
  region.append(el);
  setTimeout(() => el.remove(), 4000);
}

/** The values of a form's named controls (checkboxes as booleans, number inputs as numbers or null). */
export function formValues(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") values[el.name] = el.checked;
    else if (el.type === "number") values[el.name] = el.value === "" ? null : Number(el.value);
    else if (el.type !== "file") values[el.name] = el.value;
  }
  return values;
}

/** Downloads text as a file. */
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function csv(rows) {
  const cell = (v) => {
    const text = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}
