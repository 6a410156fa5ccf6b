// DOM helpers. Elements are built with h() and svg(), never from HTML strings, so nothing a user
// typed (or a receiver answered) is ever run as markup.

function build(el, attrs, children) {
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

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, children);
}

let uid = 0;
export function nextId(prefix) { uid += 1; return prefix + uid; }

// The ids an element is described by: its error first (read before the hint), then its hint.
function describe(el) {
  const ids = [el.lcError && !el.lcError.hidden ? el.lcError.id : null, el.lcHint ? el.lcHint.id : null].filter(Boolean);
  if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
  else el.removeAttribute("aria-describedby");
}

// A labelled input with an optional hint, and a place for what is wrong with it.
export function field(label, input, hint) {
  const id = input.id || nextId("f");
  input.id = id;
  input.lcHint = hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null;
  input.lcError = h("p", { class: "error", id: id + "-error", hidden: true });
  describe(input);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, input.lcHint, input.lcError);
}

// A group of checkboxes (or other inputs) under a legend, with a hint and a place for an error.
export function group(legend, hint, ...children) {
  const id = nextId("g");
  const box = h("fieldset", { id });
  box.lcHint = hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null;
  box.lcError = h("p", { class: "error", id: id + "-error", hidden: true });
  box.append(h("legend", {}, legend), ...[box.lcHint, ...children.flat(), box.lcError].filter(Boolean));
  describe(box);
  return box;
}

export function check(label, attrs) {
  return h("label", { class: "inline" }, h("input", { type: "checkbox", ...attrs }), label);
}

export function checkedValues(labels) {
  return labels.map((l) => l.querySelector("input")).filter((x) => x.checked).map((x) => x.value);
}

// One way to say what is wrong with a form, whoever found it (the browser or the API): in red,
// next to the field it concerns, or above the form's buttons when it concerns no one field.
// `fields` maps an API error code to the field it names (or a function of the error that picks one).
export function formErrors(summary, fields = {}) {
  const shown = new Set();
  function hide(t) {
    t.lcError.hidden = true;
    t.lcError.textContent = "";
    t.removeAttribute("aria-invalid");
    describe(t);
    shown.delete(t);
  }
  function put(target, message) {
    const folded = target.closest("details");
    if (folded) folded.open = true;
    target.lcError.textContent = message;
    target.lcError.hidden = false;
    if (target.tagName !== "FIELDSET") target.setAttribute("aria-invalid", "true");
    describe(target);
    shown.add(target);
    // Said until the value changes.
    target.addEventListener("input", () => hide(target), { once: true });
  }
  return {
    clear() {
      for (const t of [...shown]) hide(t);
      summary.hidden = true;
      summary.textContent = "";
    },
    field(target, message) {
      put(target, message);
      (target.tagName === "FIELDSET" ? target.querySelector("input") : target).focus();
    },
    general(message) {
      summary.textContent = message;
      summary.hidden = false;
    },
    // What the browser finds wrong with the form's inputs, in the same style. True when nothing is.
    validate(form) {
      let first = null;
      for (const el of form.querySelectorAll("input, select, textarea")) {
        if (el.lcError && !el.checkValidity()) {
          put(el, el.validationMessage);
          first = first || el;
        }
      }
      if (first) first.focus();
      return !first;
    },
    show(e) {
      const code = e && e.code;
      let target = code ? fields[code] : null;
      if (typeof target === "function") target = target(e);
      if (target) this.field(target, e.message);
      else this.general(e.message || String(e));
    },
  };
}

// The paragraph a form's general errors go in; its role announces them.
export function errorSummary() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

export function when(ts) { return ts ? new Date(ts).toLocaleString() : "—"; }
export function statusClass(s) { return s === "succeeded" ? "status-ok" : s === "failed" ? "status-bad" : "status-wait"; }

// A modal dialog. `actions` go in its footer beside Close (a form's submit button names its form
// with the `form` attribute, so Save and Close sit side by side).
export function openDialog(title, body, { actions = [] } = {}) {
  const titleId = nextId("dlg-title");
  const dlg = h("dialog", { "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    h("div", { class: "dialog-body" }, body),
    h("div", { class: "row dialog-actions" }, ...actions,
      h("button", { type: "button", onclick: () => dlg.close() }, "Close")));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

export function copyButton(label, getText) {
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

// Runs `change`, which may replace elements, and gives the focus back to the element with the
// same `data-key` if it was lost on the way (a re-rendered row's button, say).
export function keepFocus(change) {
  const active = document.activeElement;
  const key = active && active.dataset ? active.dataset.key : null;
  change();
  if (key && document.activeElement !== active) {
    const again = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}
