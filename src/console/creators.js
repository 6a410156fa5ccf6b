// Creators: add one, and simulate their posts to see the rewards they earn.

import { api, all } from "./api.js";
import { refresh } from "./app.js";
import { h, field, formErrors, errorSummary, when } from "./dom.js";
import { eventLabel } from "./events.js";

export async function creatorsPage() {
  const creators = await all("/creators");
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const ig = h("input", { autocomplete: "off" });
  const tt = h("input", { autocomplete: "off" });
  const summary = errorSummary();
  const errors = formErrors(summary, {
    invalid_email: email, email_taken: email,
    invalid_username: (e) => (/ttUsername/.test(e.message) ? tt : ig),
  });
  const add = h("form", {
    "aria-labelledby": "add-creator", novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      if (!errors.validate(add)) return;
      try {
        await api("POST", "/creators", { email: email.value, igUsername: ig.value || null, ttUsername: tt.value || null });
        refresh();
      } catch (e) { errors.show(e); }
    },
  }, h("h2", { id: "add-creator" }, "Add a creator"), field("Email", email), field("Instagram username", ig), field("TikTok username", tt), summary,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary", "data-key": "add-creator" }, "Add creator")));
  const sections = await Promise.all(creators.slice().reverse().map(creatorSection));
  return [
    h("h1", {}, "Creators"),
    h("div", { class: "card" }, add),
    sections.length
      ? h("div", {}, sections)
      : h("p", { class: "empty" }, "No creators yet. Add one above, then simulate their posts to see the rewards they earn."),
  ];
}

async function creatorSection(c) {
  const section = h("section", { class: "card", "aria-labelledby": "cr-" + c.id });
  const type = h("select", {}, ["STORY", "FEED", "REEL"].map((t) => h("option", { value: t }, t)));
  const platform = h("select", {}, h("option", { value: "INSTAGRAM" }, "Instagram"), h("option", { value: "TIKTOK" }, "TikTok"));
  const at = h("input", { type: "datetime-local", step: 1 });
  const externalId = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
  const mediaType = h("select", {}, h("option", { value: "" }, "Unknown"), h("option", { value: "IMAGE" }, "Image"), h("option", { value: "VIDEO" }, "Video"));
  const done = h("p", { role: "status" });
  const summary = errorSummary();
  const errors = formErrors(summary, { invalid_posted_at: at, invalid_external_id: externalId });
  const posts = h("div", {});
  const rewards = h("div", {});
  const events = h("div", {});
  let simulated = 0;
  let stored = new Set();
  const describePost = (p) => `${p.postType}${p.mediaType ? " (" + p.mediaType.toLowerCase() + ")" : ""} on ${p.platform}, posted ${when(p.postedAt)}`
    + (p.externalId ? ` · platform id ${p.externalId}` : "");
  async function load() {
    const [m, f, e] = await Promise.all([
      all("/media?creatorId=" + c.id), all("/fulfillments?creatorId=" + c.id), all("/events?creatorId=" + c.id),
    ]);
    events.replaceChildren(e.length
      ? h("ul", { "aria-label": "Events of " + c.email }, e.slice().reverse().map((x) => h("li", {},
        h("strong", {}, eventLabel(x.type)), ` (${x.type}) · ${when(x.createdAt)}`)))
      : h("p", {}, "No events yet."));
    stored = new Set(m.map((p) => p.id));
    posts.replaceChildren(m.length ? h("ul", {}, m.map((p) => h("li", {}, describePost(p)))) : h("p", {}, "No posts yet."));
    rewards.replaceChildren(f.length
      ? h("ul", {}, f.map((x) => h("li", {}, "Code ", h("strong", {}, x.discountCode || "(no code)"), ` earned ${when(x.createdAt)} · `,
        h("a", { href: "#/log?fulfillment=" + x.id }, "its deliveries"))))
      : h("p", {}, "No rewards yet."));
  }
  const form = h("form", {
    "aria-label": "Simulate a post by " + c.email, novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      errors.clear();
      done.textContent = "";
      if (!errors.validate(form)) return;
      const body = { creatorId: c.id, postType: type.value, platform: platform.value };
      if (at.value) body.postedAt = new Date(at.value).toISOString();
      if (externalId.value) body.externalId = externalId.value;
      if (mediaType.value) body.mediaType = mediaType.value;
      try {
        const post = await api("POST", "/media", body);
        if (stored.has(post.id)) {
          done.textContent = "Already stored: a post with this platform id was sent before, and it was not counted again.";
        } else {
          simulated += 1;
          done.textContent = `Post ${simulated} stored and evaluated.`;
        }
        await load();
      } catch (e) { errors.show(e); }
    },
  }, h("div", { class: "row fields" }, field("Post type", type), field("Platform", platform), field("Posted at", at, "Empty: now (your local time)."),
    field("Platform post id", externalId, "Optional. The same id on the same platform is one post: sending it again counts nothing."),
    field("Media type", mediaType)),
  summary,
  h("div", { class: "row" }, h("button", { type: "submit", "data-key": "simulate-" + c.id }, "Simulate post")), done);
  section.append(
    h("h2", { id: "cr-" + c.id }, c.email),
    h("p", {}, `Instagram: ${c.igUsername || "—"} · TikTok: ${c.ttUsername || "—"}`),
    form, h("h3", {}, "Rewards"), rewards, h("h3", {}, "Events"), events, h("h3", {}, "Posts"), posts);
  await load();
  return section;
}
