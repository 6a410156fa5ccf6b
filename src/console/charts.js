// Charts drawn as inline SVG from the stats endpoints' JSON: stacked bars of attempts by
// outcome, one per hour or minute. Each chart says its numbers in words beside it, and has a
// table of every bucket, so nothing is only in the picture.

import { h, svg } from "./dom.js";

const OUTCOMES = [["succeeded", "bar-ok"], ["retried", "bar-retry"], ["failed", "bar-bad"]];

export function total(c) { return c.succeeded + c.retried + c.failed; }

export function countsText(c) { return `${c.succeeded} succeeded, ${c.retried} retried, ${c.failed} failed`; }

export function ms(v) {
  if (v === null || v === undefined) return "—";
  return v >= 10000 ? Math.round(v / 1000) + " s" : v >= 1000 ? (v / 1000).toFixed(1) + " s" : v + " ms";
}

export function latencyText(l) {
  return l.attempts ? `p50 ${ms(l.p50Ms)}, p95 ${ms(l.p95Ms)}` : "no attempts";
}

function clock(ts, withSeconds) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: withSeconds ? "2-digit" : undefined });
}

function span(b, seconds) {
  const end = new Date(new Date(b.start).getTime() + seconds * 1000);
  return `${clock(b.start)}–${clock(end)}`;
}

// The bars, stretched to the width of their box; a bucket's numbers show on hover.
function bars(stats) {
  const { buckets, bucketSeconds } = stats;
  const peak = Math.max(1, ...buckets.map(total));
  const width = buckets.length * 10;
  const height = 100;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "bars",
    "aria-hidden": "true", focusable: "false",
  }, svg("rect", { x: 0, y: height - 1, width, height: 1, class: "baseline" }));
  buckets.forEach((b, i) => {
    const bar = svg("g", {}, svg("title", {}, `${span(b, bucketSeconds)}: ${countsText(b)}`));
    let y = height - 1;
    for (const [key, cls] of OUTCOMES) {
      if (!b[key]) continue;
      // At least 3 units, so a single attempt beside a hundred still shows.
      const tall = Math.max(3, (b[key] / peak) * (height - 6));
      y -= tall;
      bar.append(svg("rect", { x: i * 10 + 1, y, width: 8, height: tall, class: cls }));
    }
    chart.append(bar);
  });
  return chart;
}

function legend() {
  return h("p", { class: "legend", "aria-hidden": "true" },
    OUTCOMES.map(([key, cls]) => h("span", {}, h("span", { class: "swatch " + cls }), key)));
}

// `unit`: "hour" or "minute"; `extra`: a sentence after the counts (latency).
function chart(stats, unit, extra, size) {
  const n = stats.buckets.length;
  const peak = Math.max(0, ...stats.buckets.map(total));
  const period = `the last ${n} ${unit}${n === 1 ? "" : "s"}`;
  const said = total(stats.totals)
    ? `In ${period}: ${countsText(stats.totals)}.${extra ? " " + extra : ""}`
    : `No attempts in ${period}.`;
  return h("figure", { class: "chart " + size, "data-peak": peak, "data-total": total(stats.totals) },
    h("figcaption", {}, said),
    h("div", { class: "plot" },
      h("span", { class: "peak", "aria-hidden": "true" }, peak ? `${peak} per ${unit}` : ""),
      bars(stats)),
    h("p", { class: "axis", "aria-hidden": "true" },
      h("span", {}, unit === "hour" ? `${n} h ago` : `${n} min ago`), h("span", {}, "now")),
    legend());
}

export function hourlyChart(stats, size = "small") {
  const latency = stats.latency.attempts ? `Latency ${latencyText(stats.latency)}.` : "";
  return chart(stats, "hour", latency, size);
}

export function minuteChart(stats) {
  return chart(stats, "minute", "", "wide");
}

function numbers(caption, head, rows) {
  return h("details", { class: "numbers" },
    h("summary", {}, caption),
    rows.length
      ? h("table", {}, h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p", {}, "No attempts."));
}

export function hourTable(stats) {
  const rows = stats.buckets.filter((b) => total(b)).map((b) => h("tr", {},
    h("th", { scope: "row", "data-label": "Hour" }, span(b, stats.bucketSeconds)),
    h("td", { "data-label": "Succeeded" }, String(b.succeeded)),
    h("td", { "data-label": "Retried" }, String(b.retried)),
    h("td", { "data-label": "Failed" }, String(b.failed)),
    h("td", { "data-label": "p50" }, ms(b.latency.p50Ms)),
    h("td", { "data-label": "p95" }, ms(b.latency.p95Ms))));
  return numbers("Numbers per hour (hours with attempts)", ["Hour", "Succeeded", "Retried", "Failed", "p50", "p95"], rows);
}

export function minuteTable(stats) {
  const rows = stats.buckets.filter((b) => total(b)).map((b) => h("tr", {},
    h("th", { scope: "row", "data-label": "Minute" }, clock(b.start)),
    h("td", { "data-label": "Succeeded" }, String(b.succeeded)),
    h("td", { "data-label": "Retried" }, String(b.retried)),
    h("td", { "data-label": "Failed" }, String(b.failed))));
  return numbers("Numbers per minute (minutes with attempts)", ["Minute", "Succeeded", "Retried", "Failed"], rows);
}
