// Agents: the card grid (search, sort, active = has a number) with the node's own agents beside the org's,
// and an agent's page (edit every field, rename, delete, test call, talk in the browser).

import { api } from "../api.js";
import { h, field, fmt, badge, pageHeader, failure, empty, loading, errorBox, confirm, toast, showFormError, clearFormErrors } from "../ui.js";
import { nodeAgents } from "./auth.js";
import { draftOf, bodyOf, readInto, loadDocs, SECTIONS, LANGUAGES } from "./wizard.js";
import { talk, testCall } from "./talk.js";

const SORTS = [["newest", "Newest first"], ["oldest", "Oldest first"], ["active", "Active first"], ["name", "Name"]];

/** The org's agents from the API plus the node's agents it does not list (read-only here). */
async function allAgents(ctx) {
  const stored = await api(`/agents/org/${encodeURIComponent(ctx.orgId)}`);
  const list = Array.isArray(stored) ? stored : stored.agents || [];
  for (const n of nodeAgents()) {
    if (!list.some((a) => a.agent_id === n.id)) {
      list.push({ agent_id: n.id, agent_type: n.id, source: "node", status: n.status, agent_config: {} });
    }
  }
  return list;
}

/** Agents of the store (`source` "api" or "store") are edited here; the node's own and the configuration
 * file's (`config`) are not. */
const editable = (a) => a.source !== "config" && a.source !== "node";

function card(a, ctx) {
  const c = a.agent_config || {};
  const active = Boolean(a.phone_number);
  const lang = c.language ? (LANGUAGES.find(([v]) => v === c.language) || [0, c.language])[1] : null;
  const llm = c.llm_model && (c.llm_model.name || c.llm_model);
  const talkButton = h("button", { type: "button", class: "secondary small", dataset: { talk: a.agent_id } }, "Talk in browser");
  talkButton.addEventListener("click", () => talk(a, ctx));
  return h("li", { class: "card agent-card", dataset: { agent: a.agent_id } },
    h("div", { class: "card-head" },
      h("h2", {}, h("a", { href: `/agents/${encodeURIComponent(a.agent_id)}` }, a.agent_type || a.agent_id)),
      active ? badge("Active", "ok") : badge("No number", "muted"),
      a.source === "node" ? badge("built-in", "info") : null,
      a.source === "config" ? badge("config file", "info") : null),
    h("p", { class: "muted mono" }, a.agent_id),
    a.source === "node" && a.status !== "ready" ? h("p", { class: "status-line" }, `Not ready: ${a.status}`) : null,
    h("dl", { class: "facts" },
      lang ? [h("dt", {}, "Language"), h("dd", {}, lang)] : null,
      llm ? [h("dt", {}, "LLM"), h("dd", {}, llm)] : null,
      a.phone_number ? [h("dt", {}, "Number"), h("dd", {}, a.phone_number)] : null,
      a.created_at ? [h("dt", {}, "Created"), h("dd", {}, fmt.date(a.created_at))] : null),
    h("div", { class: "card-actions" }, talkButton));
}

export async function list(root, ctx) {
  const newButton = ctx.canWrite ? h("a", { class: "button primary", href: "/agents/new", id: "new-agent" }, "New agent") : null;
  const search = h("input", { type: "search", id: "agent-search", placeholder: "Search by name or id", value: ctx.query.get("q") || "" });
  const sort = h("select", { id: "agent-sort" }, SORTS.map(([v, l]) => h("option", { value: v }, l)));
  const grid = h("ul", { class: "cards", id: "agents" });
  const body = h("div", {}, loading());
  root.append(pageHeader("Agents", "Everything that answers calls on this node.", newButton),
    h("div", { class: "toolbar" }, field("Search", search), field("Sort", sort)), body);
  const created = ctx.query.get("created");
  if (created) toast(`Agent ${created} created`, "ok");
  let agents;
  try {
    agents = await allAgents(ctx);
  } catch (err) {
    body.replaceChildren(failure("Agents", err));
    return;
  }
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = agents.filter((a) => !q || (a.agent_type || "").toLowerCase().includes(q) || (a.agent_id || "").toLowerCase().includes(q));
    const time = (a) => Date.parse(a.created_at || "") || 0;
    const by = {
      newest: (a, b) => time(b) - time(a),
      oldest: (a, b) => time(a) - time(b),
      active: (a, b) => Number(Boolean(b.phone_number)) - Number(Boolean(a.phone_number)) || time(b) - time(a),
      name: (a, b) => (a.agent_type || "").localeCompare(b.agent_type || ""),
    }[sort.value];
    shown.sort(by);
    grid.replaceChildren(...shown.map((a) => card(a, ctx)));
    if (!agents.length) body.replaceChildren(empty("No agents yet", "Create one with the wizard; it answers calls at once.", newButton && newButton.cloneNode(true)));
    else if (!shown.length) body.replaceChildren(empty("No agent matches", `Nothing is named like “${search.value}”.`));
    else body.replaceChildren(grid);
  };
  search.addEventListener("input", draw);
  sort.addEventListener("change", draw);
  draw();
}

