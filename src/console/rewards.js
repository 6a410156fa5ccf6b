// Rewards: the rules, and the dialog that creates one.

import { api, all } from "./api.js";
import { refresh, showError } from "./app.js";
import {
  h, field, group, check, checkedValues, formErrors, errorSummary, openDialog, nextId,
} from "./dom.js";

function describeRule(r, programs) {
  const types = r.postTypes.length ? r.postTypes.join("/") : "any";
  const where = r.platforms ? " on " + r.platforms.join("/") : "";
  const win = r.windowDays ? ` within ${r.windowDays} days` : "";
  const times = r.fulfillmentLimit && r.repeatable ? `, at most ${r.fulfillmentLimit} times per creator` : "";
  const options = [
    r.programId ? `members of ${programs[r.programId] || r.programId}` : null,
    r.timeframeDays ? `within ${r.timeframeDays} days of approval` : null,
    r.bufferDays ? `posts ${r.bufferDays}+ days apart` : null,
    r.segments && r.segments.length ? `segments ${r.segments.join("/")}` : null,
    r.minFollowers !== null && r.minFollowers !== undefined ? `${r.minFollowers}+ followers` : null,
    r.mediaTypes && r.mediaTypes.length ? `${r.mediaTypes.join("/").toLowerCase()} posts only` : null,
  ].filter(Boolean);
  return `${r.count} ${types} post${r.count === 1 ? "" : "s"}${where}${win}${r.repeatable ? ", repeatable" : ", once per creator"}${times}`
    + (options.length ? "; " + options.join(", ") : "");
}

// The prefix is said to be one, so `LC-` does not read as a code cut short.
function describeReward(reward) {
  if (reward.type !== "DISCOUNT_CODE") return "No code";
  const prefix = reward.codePrefix || "LC-";
  return ["Discount code, prefix ", h("code", {}, prefix), h("br"), h("span", { class: "hint" }, `e.g. ${prefix}7KQ2M9XA`)];
}

