// Rewards: the rules, and the dialog that creates one.

import { api, all } from "./api.js";
import { refresh, showError } from "./app.js";
import {
  h, field, group, check, checkedValues, formErrors, errorSummary, openDialog, nextId, when,
} from "./dom.js";

function describeRule(r, programs, zones) {
  const types = r.postTypes.length ? r.postTypes.join("/") : "any";
  const where = r.platforms ? " on " + r.platforms.join("/") : "";
  const win = r.windowDays ? ` within ${r.windowDays} days` : "";
  const times = r.fulfillmentLimit && r.repeatable ? `, at most ${r.fulfillmentLimit} times per creator` : "";
  const options = describeOptions(r, programs);
  if (r.schedule === "MONTHLY") {
    const zone = r.timeZone || (r.programId ? zones[r.programId] || "the program's time zone" : "UTC");
    const tiers = (r.tiers || []).map((t, i) => `tier ${i + 1}: ${t.count} post${t.count === 1 ? "" : "s"}`).join(", ");
    return `Monthly, ${types} posts${where} in a month (${zone}): ${tiers}; the highest tier reached is paid once a month`
      + (options.length ? "; " + options.join(", ") : "");
  }
  return `${r.count} ${types} post${r.count === 1 ? "" : "s"}${where}${win}${r.repeatable ? ", repeatable" : ", once per creator"}${times}`
    + (options.length ? "; " + options.join(", ") : "");
}

function describeOptions(r, programs) {
  return [
    r.programId ? `members of ${programs[r.programId] || r.programId}` : null,
    r.timeframeDays ? `within ${r.timeframeDays} days of approval` : null,
    r.bufferDays ? `posts ${r.bufferDays}+ days apart` : null,
    r.segments && r.segments.length ? `segments ${r.segments.join("/")}` : null,
    r.minFollowers !== null && r.minFollowers !== undefined ? `${r.minFollowers}+ followers` : null,
    r.mediaTypes && r.mediaTypes.length ? `${r.mediaTypes.join("/").toLowerCase()} posts only` : null,
  ].filter(Boolean);
}

