// Sign in, sign up, forgot and reset password, accept an invite: the pages a visitor without a session sees.

import * as api from "../api.js";
import { signedIn } from "../app.js";
import { h, field, showFormError, clearFormErrors, formValues } from "../ui.js";

const NODE_AGENTS = "voicera.nodeAgents";

function card(title, subtitle, form, footer) {
  return h("section", { class: "auth-card" },
    h("div", { class: "brand" }, h("img", { src: "/assets/favicon.svg", alt: "", width: 32, height: 32 }), "VoiceERA"),
    h("h1", {}, title),
    subtitle ? h("p", { class: "muted" }, subtitle) : null,
    form,
    footer ? h("p", { class: "auth-links" }, footer) : null);
}

function input(name, type, autocomplete, extra = {}) {
  return h("input", { name, type, autocomplete, required: true, ...extra });
}

/** Wires `submit` to `action(values)`, with the button busy meanwhile and errors shown in place. */
function handle(form, action) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await action(formValues(form));
    } catch (err) {
      showFormError(form, err);
    } finally {
      button.disabled = false;
    }
  });
}

/**
 * The node's own agents (`demo`, `[[agents]]`, built-ins) come from `/browser/agents`, which takes only the
 * owner's credentials (HTTP Basic) until it accepts the console's session: asked once here, while the
 * password is at hand, and only the list is kept.
 */
async function rememberNodeAgents(who, email, password) {
  if (!(who.role === "owner" || who.is_owner)) return;
  try {
    // `omit`: a refusal's Basic challenge must not open the browser's own password prompt.
    const response = await fetch("/browser/agents", {
      credentials: "omit",
      headers: { Authorization: "Basic " + btoa(unescape(encodeURIComponent(`${email}:${password}`))) },
    });
    if (response.ok) sessionStorage.setItem(NODE_AGENTS, JSON.stringify(await response.json()));
  } catch (_) { /* a node without browser calls: nothing to remember */ }
}

export async function signin(root, ctx) {
  const form = h("form", { novalidate: true },
    field("Email", input("email", "email", "username")),
    field("Password", input("password", "password", "current-password")),
    h("div", { class: "form-message" }),
    h("button", { type: "submit", class: "primary wide", id: "sign-in" }, "Sign in"));
  handle(form, async ({ email, password }) => {
    const who = await api.login(email.trim(), password);
    await rememberNodeAgents(who, email.trim(), password);
    signedIn(who);
    const next = ctx.query.get("next");
    ctx.navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/agents", { replace: true });
  });
  root.append(card("Sign in", "Operate your voice agents.", form,
    [h("a", { href: "/forgot-password" }, "Forgot password?"), " · ", h("a", { href: "/signup" }, "Create an account")]));
  form.querySelector("input").focus();
}

export async function signup(root, ctx) {
  const form = h("form", { novalidate: true },
    field("Your name", input("name", "text", "name")),
    field("Company", input("company_name", "text", "organization")),
    field("Email", input("email", "email", "username")),
    field("Password", input("password", "password", "new-password", { minlength: 8 }), "At least 8 characters."),
    h("div", { class: "form-message" }),
    h("button", { type: "submit", class: "primary wide" }, "Create account"));
  handle(form, async (v) => {
    await api.api("/users/signup", { method: "POST", body: { email: v.email.trim(), password: v.password, name: v.name, company_name: v.company_name } });
    signedIn(await api.login(v.email.trim(), v.password));
    ctx.navigate("/agents", { replace: true });
  });
  root.append(card("Create an account", "A new organisation, with you as its owner. Servers may keep sign-up closed: then ask an owner for an invite.", form,
    [h("a", { href: "/signin" }, "Already have an account? Sign in")]));
}

export async function forgot(root) {
  const form = h("form", { novalidate: true },
    field("Email", input("email", "email", "username")),
    h("div", { class: "form-message" }),
    h("button", { type: "submit", class: "primary wide" }, "Send reset link"));
  handle(form, async ({ email }) => {
    await api.api("/users/forgot-password", { method: "POST", body: { email: email.trim() } });
    form.replaceChildren(h("p", { class: "notice ok", role: "status" }, "If an account has this email, a reset link is on its way. It works once, for a limited time."));
  });
  root.append(card("Reset your password", "We email you a link to choose a new one.", form, [h("a", { href: "/signin" }, "Back to sign in")]));
}

export async function reset(root, ctx) {
  const token = ctx.query.get("token") || "";
  const form = h("form", { novalidate: true },
    field("New password", input("new_password", "password", "new-password", { minlength: 8 }), "At least 8 characters."),
    field("Repeat it", input("repeat", "password", "new-password")),
    h("div", { class: "form-message" }),
    h("button", { type: "submit", class: "primary wide" }, "Set password"));
  handle(form, async (v) => {
    if (v.new_password !== v.repeat) throw { detail: "the two passwords differ", field: "repeat" };
    await api.api("/users/reset-password", { method: "POST", body: { token, new_password: v.new_password } });
    form.replaceChildren(h("p", { class: "notice ok", role: "status" }, "Your password is changed. ", h("a", { href: "/signin" }, "Sign in")));
  });
  root.append(card("Choose a new password", token ? null : "This link has no token: open the link from the email again.", form));
}

export async function invite(root, ctx) {
  // `/add-member/{org id}-{token}` (the API's invite link, the original's path) or `/invite/{same}`; org ids
  // are hex, so the first `-` ends the org id.
  const ref = ctx.params[0];
  const cut = ref.indexOf("-");
  const [orgId, token] = cut > 0 ? [ref.slice(0, cut), ref.slice(cut + 1)] : ["", ref];
  const form = h("form", { novalidate: true },
    field("Your name", input("name", "text", "name")),
    field("Email", input("email", "email", "username"), "The address the invite was sent to."),
    field("Password", input("password", "password", "new-password", { minlength: 8 }), "At least 8 characters."),
    h("div", { class: "form-message" }),
    h("button", { type: "submit", class: "primary wide" }, "Join"));
  handle(form, async (v) => {
    await api.api("/members/add-member", {
      method: "POST",
      body: { org_id: orgId, invite_token: token, email: v.email.trim(), name: v.name, password: v.password },
    });
    signedIn(await api.login(v.email.trim(), v.password));
    ctx.navigate("/agents", { replace: true });
  });
  root.append(card("Join your team", "You were invited to an organisation on this VoiceERA server.", form, [h("a", { href: "/signin" }, "Sign in instead")]));
}

/** The node's agents remembered at sign-in (`[{id, status}]`), or none. */
export function nodeAgents() {
  try {
    return JSON.parse(sessionStorage.getItem(NODE_AGENTS)) || [];
  } catch (_) {
    return [];
  }
}
