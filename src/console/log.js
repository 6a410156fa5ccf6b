// The delivery log: filters, a chart of the last hour, the table, and one delivery's attempts.
// Live updates change only what changed, in place, so the keyboard focus stays where it is.

import { api, all } from "./api.js";
import { onLeave, showError } from "./app.js";
import { minuteChart, minuteTable } from "./charts.js";
import { EVENT_GROUPS, eventLabel } from "./events.js";
import {
  h, field, formErrors, errorSummary, openDialog, statusClass, when, keepFocus,
} from "./dom.js";

const LIVE_MS = 3000;
const state = { integrationId: "", eventType: "", status: "", from: "", to: "", search: "", live: true };
const COLUMNS = [
  ["Created", "created"], ["Integration", "integration"], ["Event", "event"], ["Creator", "creator"],
  ["Status", "status"], ["Attempts", "attempts"], ["Last response", "response"], ["", "open"],
];

function filtered() {
  return Boolean(state.integrationId || state.eventType || state.status || state.from || state.to || state.search.trim());
}

// The query for the current filters: the list to read, or one delivery by its id.
async function deliveries() {
  const q = new URLSearchParams();
  if (state.integrationId) q.set("integrationId", state.integrationId);
  if (state.status) q.set("status", state.status);
  if (state.eventType) q.set("eventType", state.eventType);
  if (state.from) q.set("createdAfter", new Date(state.from).toISOString());
  if (state.to) q.set("createdBefore", new Date(state.to).toISOString());
  const s = state.search.trim();
  if (/^[0-9a-f-]{36}$/i.test(s)) {
    try { return [await api("GET", "/deliveries/" + s)]; } catch (e) { if (e.status !== 404) throw e; }
    q.set("fulfillmentId", s);
  } else if (s) {
    q.set("email", s);
  }
  return (await api("GET", "/deliveries?" + q + "&limit=100")).items;
}

