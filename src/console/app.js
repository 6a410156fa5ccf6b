// What every page shares with the router: the alert for failed actions, re-rendering the page
// after a change, and work to stop when the user leaves the page.

const alertBox = document.getElementById("alert");
let leaving = [];

export function showError(e) {
  if (e && e.status === 401) return;
  alertBox.hidden = false;
  alertBox.textContent = (e && e.message) || String(e);
}

export function clearError() { alertBox.hidden = true; alertBox.textContent = ""; }

// Renders the current page again, keeping the scroll position and the focus.
export function refresh() { window.dispatchEvent(new Event("lc-refresh")); }

export function onLeave(fn) { leaving.push(fn); }

export function leave() {
  for (const fn of leaving) fn();
  leaving = [];
}