// A monthly rule's reward is its tiers', one line each.
function describeRewards(r) {
  if (r.schedule !== "MONTHLY") return describeReward(r.reward);
  return h("ol", { class: "tiers" }, (r.tiers || []).map((t) => h("li", {}, describeReward(t.reward))));
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
  const zones = Object.fromEntries(programList.map((p) => [p.id, p.timeZone]));
  const rows = rules.map((r) => h("tr", {},
    h("td", { "data-label": "Rule" }, h("strong", {}, r.name), h("br"), describeRule(r, programs, zones)),
    h("td", { "data-label": "Reward" }, describeRewards(r)),
    h("td", { "data-label": "Sent to" }, r.integrationIds === null ? "Every active integration" : r.integrationIds.map((id) => names[id] || id).join(", ") || "No integration"),
    h("td", { "data-label": "Rewards granted" }, String(r.rewardsGranted)),
    h("td", { "data-label": "Status" }, r.active ? h("span", { class: "status-ok" }, "Active") : h("span", { class: "status-wait" }, "Inactive")),
    h("td", {}, h("div", { class: "row" }, h("button", {
      type: "button", "aria-label": (r.active ? "Deactivate " : "Activate ") + r.name, "data-key": "active-" + r.id,
      onclick: async () => { try { await api("PATCH", "/rules/" + r.id, { active: !r.active }); refresh(); } catch (e) { showError(e); } },
    }, r.active ? "Deactivate" : "Activate"),
    r.schedule === "MONTHLY" ? h("button", {
      type: "button", "aria-label": "Run month of " + r.name, "data-key": "run-" + r.id,
      onclick: () => runMonthDialog(r),
    }, "Run month…") : null))));
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

// A reward: Discount code (with its prefix) or No code. Returns the select, the prefix input and a
// function that reads them as the API's `reward`.
function rewardInputs(prefixValue) {
  const type = h("select", {}, h("option", { value: "DISCOUNT_CODE" }, "Discount code"), h("option", { value: "NONE" }, "No code"));
  const prefix = h("input", { maxlength: 20, value: prefixValue, pattern: "[A-Za-z0-9_\\-]{1,20}" });
  const read = () => (type.value === "NONE" ? { type: "NONE" } : { type: "DISCOUNT_CODE", codePrefix: prefix.value || null });
  return { type, prefix, read };
}

// The tiers of a monthly rule: each a post count and a reward, added and removed in place.
function tiersEditor() {
  const list = h("div", { class: "tier-list" });
  const tiers = [];
  const box = group("Tiers", "Each tier: the posts of the month it takes (more than the tier before) and its reward. A creator receives the highest tier reached, once a month.", list);
  function renumber() {
    tiers.forEach((t, i) => {
      t.legend.textContent = `Tier ${i + 1}`;
      t.countLabel.textContent = `Tier ${i + 1} posts`;
      t.rewardLabel.textContent = `Tier ${i + 1} reward`;
      t.prefixLabel.textContent = `Tier ${i + 1} code prefix`;
      t.remove.setAttribute("aria-label", `Remove tier ${i + 1}`);
      t.remove.disabled = tiers.length === 1;
    });
    addButton.disabled = tiers.length >= 10;
  }
  function add(countValue) {
    const count = h("input", { type: "number", min: 1, max: 10000, required: true, value: countValue });
    const reward = rewardInputs("LC-");
    const tier = { count, reward, legend: h("legend"), remove: null };
    tier.remove = h("button", {
      type: "button", class: "danger",
      onclick: () => { tiers.splice(tiers.indexOf(tier), 1); tier.el.remove(); renumber(); },
    }, "Remove");
    const countField = field("", count);
    const rewardField = field("", reward.type);
    const prefixField = field("", reward.prefix);
    tier.countLabel = countField.querySelector("label");
    tier.rewardLabel = rewardField.querySelector("label");
    tier.prefixLabel = prefixField.querySelector("label");
    tier.el = h("fieldset", { class: "tier" }, tier.legend, h("div", { class: "row fields" }, countField, rewardField, prefixField), tier.remove);
    tiers.push(tier);
    list.append(tier.el);
    renumber();
  }
  const addButton = h("button", {
    type: "button",
    onclick: () => { const last = tiers[tiers.length - 1]; add(last && last.count.value ? Number(last.count.value) + 1 : 1); tiers[tiers.length - 1].count.focus(); },
  }, "Add tier");
  box.insertBefore(h("div", { class: "row" }, addButton), box.lcError);
  add(2);
  add(4);
  return {
    box,
    read: () => tiers.map((t) => ({ count: Number(t.count.value), reward: t.reward.read() })),
    inputs: () => tiers.flatMap((t) => [t.count, t.reward.type, t.reward.prefix]),
  };
}

function ruleForm(integrations, programs) {
  const name = h("input", { required: true, maxlength: 200, value: "2 Story posts" });
  const schedule = h("select", {}, h("option", { value: "INSTANT" }, "Instant: as soon as the posts are made"),
    h("option", { value: "MONTHLY" }, "Monthly: after each month, the highest tier reached"));
  const types = ["FEED", "STORY", "REEL"].map((t) => check(t, { name: "postType", value: t, checked: t === "STORY" }));
  const platforms = [["INSTAGRAM", "Instagram"], ["TIKTOK", "TikTok"]].map(([v, l]) => check(l, { name: "platform", value: v }));
  const count = h("input", { type: "number", min: 1, max: 10000, required: true, value: 2 });
  const windowDays = h("input", { type: "number", min: 1, max: 3650 });
  const repeatable = check("Repeatable (every further set of posts earns again)", {});
  const reward = rewardInputs("LC-");
  const rewardType = reward.type;
  const prefix = reward.prefix;
  const tiers = tiersEditor();
  const timeZone = h("input", { autocomplete: "off", spellcheck: "false", placeholder: "e.g. America/New_York" });
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
    invalid_tiers: tiers.box, invalid_time_zone: timeZone, invalid_schedule: schedule,
  });
  // What only an instant rule has, and what only a monthly one has: the other's are hidden and
  // disabled, so the browser does not check them and they are not sent.
  const fulfillmentField = field("Fulfillment Limit", fulfillmentLimit, "The most times one creator can receive this reward (repeatable rules; a rule that is not repeatable is received once). Empty: no limit.");
  const instantOnly = h("div", {},
    field("Count", count, "How many posts earn the reward."),
    field("Window (days)", windowDays, "The counted posts must fall within this many days. Empty: no window."),
    repeatable,
    field("Reward", rewardType),
    field("Code prefix", prefix, "Letters, digits, - or _: each code is the prefix and 8 characters, e.g. LC-7KQ2M9XA."));
  const monthlyOnly = h("div", {},
    tiers.box,
    field("Time zone", timeZone, "The months are counted in this IANA zone, e.g. Europe/Paris. Empty: the program's time zone, else UTC. A month is paid at 00:00 on the first business day (Monday to Friday) after it ends, or by hand with Run month…"));
  function showSchedule() {
    const monthly = schedule.value === "MONTHLY";
    instantOnly.hidden = monthly;
    monthlyOnly.hidden = !monthly;
    fulfillmentField.hidden = monthly;
    const instantInputs = [count, windowDays, repeatable.querySelector("input"), rewardType, prefix, fulfillmentLimit];
    for (const el of instantInputs) el.disabled = monthly;
    for (const el of [...tiers.inputs(), timeZone]) el.disabled = !monthly;
  }
  schedule.addEventListener("change", showSchedule);
  const formId = nextId("form");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      showSchedule();
      if (!errors.validate(form)) return;
      const monthly = schedule.value === "MONTHLY";
      const plats = checkedValues(platforms);
      const tgt = checkedValues(targets);
      const body = {
        name: name.value, postTypes: checkedValues(types), platforms: plats.length ? plats : null,
        integrationIds: tgt.length ? tgt : null,
        programId: program.value || null, bufferDays: bufferDays.value ? Number(bufferDays.value) : null,
        timeframeDays: numberOrNull(timeframeDays),
        segments: segments.value.split(",").map((x) => x.trim()).filter(Boolean), minFollowers: numberOrNull(minFollowers),
        mediaTypes: checkedValues(mediaTypes),
      };
      if (monthly) {
        Object.assign(body, { schedule: "MONTHLY", tiers: tiers.read(), timeZone: timeZone.value.trim() || null });
      } else {
        Object.assign(body, {
          count: Number(count.value), windowDays: windowDays.value ? Number(windowDays.value) : null,
          repeatable: repeatable.querySelector("input").checked, reward: reward.read(),
          fulfillmentLimit: numberOrNull(fulfillmentLimit),
        });
      }
      try { await api("POST", "/rules", body); dlg.close(); refresh(); } catch (e) { errors.show(e); }
    },
  },
  field("Name", name),
  field("Schedule", schedule, "Instant rewards are sent when a creator reaches the count. Monthly rewards are counted per calendar month, in tiers, and sent after the month ends."),
  group("Post types", "None checked counts any type.", types),
  platformBox,
  instantOnly,
  monthlyOnly,
  targetBox,
  h("fieldset", {}, h("legend", {}, "LoudCrowd's options"),
    h("p", { class: "hint" }, "Each left empty: the rule counts as it would without it."),
    field("Program", program, "Only posts by approved members of this program, posted after their approval, count."),
    field("Buffer Limit", bufferDays, "How far apart posts must be to count: a post counts only this long after the previous one that counted."),
    fulfillmentField,
    field("Timeframe (days)", timeframeDays, "A deadline from when the creator was approved into the program: later posts do not count. Needs a program."),
    field("Segments", segments, "Comma-separated: the creator must carry at least one of them. Empty: any creator."),
    field("Minimum followers", minFollowers, "The creator must have at least this many followers; unknown counts as too few. Empty: any."),
    group("Media types", "Only posts showing these count; a post whose media type is unknown does not. None checked: any.", mediaTypes)),
  summary);
  showSchedule();
  const dlg = openDialog("New rule", form,
    { actions: [h("button", { type: "submit", form: formId, class: "primary" }, "Create rule")] });
  name.focus();
}

