// Programs: create one, sign creators up, and approve, reject or remove its members.

import { api, all } from "./api.js";
import { refresh, showError } from "./app.js";
import { h, field, formErrors, errorSummary, when } from "./dom.js";

const APPROVALS = [["AUTOMATIC", "Automatic: approved at once"], ["MANUAL", "Manual: approve each sign-up"]];

// The moves a member can make from each status, as buttons: [status to set, label].
const MOVES = {
  PENDING: [["APPROVED", "Approve"], ["REJECTED", "Reject"]],
  APPROVED: [["REMOVED", "Remove"]],
  REJECTED: [],
  REMOVED: [],
};

export async function programsPage() {
  const [programs, creators] = await Promise.all([all("/programs"), all("/creators")]);
  const name = h("input", { required: true, maxlength: 200, autocomplete: "off" });
  const approval = h("select", {}, APPROVALS.map(([v, l]) => h("option", { value: v }, l)));
  const zone = h("input", { value: "UTC", autocomplete: "off", spellcheck: "false" });
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_name: name, invalid_time_zone: zone });
  const add = h("form", {
    "aria-labelledby": "add-program", novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(add)) return;
      try {
        await api("POST", "/programs", { name: name.value, approval: approval.value, timeZone: zone.value || null });
        refresh();
      } catch (e) { errors.show(e); }
    },
  }, h("h2", { id: "add-program" }, "Create a program"),
  h("div", { class: "row fields" }, field("Program name", name), field("Approval", approval),
    field("Time zone", zone, "An IANA name such as Europe/Paris or America/New_York; months are counted in it.")),
  summary,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary", "data-key": "add-program" }, "Create program")));
  const emails = Object.fromEntries(creators.map((c) => [c.id, c.email]));
  const sections = await Promise.all(programs.slice().reverse().map((p) => programSection(p, creators, emails)));
  return [
    h("h1", {}, "Programs"),
    h("div", { class: "card" }, add),
    sections.length
      ? h("div", {}, sections)
      : h("p", { class: "empty" }, "No programs yet. Create one above, then sign creators up for it."),
  ];
}

async function programSection(p, creators, emails) {
  const members = await all(`/programs/${p.id}/members`);
  const section = h("section", { class: "card", "aria-labelledby": "pr-" + p.id });
  const who = h("select", {}, creators.map((c) => h("option", { value: c.id }, c.email)));
  const done = h("p", { role: "status" });
  const summary = errorSummary();
  const errors = formErrors(summary, { unknown_creator: who });
  const signUp = h("form", {
    "aria-label": "Sign a creator up for " + p.name, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      try {
        const m = await api("POST", `/programs/${p.id}/members`, { creatorId: who.value });
        done.textContent = `${emails[m.creatorId] || m.creatorId} is ${m.status.toLowerCase()}.`;
        refresh();
      } catch (e) { errors.show(e); }
    },
  }, creators.length
    ? [h("div", { class: "row fields" }, field("Creator", who)), summary,
      h("div", { class: "row" }, h("button", { type: "submit", "data-key": "sign-up-" + p.id }, "Sign up")), done]
    : h("p", {}, "No creators yet: ", h("a", { href: "#/creators" }, "add one"), " to sign them up."));
  const rows = members.map((m) => {
    const email = emails[m.creatorId] || m.creatorId;
    return h("tr", {},
      h("td", { "data-label": "Creator" }, email),
      h("td", { "data-label": "Status" }, h("span", { class: m.status === "APPROVED" ? "status-ok" : m.status === "PENDING" ? "status-wait" : "status-bad" }, m.status)),
      h("td", { "data-label": "Joined" }, when(m.joinedAt)),
      h("td", { "data-label": "Approved" }, when(m.approvedAt)),
      h("td", {}, h("div", { class: "row" }, MOVES[m.status].map(([to, label]) => h("button", {
        type: "button", "aria-label": `${label} ${email}`, "data-key": `${to}-${p.id}-${m.creatorId}`,
        onclick: async () => {
          try { await api("PATCH", `/programs/${p.id}/members/${m.creatorId}`, { status: to }); refresh(); } catch (e) { showError(e); }
        },
      }, label)))));
  });
  section.append(
    h("h2", { id: "pr-" + p.id }, p.name),
    h("p", {}, `Approval: ${p.approval === "MANUAL" ? "manual" : "automatic"} · Time zone: ${p.timeZone}`),
    signUp,
    h("h3", {}, "Members"),
    members.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Creator", "Status", "Joined", "Approved", "Action"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p", {}, "No members yet."));
  return section;
}
