// Integrations: the list with each one's chart of the last day, one integration's own page, and
// the dialogs that add, edit, test, rotate the signing secret, replay and delete.

import { EVENT_GROUPS, DEFAULT_EVENT_TYPES, EVENT_LABELS, hasPosts, sampleAbout } from "./events.js";
import { api, all } from "./api.js";
import { refresh, showError } from "./app.js";
import { hourlyChart, hourTable } from "./charts.js";
import {
  h, field, group, check, checkedValues, formErrors, errorSummary, openDialog, copyButton, when, nextId,
} from "./dom.js";

// What the console may say of the key: its length when the API gives it, and the characters
// its hint shows (none for a short key).
export function keyDescription(i) {
  const tail = (i.apiKeyHint || "").replace(/^…/, "");
  const length = typeof i.apiKeyLength === "number"
    ? `${i.apiKeyLength} character${i.apiKeyLength === 1 ? "" : "s"}`
    : null;
  if (tail) return length ? `${length}, ending …${tail}` : `ending …${tail}`;
  return (length ? length + "; " : "Set; ") + "too short for any of it to be shown";
}

function integrationStatus(i) {
  if (i.active) return h("span", { class: "status-ok" }, "Active");
  if (i.disabledReason) return h("span", { class: "status-bad" }, `Disabled ${when(i.disabledAt)}: ${i.disabledReason}`);
  return h("span", { class: "status-wait" }, "Paused");
}

function healthLine(hl) {
  if (!hl || !hl.lastAttemptAt) return "No attempts yet.";
  let s = `Last attempt ${when(hl.lastAttemptAt)}.`;
  if (hl.consecutiveFailures) s += ` ${hl.consecutiveFailures} failed in a row (last: ${hl.lastFailure}).`;
  else s += ` Last success ${when(hl.lastSuccessAt)}.`;
  return s;
}

// Its own limits and the concurrency limit the dispatcher runs it at now.
function limitsLine(i) {
  const most = i.maxConcurrency ? `at most ${i.maxConcurrency} at once` : "at most the service's maximum at once";
  const rate = i.maxPerSecond ? `, ${i.maxPerSecond} a second` : ", no rate limit";
  const now = i.health && i.health.concurrencyLimit
    ? `; running at ${i.health.concurrencyLimit} at once now (adapts to how the receiver answers)`
    : "";
  return `Sends ${most}${rate}${now}.`;
}

// Whether it signs, and where a rotation stands: the old secret signs too until it expires.
function signingLine(i) {
  if (!i.signing) return "No";
  const expires = i.previousSecretExpiresAt ? new Date(i.previousSecretExpiresAt) : null;
  if (expires && expires > new Date()) {
    return `Yes (webhook-signature); rotated ${when(i.signingSecretRotatedAt)}, the previous secret also signs until ${when(i.previousSecretExpiresAt)}`;
  }
  if (i.signingSecretRotatedAt) return `Yes (webhook-signature); secret rotated ${when(i.signingSecretRotatedAt)}`;
  return "Yes (webhook-signature)";
}

function facts(i) {
  return h("dl", { class: "facts" },
    h("dt", {}, "Status"), h("dd", {}, integrationStatus(i)),
    h("dt", {}, "API URL"), h("dd", {}, i.url),
    h("dt", {}, "API key"), h("dd", {}, keyDescription(i)),
    h("dt", {}, "Sent in"), h("dd", {}, `${i.authHeader}: ${i.authPrefix}<key>`),
    h("dt", {}, "Signed"), h("dd", {}, signingLine(i)),
    h("dt", {}, "Payload format"), h("dd", {}, i.payloadFormat === "posts" ? "posts (with each post's platform)" : "medias (the original)"),
    h("dt", {}, "Events"), h("dd", {}, (i.eventTypes || DEFAULT_EVENT_TYPES).length
      ? (i.eventTypes || DEFAULT_EVENT_TYPES).map((t) => EVENT_LABELS[t] || t).join("; ")
      : "None: only Test sends"),
    h("dt", {}, "Health"), h("dd", {}, healthLine(i.health)),
    h("dt", {}, "Sending"), h("dd", { "data-key": "limits-" + i.id }, limitsLine(i)));
}

