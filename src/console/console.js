// The console: a thin client of the REST API under /v1. DOM is built with h(), never from
// HTML strings, so nothing a user typed (or a receiver answered) is ever run as markup.
"use strict";

const TOKEN_KEY = "lc-webhooks-admin-token";
const view = document.getElementById("view");
const alertBox = document.getElementById("alert");
let liveTimer = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let uid = 0;
function field(label, input, hint) {
  const id = input.id || "f" + ++uid;
  input.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", id + "-hint");
  return h("div", {}, h("label", { for: id }, label), input, hintEl);
}
function check(label, attrs) {
  return h("label", { class: "inline" }, h("input", { type: "checkbox", ...attrs }), label);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || "HTTP " + status);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch("/v1" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (res.status === 401) { signIn(); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

async function all(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) return;
  alertBox.hidden = false;
  alertBox.textContent = e.message || String(e);
}
function clearError() { alertBox.hidden = true; alertBox.textContent = ""; }

function when(ts) { return ts ? new Date(ts).toLocaleString() : "—"; }
function statusClass(s) { return s === "succeeded" ? "status-ok" : s === "failed" ? "status-bad" : "status-wait"; }

function openDialog(title, ...body) {
  const dlg = h("dialog", { "aria-labelledby": "dlg-title" },
    h("div", { class: "row" }, h("h2", { id: "dlg-title" }, title)), ...body,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => dlg.close() }, "Close")));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

function copyButton(label, getText) {
  const msg = h("span", { role: "status", class: "hint" });
  const btn = h("button", {
    type: "button",
    onclick: async () => {
      try { await navigator.clipboard.writeText(getText()); msg.textContent = "Copied."; }
      catch (_) { msg.textContent = "Copying is not allowed here: select the text and copy it."; }
    },
  }, label);
  return h("span", {}, btn, " ", msg);
}

// ---- sign-in ----
function signIn() {
  stopLive();
  const input = h("input", { type: "password", autocomplete: "current-password", required: true });
  view.replaceChildren(
    h("h1", {}, "Sign in"),
    h("form", {
      onsubmit: (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        clearError();
        route();
      },
    },
    field("Admin token", input, "The service's --admin-token. It is kept for this browser tab only."),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Sign in"))));
  input.focus();
}

// ---- integrations ----
function integrationStatus(i) {
  if (i.active) return h("span", { class: "status-ok" }, "Active");
  if (i.disabledReason) return h("span", { class: "status-bad" }, `Disabled ${when(i.disabledAt)}: ${i.disabledReason}`);
  return h("span", { class: "status-wait" }, "Paused");
}
function healthLine(hl) {
  if (!hl || !hl.recentAttempts) return "No attempts in the last hour.";
  const rate = Math.round((hl.recentSuccessRate || 0) * 100);
  let s = `${rate}% of ${hl.recentAttempts} recent attempts succeeded.`;
  if (hl.consecutiveFailures) s += ` ${hl.consecutiveFailures} failures in a row (last: ${hl.lastFailure}).`;
  s += ` Last success: ${when(hl.lastSuccessAt)}. Last failure: ${when(hl.lastFailureAt)}.`;
  return s;
}

async function integrationsPage() {
  const list = await all("/integrations");
  const cards = list.map((i) => h("article", { class: "card", "aria-labelledby": "int-" + i.id },
    h("h2", { id: "int-" + i.id }, i.name),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, integrationStatus(i)),
      h("dt", {}, "API URL"), h("dd", {}, i.url),
      h("dt", {}, "API Key"), h("dd", {}, i.apiKeyHint + " (only its last characters are shown)"),
      h("dt", {}, "Sent in"), h("dd", {}, `${i.authHeader}: ${i.authPrefix}…`),
      h("dt", {}, "Signed"), h("dd", {}, i.signing ? "Yes (webhook-signature)" : "No"),
      h("dt", {}, "Payload format"), h("dd", {}, i.payloadFormat === "posts" ? "posts (with each post's platform)" : "medias (the original)"),
      h("dt", {}, "Health"), h("dd", {}, healthLine(i.health)),
      h("dt", {}, "Last delivery"), h("dd", {}, when(i.health && i.health.lastAttemptAt))),
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", onclick: () => testDialog(i) }, "Test"),
      h("button", { type: "button", onclick: () => integrationForm(i) }, "Edit"),
      h("button", { type: "button", onclick: () => setActive(i, !i.active) }, i.active ? "Pause" : i.disabledReason ? "Re-enable" : "Resume"),
      h("button", { type: "button", onclick: () => replayDialog(i) }, "Replay failed"),
      h("button", { type: "button", class: "danger", onclick: () => confirmDelete(i) }, "Delete"))));
  view.replaceChildren(
    h("h1", {}, "Integrations"),
    h("p", { class: "hint" }, "Outbound webhooks: LoudCrowd sends reward events to each active one."),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: chooseType }, "Add Integration")),
    h("div", {}, cards.length ? cards : h("p", {}, "No integrations yet.")));
}