export async function detail(root, ctx) {
  const id = ctx.params[0];
  root.append(loading());
  let agent;
  try {
    agent = await api(`/agents/id/${encodeURIComponent(id)}`);
  } catch (err) {
    const node = nodeAgents().find((n) => n.id === id);
    if (err.status === 404 && node) agent = { agent_id: id, agent_type: id, source: "node", status: node.status, agent_config: {} };
    else {
      root.replaceChildren(pageHeader("Agent"), failure("Agents", err));
      return;
    }
  }
  root.replaceChildren();
  const talkButton = h("button", { type: "button", class: "primary", id: "talk" }, "Talk in browser");
  talkButton.addEventListener("click", () => talk(agent, ctx));
  const callButton = ctx.canWrite ? h("button", { type: "button", class: "secondary", id: "test-call" }, "Test call") : null;
  if (callButton) callButton.addEventListener("click", () => testCall(agent));
  root.append(pageHeader(agent.agent_type || id, agent.agent_id, talkButton, callButton));
  if (!editable(agent)) {
    root.append(h("p", { class: "notice" }, agent.source === "node"
      ? "A built-in agent of this node (or one from its configuration file): it is read-only here."
      : "This agent comes from the configuration file (voicera.toml): change it there."));
    return;
  }
  const draft = draftOf(agent);
  const docs = await loadDocs();
  const form = h("form", { novalidate: true, id: "agent-form", class: ctx.canWrite ? "" : "readonly" },
    h("details", { open: true }, h("summary", {}, "Agent and call management"), SECTIONS.agent(draft, { editing: true })),
    h("details", { open: true }, h("summary", {}, "Language model"), SECTIONS.llm(draft, docs)),
    h("details", { open: true }, h("summary", {}, "Audio"), SECTIONS.audio(draft)),
    h("details", {}, h("summary", {}, "Telephony"), SECTIONS.telephony(draft)),
    h("div", { class: "form-message" }));
  if (ctx.canWrite) {
    const remove = h("button", { type: "button", class: "danger", id: "delete-agent" }, "Delete");
    remove.addEventListener("click", async () => {
      if (!(await confirm("Delete this agent?", `“${agent.agent_type}” stops answering calls at once. Its call history stays.`))) return;
      try {
        await api(`/agents/id/${encodeURIComponent(agent.agent_id)}`, { method: "DELETE" });
        toast("Agent deleted");
        ctx.navigate("/agents");
      } catch (err) {
        form.querySelector(".form-message").replaceChildren(errorBox(err));
      }
    });
    form.append(h("div", { class: "actions end" }, remove, h("button", { type: "submit", class: "primary", id: "save-agent" }, "Save changes")));
  } else {
    for (const el of form.elements) el.disabled = true;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    readInto(form, draft);
    try {
      const answer = await api(`/agents/id/${encodeURIComponent(agent.agent_id)}`, { method: "PUT", body: bodyOf(draft) });
      agent = answer.agent || agent;
      root.querySelector(".page-header h1").textContent = agent.agent_type;
      toast("Saved", "ok");
    } catch (err) {
      showFormError(form, err);
    }
  });
  root.append(form);
}