function actions(i, onDeleted) {
  const key = (what) => `${what}-${i.id}`;
  return h("div", { class: "row" },
    h("button", { type: "button", class: "primary", "data-key": key("test"), onclick: () => testDialog(i) }, "Test"),
    h("button", { type: "button", "data-key": key("edit"), onclick: () => integrationForm(i) }, "Edit"),
    h("button", { type: "button", "data-key": key("rotate"), onclick: () => rotateDialog(i) }, "Rotate secret…"),
    h("button", { type: "button", "data-key": key("pause"), onclick: () => setActive(i, !i.active) },
      i.active ? "Pause" : i.disabledReason ? "Re-enable" : "Resume"),
    h("button", { type: "button", "data-key": key("replay"), onclick: () => replayDialog(i) }, "Replay failed"),
    h("button", { type: "button", class: "danger", "data-key": key("delete"), onclick: () => confirmDelete(i, onDeleted) }, "Delete"));
}

async function statsOf(i) {
  try { return await api("GET", `/integrations/${i.id}/stats?hours=24`); } catch (_) { return null; }
}

export async function integrationsPage() {
  const list = await all("/integrations");
  const stats = await Promise.all(list.map(statsOf));
  const cards = list.map((i, n) => h("article", { class: "card", "aria-labelledby": "int-" + i.id },
    h("h2", { id: "int-" + i.id }, h("a", { href: "#/integrations/" + i.id }, i.name)),
    h("div", { class: "split" },
      facts(i),
      stats[n] ? hourlyChart(stats[n]) : h("p", { class: "hint" }, "Its chart could not be loaded.")),
    actions(i, refresh)));
  const add = h("button", { type: "button", class: "primary", "data-key": "add-integration", onclick: () => integrationForm(null) }, "Add Integration");
  return [
    h("h1", {}, "Integrations"),
    h("p", { class: "hint" }, "Outbound webhooks: LoudCrowd sends reward events to each active one."),
    cards.length
      ? [h("div", { class: "row" }, add), h("div", {}, cards)]
      : h("div", { class: "empty" },
        h("p", {}, "No integrations yet. Add one to receive each reward a creator earns at your own URL."),
        h("div", { class: "row" }, add)),
  ];
}

export async function integrationPage(id) {
  const [i, stats] = await Promise.all([api("GET", "/integrations/" + id), api("GET", `/integrations/${id}/stats?hours=24`)]);
  return [
    h("p", {}, h("a", { href: "#/integrations" }, "← All integrations")),
    h("h1", {}, i.name),
    facts(i),
    actions(i, () => { location.hash = "#/integrations"; }),
    h("section", { "aria-labelledby": "last-day" },
      h("h2", { id: "last-day" }, "Attempts in the last 24 hours"),
      hourlyChart(stats, "large"),
      hourTable(stats)),
    h("p", {}, h("a", { href: "#/log?integration=" + i.id }, "Its deliveries in the delivery log")),
  ];
}

async function setActive(i, active) {
  try { await api("PATCH", "/integrations/" + i.id, { active }); refresh(); } catch (e) { showError(e); }
}

function replayDialog(i) {
  const since = h("input", { type: "datetime-local", required: true });
  const dayAgo = new Date(Date.now() - 86400000);
  since.value = new Date(dayAgo.getTime() - dayAgo.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const done = h("p", { role: "status" });
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_since: since });
  const formId = nextId("form");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      done.textContent = "";
      if (!errors.validate(form)) return;
      try {
        const r = await api("POST", "/integrations/" + i.id + "/replay", { since: new Date(since.value).toISOString() });
        done.textContent = r.replayed === 1 ? "1 delivery queued again." : `${r.replayed} deliveries queued again.`;
      } catch (e) { errors.show(e); }
    },
  },
  h("p", {}, "Every failed delivery created since then is sent again, once, under the webhook-id it always had."),
  field("Since", since), summary, done);
  openDialog("Replay failed deliveries of " + i.name, form,
    { actions: [h("button", { type: "submit", form: formId, class: "primary" }, "Replay")] });
  since.focus();
}