export async function rewardsPage() {
  const [rules, integrations, programList] = await Promise.all([all("/rules"), all("/integrations"), all("/programs")]);
  const names = Object.fromEntries(integrations.map((i) => [i.id, i.name]));
  const programs = Object.fromEntries(programList.map((p) => [p.id, p.name]));
  const rows = rules.map((r) => h("tr", {},
    h("td", { "data-label": "Rule" }, h("strong", {}, r.name), h("br"), describeRule(r, programs)),
    h("td", { "data-label": "Reward" }, describeReward(r.reward)),
    h("td", { "data-label": "Sent to" }, r.integrationIds === null ? "Every active integration" : r.integrationIds.map((id) => names[id] || id).join(", ") || "No integration"),
    h("td", { "data-label": "Rewards granted" }, String(r.rewardsGranted)),
    h("td", { "data-label": "Status" }, r.active ? h("span", { class: "status-ok" }, "Active") : h("span", { class: "status-wait" }, "Inactive")),
    h("td", {}, h("button", {
      type: "button", "aria-label": (r.active ? "Deactivate " : "Activate ") + r.name, "data-key": "active-" + r.id,
      onclick: async () => { try { await api("PATCH", "/rules/" + r.id, { active: !r.active }); refresh(); } catch (e) { showError(e); } },
    }, r.active ? "Deactivate" : "Activate"))));
  const add = h("button", { type: "button", class: "primary", "data-key": "new-rule", onclick: () => ruleForm(integrations, programList) }, "New rule");
  const noIntegration = integrations.length ? null : h("p", { class: "hint" },
    "No integration yet, so rewards would be sent nowhere: ", h("a", { href: "#/integrations" }, "add an integration"), " first.");
  return [
    h("h1", {}, "Rewards"),
    rules.length
      ? [h("div", { class: "row" }, add), noIntegration,
        h("table", {}, h("thead", {}, h("tr", {}, ["Rule", "Reward", "Sent to", "Rewards granted", "Status", "Action"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))]
      : h("div", { class: "empty" },
        h("p", {}, "No reward rules yet. A rule such as \"2 Story posts\" says what a creator must post to earn a reward."),
        noIntegration,
        h("div", { class: "row" }, add)),
  ];
}

// A whole number from an input, or null when it is empty.
function numberOrNull(input) { return input.value === "" ? null : Number(input.value); }

function ruleForm(integrations, programs) {
  const name = h("input", { required: true, maxlength: 200, value: "2 Story posts" });
  const types = ["FEED", "STORY", "REEL"].map((t) => check(t, { name: "postType", value: t, checked: t === "STORY" }));
  const platforms = [["INSTAGRAM", "Instagram"], ["TIKTOK", "TikTok"]].map(([v, l]) => check(l, { name: "platform", value: v }));
  const count = h("input", { type: "number", min: 1, max: 10000, required: true, value: 2 });
  const windowDays = h("input", { type: "number", min: 1, max: 3650 });
  const repeatable = check("Repeatable (every further set of posts earns again)", {});
  const rewardType = h("select", {}, h("option", { value: "DISCOUNT_CODE" }, "Discount code"), h("option", { value: "NONE" }, "No code"));
  const prefix = h("input", { maxlength: 20, value: "LC-", pattern: "[A-Za-z0-9_\\-]{1,20}" });
  const targets = integrations.map((i) => check(i.name, { name: "target", value: i.id }));
  // LoudCrowd's options, each empty by default: the rule then behaves as without it.
  const program = h("select", {}, h("option", { value: "" }, "Anyone (no program)"),
    programs.map((p) => h("option", { value: p.id }, p.name)));
  const bufferDays = h("select", {}, [["", "None"], ["1", "One day"], ["2", "Two days"], ["5", "Five days"], ["7", "One week"], ["30", "One month"]]
    .map(([v, l]) => h("option", { value: v }, l)));
  const fulfillmentLimit = h("input", { type: "number", min: 1, max: 1000 });
  const timeframeDays = h("input", { type: "number", min: 1, max: 3650 });
  const segments = h("input", { maxlength: 1100, placeholder: "e.g. EU, VIP" });
  const minFollowers = h("input", { type: "number", min: 0 });
  const mediaTypes = [["IMAGE", "Image"], ["VIDEO", "Video"]].map(([v, l]) => check(l, { name: "mediaType", value: v }));
  const platformBox = group("Platforms", "None checked counts any platform.", platforms);
  const targetBox = group("Target integrations", "None checked sends to every active integration.",
    targets.length ? targets : h("p", {}, "No integrations yet: ", h("a", { href: "#/integrations" }, "add one"), " to send rewards somewhere."));
  const summary = errorSummary();
  const errors = formErrors(summary, {
    invalid_name: name, invalid_count: count, invalid_window_days: windowDays,
    invalid_platforms: platformBox, invalid_code_prefix: prefix, unknown_integration: targetBox,
    unknown_program: program, invalid_buffer_days: bufferDays, invalid_fulfillment_limit: fulfillmentLimit,
    invalid_timeframe_days: timeframeDays, invalid_segments: segments,
  });
  const formId = nextId("form");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(form)) return;
      const plats = checkedValues(platforms);
      const tgt = checkedValues(targets);
      const body = {
        name: name.value, postTypes: checkedValues(types), platforms: plats.length ? plats : null,
        count: Number(count.value), windowDays: windowDays.value ? Number(windowDays.value) : null,
        repeatable: repeatable.querySelector("input").checked,
        reward: rewardType.value === "NONE" ? { type: "NONE" } : { type: "DISCOUNT_CODE", codePrefix: prefix.value || null },
        integrationIds: tgt.length ? tgt : null,
        programId: program.value || null, bufferDays: bufferDays.value ? Number(bufferDays.value) : null,
        fulfillmentLimit: numberOrNull(fulfillmentLimit), timeframeDays: numberOrNull(timeframeDays),
        segments: segments.value.split(",").map((x) => x.trim()).filter(Boolean), minFollowers: numberOrNull(minFollowers),
        mediaTypes: checkedValues(mediaTypes),
      };
      try { await api("POST", "/rules", body); dlg.close(); refresh(); } catch (e) { errors.show(e); }
    },
  },
  field("Name", name),
  group("Post types", "None checked counts any type.", types),
  platformBox,
  field("Count", count, "How many posts earn the reward."),
  field("Window (days)", windowDays, "The counted posts must fall within this many days. Empty: no window."),
  repeatable,
  field("Reward", rewardType),
  field("Code prefix", prefix, "Letters, digits, - or _: each code is the prefix and 8 characters, e.g. LC-7KQ2M9XA."),
  targetBox,
  h("fieldset", {}, h("legend", {}, "LoudCrowd's options"),
    h("p", { class: "hint" }, "Each left empty: the rule counts as it would without it."),
    field("Program", program, "Only posts by approved members of this program, posted after their approval, count."),
    field("Buffer Limit", bufferDays, "How far apart posts must be to count: a post counts only this long after the previous one that counted."),
    field("Fulfillment Limit", fulfillmentLimit, "The most times one creator can receive this reward (repeatable rules; a rule that is not repeatable is received once). Empty: no limit."),
    field("Timeframe (days)", timeframeDays, "A deadline from when the creator was approved into the program: later posts do not count. Needs a program."),
    field("Segments", segments, "Comma-separated: the creator must carry at least one of them. Empty: any creator."),
    field("Minimum followers", minFollowers, "The creator must have at least this many followers; unknown counts as too few. Empty: any."),
    group("Media types", "Only posts showing these count; a post whose media type is unknown does not. None checked: any.", mediaTypes)),
  summary);
  const dlg = openDialog("New rule", form,
    { actions: [h("button", { type: "submit", form: formId, class: "primary" }, "Create rule")] });
  name.focus();
}