async function setActive(i, active) {
  await api("PATCH", "/integrations/" + i.id, { active });
  route();
}

function replayDialog(i) {
  const since = h("input", { type: "datetime-local", required: true });
  const dayAgo = new Date(Date.now() - 86400000);
  since.value = new Date(dayAgo.getTime() - dayAgo.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const msg = h("p", { role: "status" });
  const dlg = openDialog("Replay failed deliveries of " + i.name,
    h("p", {}, "Every failed delivery created since then is sent again, once, under the webhook-id it always had."),
    field("Since", since),
    msg,
    h("div", { class: "row" }, h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        try {
          const r = await api("POST", "/integrations/" + i.id + "/replay", { since: new Date(since.value).toISOString() });
          msg.textContent = r.replayed === 1 ? "1 delivery queued again." : `${r.replayed} deliveries queued again.`;
        } catch (e) { msg.textContent = e.message; }
      },
    }, "Replay")));
  since.focus();
  return dlg;
}

function confirmDelete(i) {
  const dlg = openDialog("Delete " + i.name + "?",
    h("p", {}, "Nothing more is sent to it. Its deliveries that are still pending end as failed. This cannot be undone."),
    h("div", { class: "row" }, h("button", {
      type: "button", class: "danger",
      onclick: async () => { try { await api("DELETE", "/integrations/" + i.id); dlg.close(); route(); } catch (e) { showError(e); } },
    }, "Delete integration")));
}

function chooseType() {
  const dlg = openDialog("Add Integration",
    h("p", {}, "Choose the kind of integration."),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: () => { dlg.close(); integrationForm(null); } }, "Webhook")));
}

function newSigningSecret() {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return "whsec_" + btoa(String.fromCharCode(...bytes));
}

function integrationForm(existing) {
  const name = h("input", { required: true, maxlength: 200, value: existing ? existing.name : "" });
  const url = h("input", { type: "url", required: true, placeholder: "https://example.com/loudcrowd", value: existing ? existing.url : "" });
  const key = h("input", { type: "password", autocomplete: "off", required: !existing });
  const header = h("input", { value: existing ? existing.authHeader : "Authorization" });
  const prefix = h("input", { value: existing ? existing.authPrefix : "Bearer " });
  const secret = h("input", { readonly: true, autocomplete: "off" });
  const format = h("select", {},
    h("option", { value: "medias" }, "medias (the original payload)"),
    h("option", { value: "posts" }, "posts (each post with its platform)"));
  format.value = existing ? existing.payloadFormat : "medias";
  const removeSigning = existing && existing.signing ? check("Stop signing (remove the signing secret)", {}) : null;
  const secretBox = h("div", { hidden: true },
    field("Signing secret", secret, "Shown once: copy it into your receiver now. It is never shown again."),
    copyButton("Copy signing secret", () => secret.value));
  const msg = h("p", { role: "status" });
  const form = h("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: name.value, url: url.value, authHeader: header.value, authPrefix: prefix.value, payloadFormat: format.value };
      if (key.value) body.apiKey = key.value;
      if (secret.value) body.signingSecret = secret.value;
      if (removeSigning && removeSigning.querySelector("input").checked) body.signingSecret = null;
      try {
        if (existing) await api("PATCH", "/integrations/" + existing.id, body);
        else await api("POST", "/integrations", body);
        key.value = ""; secret.value = "";
        dlg.close();
        route();
      } catch (e) { msg.textContent = e.message; }
    },
  },
  field("Name", name),
  field("API URL", url, "Where LoudCrowd sends reward events."),
  field("API Key", key, existing ? "Leave empty to keep the current key (" + existing.apiKeyHint + ")." : "Sent with every webhook so your system knows it is LoudCrowd."),
  h("details", {},
    h("summary", {}, "Advanced"),
    field("Auth header", header, "The header the API key is sent in."),
    field("Auth prefix", prefix, "Written before the key, e.g. \"Bearer \". Empty sends the bare key."),
    field("Payload format", format, "Which body webhooks carry: the original \"medias\" list, or LoudCrowd's later \"posts\" list with each post's platform."),
    h("p", { class: "hint" }, existing && existing.signing ? "This integration signs its webhooks. Generate a new secret to replace it." : "Optional: sign every webhook (Standard Webhooks) so your receiver can verify it."),
    h("div", { class: "row" }, h("button", {
      type: "button",
      onclick: () => { secret.value = newSigningSecret(); secretBox.hidden = false; secret.focus(); secret.select(); },
    }, "Generate signing secret")),
    secretBox, removeSigning),
  msg,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Save")));
  const dlg = openDialog(existing ? "Edit " + existing.name : "Add Integration: Webhook", form);
  name.focus();
}

