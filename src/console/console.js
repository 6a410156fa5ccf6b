// The console: a thin client of the REST API under /v1. This module routes between the pages
// and signs in; each page lives in a module of its own.

import { TOKEN_KEY, api } from "./api.js";
import { clearError, leave, showError } from "./app.js";
import { creatorsPage } from "./creators.js";
import { h, field, formErrors, errorSummary, keepFocus } from "./dom.js";
import { integrationPage, integrationsPage } from "./integrations.js";
import { logPage } from "./log.js";
import { programsPage } from "./programs.js";
import { rewardsPage } from "./rewards.js";

const view = document.getElementById("view");
let signingIn = false;
// Which routing is the latest: a page that loads after the user moved on is not shown.
let generation = 0;

// ---- sign-in ----
function signIn(refused) {
  leave();
  signingIn = true;
  const input = h("input", { type: "password", autocomplete: "current-password", required: true });
  const summary = errorSummary();
  const errors = formErrors(summary);
  const form = h("form", {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(form)) return;
      const token = input.value.trim();
      try {
        await api("GET", "/integrations?limit=1", undefined, { withToken: token });
      } catch (e) {
        if (e.status === 401) {
          errors.field(input, "The service refused this token. Enter the admin token it was started with (--admin-token or LC_ADMIN_TOKEN).");
        } else {
          errors.show(e);
        }
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      signingIn = false;
      clearError();
      route({ navigated: true });
    },
  },
  field("Admin token", input, "The service's --admin-token. It is kept for this browser tab only."),
  summary,
  h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Sign in")));
  for (const a of document.querySelectorAll("nav a")) a.removeAttribute("aria-current");
  view.replaceChildren(h("h1", { tabindex: "-1" }, "Sign in"), form);
  if (refused) errors.field(input, "The service no longer accepts the token this tab had. Enter the admin token it runs with now.");
  input.focus({ preventScroll: true });
}

window.addEventListener("lc-unauthorized", (ev) => {
  if (signingIn) return;
  sessionStorage.removeItem(TOKEN_KEY);
  signIn(ev.detail.hadToken);
});

// ---- routing ----
const pages = { integrations: integrationsPage, rewards: rewardsPage, programs: programsPage, creators: creatorsPage, log: logPage };

function where() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, query] = hash.split("?");
  const [name, id] = (path || "integrations").split("/");
  return { name: pages[name] ? name : "integrations", id, params: new URLSearchParams(query || "") };
}

// `navigated`: a new page, shown from its top with the focus on its heading (the menu stays in
// view); otherwise the same page again after a change, where scroll and focus stay.
async function route({ navigated }) {
  leave();
  const mine = ++generation;
  const { name, id, params } = where();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    const nodes = name === "integrations" && id ? await integrationPage(id) : await pages[name](params);
    if (signingIn || mine !== generation) return;
    clearError();
    keepFocus(() => view.replaceChildren(...nodes.flat(Infinity).filter(Boolean)));
    if (navigated) {
      window.scrollTo(0, 0);
      const heading = view.querySelector("h1");
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  } catch (e) { showError(e); }
}

window.addEventListener("lc-refresh", () => route({ navigated: false }));
// The menu's link to the page already shown shows it afresh, from its top.
document.querySelector("nav").addEventListener("click", (ev) => {
  const link = ev.target.closest("a");
  if (link && link.getAttribute("href") === location.hash) {
    ev.preventDefault();
    route({ navigated: true });
  }
});
// Only the console's own addresses (`#/…`) are pages; "Skip to content" (`#view`) is not.
window.addEventListener("hashchange", () => {
  if (location.hash === "" || location.hash.startsWith("#/")) route({ navigated: true });
});
route({ navigated: true });