// The month before this one, `YYYY-MM`, by the browser's calendar.
function lastMonth() {
  const now = new Date();
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

// "Run month…": LoudCrowd's end-of-month fulfillment by hand, and the months run so far.
function runMonthDialog(rule) {
  const month = h("input", { type: "month", required: true, value: lastMonth(), pattern: "[0-9]{4}-[0-9]{2}", placeholder: "YYYY-MM" });
  const result = h("p", { role: "status" });
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_month: month, month_not_ended: month });
  const runs = h("div", {});
  async function listRuns() {
    try {
      const page = await api("GET", `/rules/${rule.id}/runs`);
      runs.replaceChildren(page.items.length
        ? h("table", {}, h("caption", {}, "Months run"),
          h("thead", {}, h("tr", {}, ["Month", "Fulfillments", "Started by", "Run at"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, page.items.map((r) => h("tr", {},
            h("td", { "data-label": "Month" }, r.month),
            h("td", { "data-label": "Fulfillments" }, String(r.fulfillments)),
            h("td", { "data-label": "Started by" }, r.startedBy === "HAND" ? "By hand" : "Schedule"),
            h("td", { "data-label": "Run at" }, when(r.runAt))))))
        : h("p", {}, "No month run yet."));
    } catch (e) { runs.replaceChildren(h("p", { class: "error" }, e.message)); }
  }
  const formId = nextId("form");
  const form = h("form", {
    id: formId, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      result.textContent = "";
      if (!errors.validate(form)) return;
      try {
        const run = await api("POST", `/rules/${rule.id}/runs`, { month: month.value });
        result.textContent = `${run.month}: ${run.fulfillments} fulfillment${run.fulfillments === 1 ? "" : "s"}`
          + (run.fulfillments === 0 ? " (nothing new: each creator is paid once a month)." : ", their webhooks are on their way.");
        await listRuns();
        refresh();
      } catch (e) { errors.show(e); }
    },
  },
  h("p", { class: "hint" }, "Pays the month now, as LoudCrowd's end-of-month fulfillment: every creator whose posts of that month reach a tier receives the highest tier reached. A month is paid once: running it again pays only what is missing. The schedule pays each month on its own at 00:00 on the first business day after it ends."),
  field("Month", month, "A month that has ended, YYYY-MM."),
  summary,
  result,
  runs);
  openDialog(`Run month: ${rule.name}`, form,
    { actions: [h("button", { type: "submit", form: formId, class: "primary" }, "Run month")] });
  listRuns();
  month.focus();
}