const SAMPLE_MEDIAS = [{ lcId: "ABC123", postedAt: "2022-04-12T11:18:20.902164", postType: "STORY" }];
const SAMPLE_POSTS = [{ ...SAMPLE_MEDIAS[0], platform: "instagram" }];

function testDialog(i) {
  const email = h("input", { type: "email", value: "creator@example.com" });
  const ig = h("input", { value: "instagram.username" });
  const tt = h("input", { value: "tiktok.username" });
  const code = h("input", { value: "code123" });
  const list = i.payloadFormat === "posts" ? "posts" : "medias";
  const medias = h("textarea", { rows: 4 });
  medias.value = JSON.stringify(list === "posts" ? SAMPLE_POSTS : SAMPLE_MEDIAS, null, 2);
  const raw = h("pre", { id: "raw-json", "aria-label": "Raw JSON" });
  const result = h("div", { role: "status", "aria-live": "polite" });
  let lastCurl = "";
  function body() {
    let m;
    try { m = JSON.parse(medias.value); } catch (_) { m = null; }
    return {
      email: email.value, igUsername: ig.value || null, ttUsername: tt.value || null,
      discountCode: code.value || null, [list]: m,
    };
  }
  function refresh() {
    let m = null;
    try { m = JSON.parse(medias.value); medias.removeAttribute("aria-invalid"); } catch (_) { medias.setAttribute("aria-invalid", "true"); }
    raw.textContent = JSON.stringify({ lcId: "(this delivery's id)", ...body(), [list]: m }, null, 2);
  }
  for (const el of [email, ig, tt, code, medias]) el.addEventListener("input", refresh);
  refresh();
  const send = h("button", {
    type: "button", class: "primary",
    onclick: async () => {
      send.disabled = true;
      result.replaceChildren(h("p", {}, "Sending…"));
      try {
        const b = body();
        if (b[list] === null) throw new Error(list === "posts" ? "Posts is not valid JSON." : "Medias is not valid JSON.");
        const r = await api("POST", "/integrations/" + i.id + "/test", b);
        const head = r.responseStatus === null
          ? h("p", { class: "status-bad" }, `No answer after ${r.durationMs} ms: ${r.error}`)
          : h("p", { class: r.success ? "status-ok" : "status-bad" }, `Receiver answered ${r.responseStatus} in ${r.durationMs} ms.`);
        lastCurl = curlOf(i.url, r.requestHeaders, JSON.stringify({ lcId: r.deliveryId, ...b }));
        result.replaceChildren(head,
          h("p", {}, "Delivery ", h("a", { href: "#/log?delivery=" + r.deliveryId, onclick: () => dlg.close() }, r.deliveryId), " in the delivery log."),
          h("h3", {}, "Response body"), h("pre", {}, r.responseBody || "(empty)"),
          h("h3", {}, "Request as curl"), h("pre", {}, lastCurl),
          h("p", { class: "hint" }, "The API key is shown by its hint: put your key in. The signature is valid only for this body and timestamp."),
          copyButton("Copy as curl", () => lastCurl));
      } catch (e) { result.replaceChildren(h("p", { class: "status-bad" }, e.message)); }
      send.disabled = false;
    },
  }, "Send test");
  const dlg = openDialog("Test " + i.name,
    h("p", { class: "hint" }, "Sends one real, signed webhook now, with the data below. Then look for it in your own system."),
    field("Email", email), field("Instagram username", ig), field("TikTok username", tt),
    field("Discount code", code),
    list === "posts"
      ? field("Posts (JSON)", medias, "lcId, postedAt, postType and platform (instagram or tik_tok) of each post.")
      : field("Medias (JSON)", medias, "lcId, postedAt and postType of each post."),
    h("h3", {}, "Raw JSON"), raw,
    h("div", { class: "row" }, send), result);
  email.focus();
}

