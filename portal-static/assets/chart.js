// A small hand-drawn SVG bar chart (no chart library): vertical bars over time buckets, or horizontal bars per
// name. Each chart comes with the same numbers as a table for screen readers and for copying.

import { h, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...(SVGElement | string)} children
 * @returns {SVGElement}
 */
function s(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/**
 * A point; `note` is added to its label in the table and tooltip, `muted` draws it lighter (a forecast).
 * @typedef {{label: string, value: number, note?: string, muted?: boolean}} Point
 * @param {{title: string, points: Point[], format: (n: number) => string, horizontal?: boolean, empty?: string}} spec
 */
export function barChart({ title, points, format, horizontal = false, empty = "Nothing to show yet." }) {
  const figure = h("figure", { class: "chart" }, h("figcaption", {}, title));
  if (points.length === 0 || points.every((p) => p.value === 0)) {
    figure.append(h("p", { class: "empty" }, empty));
    return figure;
  }
  const max = Math.max(...points.map((p) => p.value), 0) || 1;
  const summary = `${title}: ${points.map((p) => `${named(p)} ${format(p.value)}`).join(", ")}`;
  const drawing = horizontal ? horizontalBars(points, max, format) : verticalBars(points, max, format);
  drawing.setAttribute("role", "img");
  drawing.setAttribute("aria-label", summary.length > 300 ? `${title} (the table below has every value)` : summary);
  if (!horizontal) figure.classList.add("wide");
  figure.append(
    drawing,
    h("details", { class: "chart-table" },
      h("summary", {}, "Show as a table"),
      table({
        caption: title,
        columns: [horizontal ? "Name" : "When", "Value"],
        rows: points,
        row: (p) => [named(p), format(p.value)],
        empty: "",
      }),
    ),
  );
  return figure;
}

/**
 * @param {Point[]} points
 * @param {number} max
 * @param {(n: number) => string} format
 */
function verticalBars(points, max, format) {
  const width = 900;
  const height = 220;
  const pad = { top: 20, bottom: 28, left: 8, right: 8 };
  const plotH = height - pad.top - pad.bottom;
  const slot = (width - pad.left - pad.right) / points.length;
  const barW = Math.max(1, Math.min(40, slot * 0.75));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "bars" });
  svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: "axis" }));
  const labelEvery = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    const barH = (p.value / max) * plotH;
    const x = pad.left + i * slot + (slot - barW) / 2;
    const y = pad.top + plotH - barH;
    svg.append(s("rect", { x, y, width: barW, height: Math.max(barH, p.value > 0 ? 1 : 0), class: p.muted ? "bar muted" : "bar" },
      s("title", {}, `${named(p)}: ${format(p.value)}`)));
    if (i % labelEvery === 0) {
      svg.append(s("text", { x: x + barW / 2, y: height - 10, class: "tick", "text-anchor": "middle" }, shortLabel(p.label)));
    }
  });
  svg.append(s("text", { x: pad.left, y: 14, class: "tick" }, `highest: ${format(max)}`));
  return svg;
}

/**
 * One row per name: the name, a bar (a native `<progress>`, so no inline style is needed) and the value.
 * @param {Point[]} points
 * @param {number} max
 * @param {(n: number) => string} format
 */
function horizontalBars(points, max, format) {
  return h("div", { class: "hbars" },
    points.map((p) => h("div", { class: "hbar" },
      h("span", { class: "hbar-label", title: named(p) }, named(p)),
      h("progress", { max, value: p.value, "aria-hidden": "true" }),
      h("span", { class: "hbar-value" }, format(p.value)),
    )),
  );
}

/** @param {Point} p */
function named(p) {
  return p.note ? `${p.label} (${p.note})` : p.label;
}

/** `2026-11-22T09:00:00Z` → `11-22 09h`, `2026-11-22` → `11-22`. @param {string} label */
function shortLabel(label) {
  const hour = /^\d{4}-(\d{2}-\d{2})T(\d{2})/.exec(label);
  if (hour) return `${hour[1]} ${hour[2]}h`;
  const dayMatch = /^\d{4}-(\d{2}-\d{2})$/.exec(label);
  return dayMatch ? dayMatch[1] : truncate(label, 10);
}

/** @param {string} text @param {number} n */
function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