// Rotate secret…: a new signing secret (generated, or given) without a gap. During the grace
// period every webhook carries both signatures, so receivers switch over in their own time.
function rotateDialog(i) {
  const grace = h("input", { required: true, value: "24h", autocomplete: "off", pattern: "0|[0-9]+(ms|s|m|h|d)" });
  const given = h("input", { type: "password", autocomplete: "off" });
  const generated = h("input", { readonly: true, autocomplete: "off" });
  const secretBox = h("div", { hidden: true },
    field("New signing secret", generated, "Shown once: copy it into your receiver now. It is never shown again."),
    copyButton("Copy signing secret", () => generated.value));
  const done = h("p", { role: "status" });
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_grace_period: grace, invalid_signing_secret: given });
  const formId = nextId("form");
  const rotate = h("button", { type: "submit", form: formId, class: "primary" }, "Rotate");
  let rotated = false;
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(form)) return;
      const body = { gracePeriod: grace.value.trim() };
      if (given.value) body.newSecret = given.value;
      try {
        const r = await api("POST", "/integrations/" + i.id + "/rotate-secret", body);
        given.value = "";
        if (r.signingSecret) { generated.value = r.signingSecret; secretBox.hidden = false; }
        done.textContent = r.previousSecretExpiresAt
          ? `Rotated. Webhooks carry both signatures until ${when(r.previousSecretExpiresAt)}; then only the new one.`
          : "Signing secret set. Every webhook is signed with it from now on.";
        // Once: another click would rotate again and drop the secret just shown.
        rotate.hidden = true;
        grace.disabled = true; given.disabled = true;
        if (r.signingSecret) { generated.focus(); generated.select(); }
        rotated = true;
      } catch (e) { errors.show(e); }
    },
  },
  h("p", { class: "hint" }, i.signing
    ? "Replaces the signing secret without a gap: until the grace period ends every webhook carries two signatures, one with the new secret and one with the current one, so your receiver verifies with either while you deploy the new one. A PATCH or Edit of the secret switches at once instead."
    : "This integration does not sign yet: rotating sets a signing secret, used at once."),
  field("Grace period", grace, "How long the current secret still signs beside the new one: 0 (switch at once) to 7d, e.g. 24h, 90m."),
  field("New secret (optional)", given, "A whsec_… secret of your own; leave empty to have one generated."),
  summary, done, secretBox);
  const dlg = openDialog("Rotate the signing secret of " + i.name, form, { actions: [rotate] });
  // The page shows the rotation once the dialog (and the secret in it) is gone.
  dlg.addEventListener("close", () => { if (rotated) refresh(); });
  grace.focus();
}

function confirmDelete(i, onDeleted) {
  const summary = errorSummary();
  const errors = formErrors(summary);
  const dlg = openDialog("Delete " + i.name + "?",
    [h("p", {}, "Nothing more is sent to it. Its deliveries that are still pending end as failed. This cannot be undone."), summary],
    {
      actions: [h("button", {
        type: "button", class: "danger",
        onclick: async () => {
          errors.clear();
          try { await api("DELETE", "/integrations/" + i.id); dlg.close(); onDeleted(); } catch (e) { errors.show(e); }
        },
      }, "Delete integration")],
    });
}

function newSigningSecret() {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return "whsec_" + btoa(String.fromCharCode(...bytes));
}