function shellQuote(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }
function curlOf(url, headers, body) {
  const parts = ["curl -X POST " + shellQuote(url)];
  for (const [k, v] of Object.entries(headers || {})) parts.push("  -H " + shellQuote(k + ": " + v));
  parts.push("  --data-raw " + shellQuote(body));
  return parts.join(" \\\n");
}

// ---- rewards ----
function describeRule(r) {
  const types = r.postTypes.length ? r.postTypes.join("/") : "any";
  const where = r.platforms ? " on " + r.platforms.join("/") : "";
  const win = r.windowDays ? ` within ${r.windowDays} days` : "";
  return `${r.count} ${types} post${r.count === 1 ? "" : "s"}${where}${win}${r.repeatable ? ", repeatable" : ", once per creator"}`;
}

async function rewardsPage() {
  const [rules, integrations] = await Promise.all([all("/rules"), all("/integrations")]);
  const names = Object.fromEntries(integrations.map((i) => [i.id, i.name]));
  const rows = rules.map((r) => h("tr", {},
    h("td", { "data-label": "Rule" }, h("strong", {}, r.name), h("br"), describeRule(r)),
    h("td", { "data-label": "Reward" }, r.reward.type === "DISCOUNT_CODE" ? "Discount code " + (r.reward.codePrefix || "LC-") + "…" : "None"),
    h("td", { "data-label": "Sent to" }, r.integrationIds === null ? "Every active integration" : r.integrationIds.map((id) => names[id] || id).join(", ") || "No integration"),
    h("td", { "data-label": "Rewards granted" }, String(r.rewardsGranted)),
    h("td", { "data-label": "Status" }, r.active ? h("span", { class: "status-ok" }, "Active") : h("span", { class: "status-wait" }, "Inactive")),
    h("td", {}, h("button", {
      type: "button", "aria-label": (r.active ? "Deactivate " : "Activate ") + r.name,
      onclick: async () => { try { await api("PATCH", "/rules/" + r.id, { active: !r.active }); route(); } catch (e) { showError(e); } },
    }, r.active ? "Deactivate" : "Activate"))));
  view.replaceChildren(
    h("h1", {}, "Rewards"),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: () => ruleForm(integrations) }, "New rule")),
    rules.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Rule", "Reward", "Sent to", "Rewards granted", "Status", "Action"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p", {}, "No reward rules yet."));
}