export async function logPage(params) {
  if (params.get("integration")) Object.assign(state, { integrationId: params.get("integration"), status: "", search: "" });
  if (params.get("fulfillment")) Object.assign(state, { integrationId: "", status: "", search: params.get("fulfillment") });
  const integrations = await all("/integrations");
  const names = Object.fromEntries(integrations.map((i) => [i.id, i.name]));
  const counts = h("div", { class: "counts", "aria-live": "polite" });
  const chartBox = h("div", {});
  const tableBox = h("div", {});
  const integ = h("select", {}, h("option", { value: "" }, "All"), integrations.map((i) => h("option", { value: i.id }, i.name)));
  const eventType = h("select", {}, h("option", { value: "" }, "All"), EVENT_GROUPS.map(([legend, types]) =>
    h("optgroup", { label: legend }, types.map(([value, label]) => h("option", { value }, label)))));
  const status = h("select", {}, [["", "All"], ["pending", "Pending"], ["succeeded", "Succeeded"], ["failed", "Failed"]].map(([v, l]) => h("option", { value: v }, l)));
  const from = h("input", { type: "datetime-local" });
  const to = h("input", { type: "datetime-local" });
  const search = h("input", { type: "search", placeholder: "delivery id, fulfillment id or email" });
  const live = h("input", { type: "checkbox" });
  integ.value = state.integrationId; eventType.value = state.eventType; status.value = state.status; from.value = state.from;
  to.value = state.to; search.value = state.search; live.checked = state.live;
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_event_type: eventType, invalid_email: search, invalid_created_after: from, invalid_created_before: to });
  const shown = { counts: "", chart: "", table: null };
  let tbody = null;

  function row(d) {
    const response = d.lastResponseStatus !== null ? "HTTP " + d.lastResponseStatus : d.lastError || "—";
    return h("tr", { "data-id": d.id, "data-sig": signature(d) },
      h("td", { "data-label": "Created", class: "created" }, when(d.createdAt)),
      h("td", { "data-label": "Integration", class: "integration" }, names[d.integrationId] || "(deleted)"),
      h("td", { "data-label": "Event", class: "event", title: d.eventType }, eventText(d)),
      h("td", { "data-label": "Creator", class: "creator" }, d.creatorEmail || "—"),
      h("td", { "data-label": "Status", class: "status" }, h("span", { class: statusClass(d.status) }, d.status)),
      h("td", { "data-label": "Attempts", class: "attempts" }, String(d.attemptCount)),
      h("td", { "data-label": "Last response", class: "response" }, h("span", { class: "clamp", title: response }, response)),
      h("td", { class: "open" }, h("button", {
        type: "button", "aria-label": "Open delivery " + d.id, "data-key": "open-" + d.id,
        onclick: () => deliveryDialog(d.id, names),
      }, "Open")));
  }
  function signature(d) {
    return JSON.stringify([d.status, d.attemptCount, d.lastResponseStatus, d.lastError, d.ruleName, d.eventType, d.creatorEmail, names[d.integrationId]]);
  }

  function emptyState() {
    if (filtered()) {
      return h("div", { class: "empty" }, h("p", {}, "No deliveries match these filters."),
        h("div", { class: "row" }, h("button", { type: "button", "data-key": "clear-filters", onclick: clearFilters }, "Clear filters")));
    }
    return h("div", { class: "empty" },
      h("p", {}, "No deliveries yet. One is made for each integration when a creator earns a reward, and when you press Test on an integration."),
      h("p", {}, "Next: ", h("a", { href: "#/rewards" }, "add a reward rule"), ", then ", h("a", { href: "#/creators" }, "simulate a creator's posts"),
        ", or ", h("a", { href: "#/integrations" }, "test an integration"), "."));
  }

  // Rows that did not change stay the same elements; new ones are put in their place.
  function showItems(items) {
    if (!items.length) {
      const key = filtered() ? "none-matching" : "none";
      if (shown.table !== key) { tableBox.replaceChildren(emptyState()); shown.table = key; tbody = null; }
      return;
    }
    if (!tbody) {
      tbody = h("tbody", {});
      tableBox.replaceChildren(h("table", { class: "log" },
        h("colgroup", {}, COLUMNS.map(([, cls]) => h("col", { class: cls }))),
        h("thead", {}, h("tr", {}, COLUMNS.map(([t, cls]) => h("th", { scope: "col", class: cls }, t)))), tbody));
      shown.table = "rows";
    }
    const old = new Map([...tbody.children].map((tr) => [tr.dataset.id, tr]));
    const wanted = items.map((d) => {
      const tr = old.get(d.id);
      return tr && tr.dataset.sig === signature(d) ? tr : row(d);
    });
    const keep = new Set(wanted);
    for (const tr of [...tbody.children]) if (!keep.has(tr)) tr.remove();
    wanted.forEach((tr, k) => {
      const at = tbody.children[k];
      if (at !== tr) tbody.insertBefore(tr, at || null);
    });
  }

  async function refresh() {
    const [c, stats, items] = await Promise.all([
      api("GET", "/deliveries/counts"), api("GET", "/deliveries/stats?minutes=60"), deliveries(),
    ]);
    keepFocus(() => {
      const countsNow = JSON.stringify(c);
      if (countsNow !== shown.counts) {
        counts.replaceChildren(h("p", {}, "Pending: ", h("strong", {}, String(c.pending))), h("p", {}, "Failed: ", h("strong", {}, String(c.failed))));
        shown.counts = countsNow;
      }
      const chartNow = JSON.stringify([stats.buckets, stats.totals]);
      if (chartNow !== shown.chart) {
        const open = chartBox.querySelector("details[open]") !== null;
        chartBox.replaceChildren(minuteChart(stats), minuteTable(stats));
        if (open) chartBox.querySelector("details").open = true;
        shown.chart = chartNow;
      }
      showItems(items);
    });
  }

  function clearFilters() {
    Object.assign(state, { integrationId: "", eventType: "", status: "", from: "", to: "", search: "" });
    integ.value = ""; eventType.value = ""; status.value = ""; from.value = ""; to.value = ""; search.value = "";
    refresh().catch(showError);
  }

  const filters = h("form", {
    "aria-label": "Filter the delivery log", novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(filters)) return;
      Object.assign(state, { integrationId: integ.value, eventType: eventType.value, status: status.value, from: from.value, to: to.value, search: search.value });
      try { await refresh(); } catch (e) { errors.show(e); }
    },
  }, h("div", { class: "row fields" }, field("Integration", integ), field("Event", eventType), field("Status", status), field("From", from), field("To", to)),
  field("Search", search, "A delivery id, a fulfillment id or a creator's email (any case)."),
  summary,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary", "data-key": "apply" }, "Apply"),
    h("label", { class: "inline" }, live, "Live updates (every 3 s)")));

  let timer = null;
  function startLive() {
    if (timer) clearInterval(timer);
    timer = null;
    if (!state.live) return;
    timer = setInterval(() => {
      if (document.hidden || document.querySelector("dialog[open]")) return;
      refresh().catch(showError);
    }, LIVE_MS);
  }
  live.addEventListener("change", () => { state.live = live.checked; startLive(); });
  onLeave(() => { if (timer) clearInterval(timer); });

  await refresh();
  startLive();
  if (params.get("delivery")) setTimeout(() => deliveryDialog(params.get("delivery"), names), 0);
  return [
    h("h1", {}, "Delivery log"),
    counts,
    h("section", { "aria-labelledby": "per-minute" }, h("h2", { id: "per-minute" }, "Attempts per minute"), chartBox),
    h("h2", {}, "Deliveries"),
    filters,
    tableBox,
  ];
}