export function integrationForm(existing) {
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
  const limitInput = (v) => h("input", { type: "number", min: 1, max: 10000, step: 1, value: v == null ? "" : String(v) });
  const maxConcurrency = limitInput(existing ? existing.maxConcurrency : null);
  const maxPerSecond = limitInput(existing ? existing.maxPerSecond : null);
  // Empty is no limit of its own; the API says what else is wrong.
  const limitValue = (input) => (input.value.trim() === "" ? null : Number(input.value));
  const removeSigning = existing && existing.signing ? check("Stop signing (remove the signing secret)", {}) : null;
  // Its event types, grouped; an integration made before event types receives rewards.
  const subscribed = new Set(existing && existing.eventTypes ? existing.eventTypes : DEFAULT_EVENT_TYPES);
  const eventChecks = [];
  const eventGroups = EVENT_GROUPS.map(([legend, types]) => {
    const boxes = types.map(([value, label]) => check(label, { value, checked: subscribed.has(value) }));
    eventChecks.push(...boxes);
    return group(legend, null, boxes);
  });
  const events = group("Events it receives", "Each event checked is sent to this URL. None checked: only Test sends.", eventGroups);
  const secretBox = h("div", { hidden: true },
    field("Signing secret", secret, "Shown once: copy it into your receiver now. It is never shown again."),
    copyButton("Copy signing secret", () => secret.value));
  const summary = errorSummary();
  const errors = formErrors(summary, {
    invalid_name: name, invalid_url: url, blocked_url: url, invalid_api_key: key,
    invalid_auth_header: header, invalid_auth_prefix: prefix, invalid_signing_secret: secret,
    invalid_payload_format: format, invalid_event_types: events,
    invalid_max_concurrency: maxConcurrency, invalid_max_per_second: maxPerSecond,
  });
  const formId = nextId("form");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(form)) return;
      const body = {
        name: name.value, url: url.value, authHeader: header.value, authPrefix: prefix.value, payloadFormat: format.value,
        maxConcurrency: limitValue(maxConcurrency), maxPerSecond: limitValue(maxPerSecond),
        eventTypes: checkedValues(eventChecks),
      };
      if (key.value) body.apiKey = key.value;
      if (secret.value) body.signingSecret = secret.value;
      if (removeSigning && removeSigning.querySelector("input").checked) body.signingSecret = null;
      try {
        if (existing) await api("PATCH", "/integrations/" + existing.id, body);
        else await api("POST", "/integrations", body);
        key.value = ""; secret.value = "";
        dlg.close();
        refresh();
      } catch (e) { errors.show(e); }
    },
  },
  existing ? null : h("p", { class: "hint" }, "A webhook: each reward a creator earns is POSTed to your URL with your API key. Webhooks are the kind of integration this service sends."),
  field("Name", name),
  field("API URL", url, "Where LoudCrowd sends the events checked below."),
  field("API key", key, existing ? `Leave empty to keep the current key (${keyDescription(existing)}).` : "Sent with every webhook so your system knows it is LoudCrowd."),
  events,
  h("details", {},
    h("summary", {}, "Advanced"),
    field("Auth header", header, "The header the API key is sent in."),
    field("Auth prefix", prefix, "Written before the key, e.g. \"Bearer \". Empty sends the bare key."),
    field("Payload format", format, "Which body webhooks carry: the original \"medias\" list, or LoudCrowd's later \"posts\" list with each post's platform."),
    field("Most sends at once", maxConcurrency, "1 to 10,000; empty: the service's maximum. Within it the number adapts to how your receiver answers."),
    field("Most sends a second", maxPerSecond, "1 to 10,000; empty: no rate limit."),
    group("Signature", existing && existing.signing
      ? "This integration signs its webhooks. Generate a new secret to replace it."
      : "Optional: sign every webhook (Standard Webhooks) so your receiver can verify it.",
    h("div", { class: "row" }, h("button", {
      type: "button",
      onclick: () => { secret.value = newSigningSecret(); secretBox.hidden = false; secret.focus(); secret.select(); },
    }, "Generate signing secret")),
    secretBox, removeSigning)),
  summary);
  const dlg = openDialog(existing ? "Edit " + existing.name : "Add Integration: Webhook", form,
    { actions: [h("button", { type: "submit", form: formId, class: "primary" }, "Save")] });
  name.focus();
}

const SAMPLE_MEDIAS = [{ lcId: "ABC123", postedAt: "2022-04-12T11:18:20.902164", postType: "STORY" }];
const SAMPLE_POSTS = [{ ...SAMPLE_MEDIAS[0], platform: "instagram" }];

function shellQuote(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }
function curlOf(url, headers, body) {
  const parts = ["curl -X POST " + shellQuote(url)];
  for (const [k, v] of Object.entries(headers || {})) parts.push("  -H " + shellQuote(k + ": " + v));
  parts.push("  --data-raw " + shellQuote(body));
  return parts.join(" \\\n");
}