function ruleForm(integrations) {
  const name = h("input", { required: true, maxlength: 200, value: "2 Story posts" });
  const types = ["FEED", "STORY", "REEL"].map((t) => check(t, { name: "postType", value: t, checked: t === "STORY" }));
  const platforms = [["INSTAGRAM", "Instagram"], ["TIKTOK", "TikTok"]].map(([v, l]) => check(l, { name: "platform", value: v }));
  const count = h("input", { type: "number", min: 1, max: 10000, required: true, value: 2 });
  const windowDays = h("input", { type: "number", min: 1, max: 3650 });
  const repeatable = check("Repeatable (every further set of posts earns again)", {});
  const rewardType = h("select", {}, h("option", { value: "DISCOUNT_CODE" }, "Discount code"), h("option", { value: "NONE" }, "No code"));
  const prefix = h("input", { maxlength: 20, value: "LC-" });
  const targets = integrations.map((i) => check(i.name, { name: "target", value: i.id }));
  const msg = h("p", { role: "status" });
  const checked = (els) => els.map((l) => l.querySelector("input")).filter((x) => x.checked).map((x) => x.value);
  const form = h("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const plats = checked(platforms);
      const tgt = checked(targets);
      const body = {
        name: name.value, postTypes: checked(types), platforms: plats.length ? plats : null,
        count: Number(count.value), windowDays: windowDays.value ? Number(windowDays.value) : null,
        repeatable: repeatable.querySelector("input").checked,
        reward: rewardType.value === "NONE" ? { type: "NONE" } : { type: "DISCOUNT_CODE", codePrefix: prefix.value || null },
        integrationIds: tgt.length ? tgt : null,
      };
      try { await api("POST", "/rules", body); dlg.close(); route(); } catch (e) { msg.textContent = e.message; }
    },
  },
  field("Name", name),
  h("fieldset", {}, h("legend", {}, "Post types"), h("p", { class: "hint" }, "None checked counts any type."), types),
  h("fieldset", {}, h("legend", {}, "Platforms"), h("p", { class: "hint" }, "None checked counts any platform."), platforms),
  field("Count", count, "How many posts earn the reward."),
  field("Window (days)", windowDays, "The counted posts must fall within this many days. Empty: no window."),
  repeatable,
  field("Reward", rewardType),
  field("Code prefix", prefix, "Codes look like <prefix> and 8 characters."),
  h("fieldset", {}, h("legend", {}, "Target integrations"), h("p", { class: "hint" }, "None checked sends to every active integration."), targets.length ? targets : h("p", {}, "No integrations yet.")),
  msg,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Create rule")));
  const dlg = openDialog("New rule", form);
  name.focus();
}

// ---- creators ----
async function creatorsPage() {
  const creators = await all("/creators");
  const email = h("input", { type: "email", required: true });
  const ig = h("input", {});
  const tt = h("input", {});
  const msg = h("p", { role: "status" });
  const add = h("form", {
    "aria-labelledby": "add-creator",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/creators", { email: email.value, igUsername: ig.value || null, ttUsername: tt.value || null });
        route();
      } catch (e) { msg.textContent = e.message; }
    },
  }, h("h2", { id: "add-creator" }, "Add a creator"), field("Email", email), field("Instagram username", ig), field("TikTok username", tt), msg,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Add creator")));
  const sections = await Promise.all(creators.slice().reverse().map(creatorSection));
  view.replaceChildren(h("h1", {}, "Creators"), h("div", { class: "card" }, add), h("div", {}, sections));
}

async function creatorSection(c) {
  const section = h("section", { class: "card", "aria-labelledby": "cr-" + c.id });
  const type = h("select", {}, ["STORY", "FEED", "REEL"].map((t) => h("option", { value: t }, t)));
  const platform = h("select", {}, h("option", { value: "INSTAGRAM" }, "Instagram"), h("option", { value: "TIKTOK" }, "TikTok"));
  const at = h("input", { type: "datetime-local", step: 1 });
  const msg = h("p", { role: "status" });
  const posts = h("div", {});
  const rewards = h("div", {});
  let simulated = 0;
  async function load() {
    const [m, f] = await Promise.all([all("/media?creatorId=" + c.id), all("/fulfillments?creatorId=" + c.id)]);
    posts.replaceChildren(m.length ? h("ul", {}, m.map((p) => h("li", {}, `${p.postType} on ${p.platform}, posted ${when(p.postedAt)}`))) : h("p", {}, "No posts yet."));
    rewards.replaceChildren(f.length ? h("ul", {}, f.map((x) => h("li", {}, "Code ", h("strong", {}, x.discountCode || "(no code)"), ` earned ${when(x.createdAt)}`))) : h("p", {}, "No rewards yet."));
  }
  const form = h("form", {
    "aria-label": "Simulate a post by " + c.email,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { creatorId: c.id, postType: type.value, platform: platform.value };
      if (at.value) body.postedAt = new Date(at.value).toISOString();
      try {
        await api("POST", "/media", body);
        simulated += 1;
        msg.textContent = `Post ${simulated} stored and evaluated.`;
        await load();
      } catch (e) { msg.textContent = e.message; }
    },
  }, h("div", { class: "row" }, field("Post type", type), field("Platform", platform), field("Posted at", at, "Empty: now (your local time).")),
  h("div", { class: "row" }, h("button", { type: "submit" }, "Simulate post")), msg);
  section.append(
    h("h2", { id: "cr-" + c.id }, c.email),
    h("p", {}, `Instagram: ${c.igUsername || "—"} · TikTok: ${c.ttUsername || "—"}`),
    form, h("h3", {}, "Rewards"), rewards, h("h3", {}, "Posts"), posts);
  await load();
  return section;
}