async function deliveryDialog(id, names) {
  let d;
  try { d = await api("GET", "/deliveries/" + id); } catch (e) { showError(e); return; }
  const body = h("div", {});
  const retryArea = h("div", {});
  const summary = errorSummary();
  const errors = formErrors(summary);
  const retry = h("button", { type: "button" }, "Retry");
  retry.addEventListener("click", () => {
    errors.clear();
    retryArea.replaceChildren(
      h("p", {}, "Retry sends this webhook once more, now: the same webhook-id and body, to the integration's current URL with its current key and secret. The delivery then ends on that one attempt; the retry schedule is not applied again."),
      h("div", { class: "row" }, h("button", {
        type: "button", class: "primary",
        onclick: async () => {
          errors.clear();
          try {
            await api("POST", "/deliveries/" + d.id + "/retry");
            retryArea.replaceChildren(h("p", { role: "status" }, "Retry queued."));
            for (let n = 0; n < 20; n++) {
              await new Promise((r) => setTimeout(r, 250));
              d = await api("GET", "/deliveries/" + d.id);
              if (d.status !== "pending") break;
            }
            render();
          } catch (e) { errors.show(e); }
        },
      }, "Retry now"), h("button", { type: "button", onclick: () => retryArea.replaceChildren() }, "Cancel")));
  });
  const dlg = openDialog("Delivery " + d.id, [body, retryArea, summary], { actions: [retry] });
  function render() {
    const last = d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
    const headers = last && last.requestHeaders;
    retry.disabled = d.status === "pending";
    body.replaceChildren(
      h("dl", { class: "facts" },
        h("dt", {}, "Status"), h("dd", {}, h("span", { class: statusClass(d.status) }, d.status)),
        h("dt", {}, "Integration"), h("dd", {}, (names && names[d.integrationId]) || d.integrationId),
        h("dt", {}, "Event"), h("dd", {}, eventText(d) + " (lc-event-type: " + d.eventType + ")"),
        h("dt", {}, "Creator"), h("dd", {}, d.creatorEmail || "—"),
        h("dt", {}, "Fulfillment"), h("dd", {}, d.fulfillmentId || "(test send)"),
        h("dt", {}, "Created"), h("dd", {}, when(d.createdAt)),
        h("dt", {}, "Next retry"), h("dd", {}, d.nextAttemptAt ? when(d.nextAttemptAt) : "None: settled"),
        h("dt", {}, "Delivered"), h("dd", {}, when(d.deliveredAt))),
      d.status === "pending" ? h("p", { class: "hint" }, "Still pending: it is retried on its schedule, so Retry is off.") : null,
      h("h3", {}, "Payload"), h("pre", { tabindex: 0, "aria-label": "Payload" }, JSON.stringify(d.payload, null, 2)),
      h("h3", {}, "Request headers"),
      headers
        ? h("table", { class: "headers" }, h("tbody", {}, Object.entries(headers).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))))
        : h("p", {}, "Not sent yet."),
      h("h3", {}, "Attempts"),
      d.attempts.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["#", "Started", "Duration", "Status", "Error", "Response body"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, d.attempts.map((a) => h("tr", {},
            h("td", { "data-label": "Attempt" }, String(a.number)),
            h("td", { "data-label": "Started" }, when(a.startedAt)),
            h("td", { "data-label": "Duration" }, a.durationMs + " ms"),
            h("td", { "data-label": "Status" }, a.responseStatus !== null ? String(a.responseStatus) : "—"),
            h("td", { "data-label": "Error" }, a.error || "—"),
            h("td", { "data-label": "Response body" }, h("pre", { tabindex: 0, "aria-label": `Response body of attempt ${a.number}` }, a.responseBody || "(empty)"))))))
        : h("p", {}, "No attempts yet."));
  }
  render();
  (retry.disabled ? dlg.querySelector(".dialog-actions button:last-child") : retry).focus();
}

// A delivery's event in plain words: its type, and the rule of a reward or that it was a Test.
function eventText(d) {
  const what = eventLabel(d.eventType);
  if (d.test) return "Test send: " + what;
  return d.ruleName ? what + " · " + d.ruleName : what;
}