export function testDialog(i) {
  const eventType = h("select", {}, EVENT_GROUPS.map(([legend, types]) =>
    h("optgroup", { label: legend }, types.map(([value, label]) => h("option", { value }, label)))));
  eventType.value = "reward.instant";
  const email = h("input", { type: "email", value: "creator@example.com" });
  const ig = h("input", { value: "instagram.username" });
  const tt = h("input", { value: "tiktok.username" });
  const code = h("input", { value: "code123" });
  // Rewards come in the integration's format; post.tagged always in `medias`.
  const listOf = () => (i.payloadFormat === "posts" && eventType.value.startsWith("reward.") ? "posts" : "medias");
  let list = listOf();
  const medias = h("textarea", { rows: 4 });
  medias.value = JSON.stringify(list === "posts" ? SAMPLE_POSTS : SAMPLE_MEDIAS, null, 2);
  const raw = h("pre", { id: nextId("raw-json"), "aria-label": "Raw JSON", tabindex: 0 });
  const result = h("div", { role: "status", "aria-live": "polite" });
  const summary = errorSummary();
  const postsField = (e) => (/medias|posts|postedAt|postType|lcId|platform/.test(e.message) ? medias : null);
  const errors = formErrors(summary, {
    invalid_email: email,
    invalid_username: (e) => (/ttUsername/.test(e.message) ? tt : ig),
    invalid_posted_at: medias,
    invalid_body: postsField,
    invalid_event_type: eventType,
  });
  let lastCurl = "";
  function parsed() {
    try { return JSON.parse(medias.value); } catch (_) { return undefined; }
  }
  // The keys sent: the event type, the creator keys, and for rewards and posts the code and posts.
  function body(m) {
    const b = { eventType: eventType.value, email: email.value, igUsername: ig.value || null, ttUsername: tt.value || null };
    if (hasPosts(eventType.value)) Object.assign(b, { discountCode: code.value || null, [list]: m });
    return b;
  }
  // The body the receiver gets, as the service builds it from these keys.
  function sent(b, lcId) {
    const { eventType: t, ...keys } = b;
    return { lcId, ...keys, ...sampleAbout(t) };
  }
  function preview() {
    const m = parsed();
    raw.textContent = JSON.stringify(sent(body(m === undefined ? "(not valid JSON)" : m), "ABC123"), null, 2);
  }
  const codeField = field("Discount code", code);
  const mediasField = () => (list === "posts"
    ? field("Posts (JSON)", medias, "lcId, postedAt, postType and platform (instagram or tik_tok) of each post.")
    : field("Medias (JSON)", medias, "lcId, postedAt and postType of each post."));
  const postsBox = h("div", {}, codeField, mediasField());
  function typeChanged() {
    const next = listOf();
    if (next !== list) {
      list = next;
      medias.value = JSON.stringify(list === "posts" ? SAMPLE_POSTS : SAMPLE_MEDIAS, null, 2);
      postsBox.replaceChildren(codeField, mediasField());
    }
    // post.tagged is no reward: its sample has no code.
    code.value = eventType.value === "post.tagged" ? "" : code.value || "code123";
    postsBox.hidden = !hasPosts(eventType.value);
    preview();
  }
  eventType.addEventListener("change", typeChanged);
  for (const el of [email, ig, tt, code, medias]) el.addEventListener("input", preview);
  preview();
  const formId = nextId("form");
  const send = h("button", { type: "submit", form: formId, class: "primary" }, "Send test");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(form)) return;
      const m = parsed();
      if (m === undefined) {
        errors.field(medias, `${list === "posts" ? "Posts" : "Medias"} is not valid JSON.`);
        return;
      }
      send.disabled = true;
      result.replaceChildren(h("p", {}, "Sending…"));
      try {
        const b = body(m);
        const r = await api("POST", "/integrations/" + i.id + "/test", b);
        const head = r.responseStatus === null
          ? h("p", { class: "status-bad" }, `No answer after ${r.durationMs} ms: ${r.error}`)
          : h("p", { class: r.success ? "status-ok" : "status-bad" }, `Receiver answered ${r.responseStatus} in ${r.durationMs} ms.`);
        lastCurl = curlOf(i.url, r.requestHeaders, JSON.stringify(sent(b, "ABC123")));
        result.replaceChildren(head, h("p", {}, "Sent as ", h("strong", {}, EVENT_LABELS[b.eventType]), ` (lc-event-type: ${b.eventType}).`),
          h("p", {}, "Delivery ", h("a", { href: "#/log?delivery=" + r.deliveryId, onclick: () => dlg.close() }, r.deliveryId), " in the delivery log."),
          h("h3", {}, "Response body"), h("pre", { tabindex: 0, "aria-label": "Response body" }, r.responseBody || "(empty)"),
          h("h3", {}, "Request as curl"), h("pre", { tabindex: 0, "aria-label": "Request as curl" }, lastCurl),
          h("p", { class: "hint" }, i.signing
            ? "The API key is shown by its hint: put your key in. The signature is valid only for this body and timestamp."
            : "The API key is shown by its hint: put your key in."),
          copyButton("Copy as curl", () => lastCurl));
        head.scrollIntoView({ block: "nearest" });
      } catch (e) { result.replaceChildren(); errors.show(e); }
      send.disabled = false;
    },
  },
  h("p", { class: "hint" }, i.signing
    ? "Sends one real webhook now, signed with this integration's secret, with the data below. Then look for it in your own system."
    : "Sends one real webhook now, with the data below; it is not signed, as this integration has no signing secret. Then look for it in your own system."),
  field("Event", eventType, "Which event's sample to send, with its lc-event-type header. It is sent whatever events this integration receives."),
  field("Email", email), field("Instagram username", ig), field("TikTok username", tt),
  postsBox,
  h("h3", {}, "Raw JSON"), raw, summary, result);
  const dlg = openDialog("Test " + i.name, form, { actions: [send] });
  email.focus();
}