// ---- delivery log ----
const logState = { integrationId: "", status: "", from: "", to: "", search: "", live: true };

async function logPage(params) {
  const integrations = await all("/integrations");
  const names = Object.fromEntries(integrations.map((i) => [i.id, i.name]));
  const counts = h("div", { class: "counts", "aria-live": "polite" });
  const table = h("div", {});
  const integ = h("select", {}, h("option", { value: "" }, "All"), integrations.map((i) => h("option", { value: i.id }, i.name)));
  const status = h("select", {}, [["", "All"], ["pending", "Pending"], ["succeeded", "Succeeded"], ["failed", "Failed"]].map(([v, l]) => h("option", { value: v }, l)));
  const from = h("input", { type: "datetime-local" });
  const to = h("input", { type: "datetime-local" });
  const search = h("input", { type: "search", placeholder: "delivery id, fulfillment id or email" });
  const live = h("input", { type: "checkbox" });
  integ.value = logState.integrationId; status.value = logState.status; from.value = logState.from;
  to.value = logState.to; search.value = logState.search; live.checked = logState.live;

  async function refresh() {
    const c = await api("GET", "/deliveries/counts");
    counts.replaceChildren(h("p", {}, "Pending: ", h("strong", {}, String(c.pending))), h("p", {}, "Failed: ", h("strong", {}, String(c.failed))));
    const q = new URLSearchParams();
    if (logState.integrationId) q.set("integrationId", logState.integrationId);
    if (logState.status) q.set("status", logState.status);
    if (logState.from) q.set("createdAfter", new Date(logState.from).toISOString());
    if (logState.to) q.set("createdBefore", new Date(logState.to).toISOString());
    const s = logState.search.trim();
    let items;
    if (/^[0-9a-f-]{36}$/i.test(s)) {
      items = [];
      try { items.push(await api("GET", "/deliveries/" + s)); } catch (e) { if (e.status !== 404) throw e; }
      q.set("fulfillmentId", s);
      if (!items.length) items = (await api("GET", "/deliveries?" + q + "&limit=100")).items;
    } else {
      if (s) q.set("email", s);
      items = (await api("GET", "/deliveries?" + q + "&limit=100")).items;
    }
    const rows = items.map((d) => h("tr", {},
      h("td", { "data-label": "Created" }, when(d.createdAt)),
      h("td", { "data-label": "Integration" }, names[d.integrationId] || d.integrationId),
      h("td", { "data-label": "Kind" }, d.test ? "Test" : "Reward"),
      h("td", { "data-label": "Status" }, h("span", { class: statusClass(d.status) }, d.status)),
      h("td", { "data-label": "Attempts" }, String(d.attemptCount)),
      h("td", { "data-label": "Last response" }, d.lastResponseStatus !== null ? String(d.lastResponseStatus) : d.lastError || "—"),
      h("td", {}, h("button", { type: "button", "aria-label": "Open delivery " + d.id, onclick: () => deliveryDialog(d.id, names) }, "Open"))));
    table.replaceChildren(items.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Created", "Integration", "Kind", "Status", "Attempts", "Last response", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p", {}, "No deliveries match."));
  }
  const filters = h("form", {
    "aria-label": "Filter the delivery log",
    onsubmit: async (ev) => {
      ev.preventDefault();
      Object.assign(logState, { integrationId: integ.value, status: status.value, from: from.value, to: to.value, search: search.value });
      try { await refresh(); } catch (e) { showError(e); }
    },
  }, h("div", { class: "row" }, field("Integration", integ), field("Status", status), field("From", from), field("To", to)),
  field("Search", search, "A delivery id, a fulfillment id or a creator's email."),
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Apply"),
    h("label", { class: "inline" }, live, "Live updates (every 3 s)")));
  live.addEventListener("change", () => { logState.live = live.checked; startLive(refresh); });
  view.replaceChildren(h("h1", {}, "Delivery log"), counts, filters, table);
  await refresh();
  startLive(refresh);
  if (params.get("delivery")) deliveryDialog(params.get("delivery"), names);
}

