// The console's shell and router: history-API navigation between pages, each page a module loaded on first
// visit; the sidebar, the account menu, sign-out and the light/dark toggle. When a page has rendered,
// `<html data-route data-state="ready">` says so (the browser tests wait on it).

import * as api from "./api.js";
import { h, errorBox } from "./ui.js";

const NAV = [
  ["/agents", "Agents"],
  ["/calls", "Calls"],
  ["/live", "Live"],
  ["/numbers", "Numbers"],
  ["/campaigns", "Campaigns"],
  ["/webhooks", "Webhooks"],
  ["/knowledge", "Knowledge"],
  ["/integrations", "Integrations"],
  ["/members", "Members"],
  ["/analytics", "Analytics"],
  ["/system", "System"],
];

/** Path pattern → [module, export, public]. */
const ROUTES = [
  [/^\/signin$/, "auth", "signin", true],
  [/^\/signup$/, "auth", "signup", true],
  [/^\/forgot-password$/, "auth", "forgot", true],
  [/^\/reset-password$/, "auth", "reset", true],
  [/^\/(?:invite|add-member)\/(.+)$/, "auth", "invite", true],
  [/^\/agents$/, "agents", "list"],
  [/^\/agents\/new$/, "wizard", "page"],
  [/^\/agents\/([^/]+)$/, "agents", "detail"],
  [/^\/calls$/, "calls", "list"],
  [/^\/calls\/([^/]+)$/, "calls", "detail"],
  [/^\/live$/, "live", "page"],
  [/^\/numbers$/, "numbers", "page"],
  [/^\/campaigns$/, "campaigns", "page"],
  [/^\/webhooks$/, "webhooks", "page"],
  [/^\/knowledge$/, "knowledge", "page"],
  [/^\/integrations$/, "integrations", "page"],
  [/^\/members$/, "members", "page"],
  [/^\/analytics$/, "analytics", "page"],
  [/^\/system$/, "system", "page"],
];

/** The original console's paths, for old bookmarks. */
const ALIASES = { "/": "/agents", "/assistants": "/agents", "/history": "/calls" };

let account = null;
let renderCount = 0;

function role() {
  return (account && account.role) || (account && account.is_owner ? "owner" : "member");
}

function context(params, query) {
  const r = role();
  const generation = renderCount;
  return {
    params,
    query,
    account,
    role: r,
    canWrite: r !== "viewer",
    canAdmin: r === "admin" || r === "owner",
    orgId: (account && account.org_id) || api.orgId(),
    navigate,
    alive: () => generation === renderCount,
  };
}

/** Shows `path`; the promise settles once its page has rendered. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  return render();
}

function themeToggle() {
  const root = document.documentElement;
  const current = () => root.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const button = h("button", { type: "button", class: "secondary small", "aria-label": "Switch between light and dark" });
  const label = () => { button.textContent = current() === "dark" ? "Light" : "Dark"; };
  button.addEventListener("click", () => {
    const next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem("voicera-theme", next); } catch (_) { /* not kept */ }
    label();
  });
  label();
  return button;
}

function shell(path) {
  const menu = h("nav", { class: "sidebar", "aria-label": "Console" },
    h("a", { class: "brand", href: "/agents" }, h("img", { src: "/assets/favicon.svg", alt: "", width: 24, height: 24 }), "VoiceERA"),
    h("ul", {}, NAV.map(([href, label]) => h("li", {},
      h("a", { href, "aria-current": path === href || path.startsWith(href + "/") ? "page" : null }, label)))));
  const navToggle = h("button", { type: "button", class: "secondary small nav-toggle", "aria-expanded": "false", "aria-label": "Menu" }, "Menu");
  navToggle.addEventListener("click", () => {
    const open = document.body.classList.toggle("nav-open");
    navToggle.setAttribute("aria-expanded", String(open));
  });
  const signOut = h("button", { type: "button", class: "secondary small", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await api.logout();
    sessionStorage.clear();
    account = null;
    navigate("/signin");
  });
  const top = h("header", { class: "topbar" },
    navToggle,
    h("div", { class: "who" },
      h("span", { class: "org" }, account.company_name || account.org_id || ""),
      h("span", { class: "email" }, account.email),
      h("span", { class: `badge role-${role()}`, id: "role" }, role())),
    h("div", { class: "actions" }, themeToggle(), signOut));
  const main = h("main", { id: "main", tabindex: "-1" });
  return { frame: h("div", { class: "layout" }, menu, h("div", { class: "content" }, top, main)), main };
}

async function render() {
  renderCount += 1;
  const generation = renderCount;
  const root = document.getElementById("app");
  let path = location.pathname.replace(/\/+$/, "") || "/";
  if (ALIASES[path]) {
    history.replaceState(null, "", ALIASES[path] + location.search);
    path = ALIASES[path];
  }
  document.documentElement.dataset.state = "loading";
  document.documentElement.dataset.route = path;
  document.body.classList.remove("nav-open");
  const route = ROUTES.find(([re]) => re.test(path));
  const isPublic = route && route[3];
  if (!isPublic && !account) {
    try {
      account = await api.me();
    } catch (err) {
      root.replaceChildren(h("main", { class: "auth" }, errorBox(err)));
      document.documentElement.dataset.state = "ready";
      return;
    }
    if (!account) {
      const next = path === "/agents" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      history.replaceState(null, "", `/signin${next}`);
      return render();
    }
  }
  if (generation !== renderCount) return;
  let target;
  if (isPublic) {
    target = h("main", { id: "main", class: "auth", tabindex: "-1" });
    root.replaceChildren(target);
  } else {
    const { frame, main } = shell(path);
    root.replaceChildren(frame);
    target = main;
  }
  if (!route) {
    target.append(h("h1", {}, "Page not found"), h("p", {}, "Nothing lives at ", h("code", {}, path), ". ", h("a", { href: "/agents" }, "Go to agents")));
  } else {
    const [re, module, name] = route;
    const params = path.match(re).slice(1).map(decodeURIComponent);
    try {
      const page = await import(`./pages/${module}.js`);
      await page[name](target, context(params, new URLSearchParams(location.search)));
    } catch (err) {
      target.append(errorBox(err));
    }
  }
  if (generation !== renderCount) return;
  const heading = target.querySelector("h1");
  document.title = heading ? `${heading.textContent} · VoiceERA` : "VoiceERA console";
  // After a client-side navigation, focus goes to the new page (screen readers announce it), unless the page
  // put it somewhere already.
  if (generation > 1 && !target.contains(document.activeElement)) target.focus({ preventScroll: true });
  document.documentElement.dataset.state = "ready";
}

/** Called by the sign-in page. */
export function signedIn(who) {
  account = who;
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
  const path = a.pathname;
  if (path.startsWith("/api/") || path.startsWith("/call-test") || path === "/health") return;
  e.preventDefault();
  if (path + a.search !== location.pathname + location.search) navigate(path + a.search);
});
window.addEventListener("popstate", render);
window.addEventListener("voicera:signed-out", () => {
  account = null;
  if (!location.pathname.startsWith("/signin")) navigate(`/signin?next=${encodeURIComponent(location.pathname)}`, { replace: true });
});

render();