function stopLive() { if (liveTimer) clearInterval(liveTimer); liveTimer = null; }
function startLive(refresh) {
  stopLive();
  if (!logState.live) return;
  liveTimer = setInterval(() => { if (!document.querySelector("dialog[open]")) refresh().catch(showError); }, 3000);
}

async function deliveryDialog(id, names) {
  let d;
  try { d = await api("GET", "/deliveries/" + id); } catch (e) { showError(e); return; }
  const body = h("div", {});
  const dlg = openDialog("Delivery " + d.id, body);
  function render() {
    const last = d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
    const headers = last && last.requestHeaders;
    const retryArea = h("div", {});
    const retry = h("button", {
      type: "button",
      disabled: d.status === "pending",
      onclick: () => {
        retryArea.replaceChildren(
          h("p", {}, "Retry sends this webhook once more, now: the same webhook-id and body, to the integration's current URL with its current key and secret. The delivery then ends on that one attempt; the retry schedule is not applied again."),
          h("div", { class: "row" }, h("button", {
            type: "button", class: "primary",
            onclick: async () => {
              try {
                await api("POST", "/deliveries/" + d.id + "/retry");
                retryArea.replaceChildren(h("p", { role: "status" }, "Retry queued."));
                for (let n = 0; n < 20; n++) {
                  await new Promise((r) => setTimeout(r, 250));
                  d = await api("GET", "/deliveries/" + d.id);
                  if (d.status !== "pending") break;
                }
                render();
              } catch (e) { retryArea.replaceChildren(h("p", { role: "status", class: "status-bad" }, e.message)); }
            },
          }, "Retry now"), h("button", { type: "button", onclick: () => retryArea.replaceChildren() }, "Cancel")));
      },
    }, "Retry");
    body.replaceChildren(
      h("dl", { class: "facts" },
        h("dt", {}, "Status"), h("dd", {}, h("span", { class: statusClass(d.status) }, d.status)),
        h("dt", {}, "Integration"), h("dd", {}, (names && names[d.integrationId]) || d.integrationId),
        h("dt", {}, "Fulfillment"), h("dd", {}, d.fulfillmentId || "(test send)"),
        h("dt", {}, "Created"), h("dd", {}, when(d.createdAt)),
        h("dt", {}, "Next retry"), h("dd", {}, d.nextAttemptAt ? when(d.nextAttemptAt) : "None: settled"),
        h("dt", {}, "Delivered"), h("dd", {}, when(d.deliveredAt))),
      h("div", { class: "row" }, retry, d.status === "pending" ? h("span", { class: "hint" }, "Still pending: it is retried on its schedule.") : null),
      retryArea,
      h("h3", {}, "Payload"), h("pre", {}, JSON.stringify(d.payload, null, 2)),
      h("h3", {}, "Request headers"),
      headers
        ? h("table", {}, h("tbody", {}, Object.entries(headers).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))))
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
            h("td", { "data-label": "Response body" }, h("pre", {}, a.responseBody || "(empty)"))))))
        : h("p", {}, "No attempts yet."));
  }
  render();
  dlg.querySelector("button").focus();
}

// ---- routing ----
const pages = { integrations: integrationsPage, rewards: rewardsPage, creators: creatorsPage, log: logPage };

async function route() {
  stopLive();
  const hash = location.hash.replace(/^#\/?/, "") || "integrations";
  const [name, query] = hash.split("?");
  const page = pages[name] || integrationsPage;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    await page(new URLSearchParams(query || ""));
    clearError();
    view.focus();
  } catch (e) { showError(e); }
}

window.addEventListener("hashchange", route);
route();
