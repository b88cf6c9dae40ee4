// Org analytics (admin), CCAG's tabs: spend, activity, models, tools; and the requests gateway policies refused.
// Filters (period, granularity, team,
// person, model) live in the URL (`#/admin/analytics?tab=spend&days=7&team=web`), so a view can be shared and
// the back button works. CSV: the usage ledger with the same filters.

import { api, download } from "../api.js";
import { barChart } from "../chart.js";
import { errorBox, field, h, loading, pageTitle, replace, run, select, table } from "../dom.js";
import { int, pct, usd, when } from "../format.js";

const TABS = /** @type {const} */ (["spend", "activity", "models", "tools", "refusals"]);
/** The org view each tab reads. */
const VIEWS = { spend: "spend", activity: "activity", models: "models", tools: "tools", refusals: "policy-refusals" };
/** @typedef {typeof TABS[number]} Tab */
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** @param {import("../app.js").PageContext} ctx */
export default async function analytics({ main, query, go }) {
  /** @type {Tab} */
  const tab = /** @type {Tab} */ (TABS.find((t) => t === query.get("tab")) ?? "spend");
  const params = new URLSearchParams();
  params.set("days", query.get("days") || "7");
  params.set("granularity", query.get("granularity") || "auto");
  for (const k of ["team", "user", "model"]) {
    const v = query.get(k);
    if (v) params.set(k, v);
  }

  const overviewSlot = h("div", {}, loading());
  const panel = h("div", { role: "tabpanel", id: "analytics-panel", "aria-labelledby": `tab-${tab}`, tabindex: 0 }, loading());
  const filtersSlot = h("div");
  main.append(
    pageTitle("Analytics"),
    h("p", { class: "lead" }, "Usage of the whole organisation, from Sluice's hourly and daily rollups. Times are UTC."),
    filtersSlot,
    overviewSlot,
    tabList(tab, (t) => go(hashFor(t, params))),
    panel,
  );

  /** @type {any} */
  let overview;
  try {
    overview = await api.get(`/admin/analytics/org/overview?${params}`);
  } catch (err) {
    replace(overviewSlot, errorBox(err));
    replace(panel);
    return;
  }
  replace(filtersSlot, filters(params, overview.filters ?? {}, (p) => go(hashFor(tab, p))));
  replace(overviewSlot, numbers(overview.overview ?? {}), unapplied(overview.unapplied_filters));

  try {
    const data = await api.get(`/admin/analytics/org/${VIEWS[tab]}?${params}`);
    const render = { spend: spendView, activity: activityView, models: modelsView, tools: toolsView, refusals: refusalsView }[tab];
    replace(panel, ...render(data), unapplied(data.unapplied_filters));
  } catch (err) {
    replace(panel, errorBox(err));
  }
}

/** @param {Tab} tab @param {URLSearchParams} params */
function hashFor(tab, params) {
  const p = new URLSearchParams(params);
  p.set("tab", tab);
  return `#/admin/analytics?${p}`;
}

/**
 * ARIA tabs: arrow keys move between them, Enter/Space or click opens one.
 * @param {Tab} current
 * @param {(t: Tab) => void} open
 */
function tabList(current, open) {
  const buttons = TABS.map((t) =>
    h("button", {
      type: "button",
      role: "tab",
      id: `tab-${t}`,
      "aria-selected": t === current ? "true" : "false",
      "aria-controls": "analytics-panel",
      tabindex: t === current ? 0 : -1,
      onclick: () => open(t),
    }, t[0].toUpperCase() + t.slice(1)),
  );
  const list = h("div", { role: "tablist", "aria-label": "Analytics views" }, buttons);
  list.addEventListener("keydown", (ev) => {
    const i = buttons.findIndex((b) => b === document.activeElement);
    if (i < 0) return;
    let next = -1;
    if (ev.key === "ArrowRight") next = (i + 1) % buttons.length;
    else if (ev.key === "ArrowLeft") next = (i - 1 + buttons.length) % buttons.length;
    else if (ev.key === "Home") next = 0;
    else if (ev.key === "End") next = buttons.length - 1;
    if (next >= 0) {
      ev.preventDefault();
      buttons[i].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    }
  });
  return list;
}

/**
 * @param {URLSearchParams} params
 * @param {{teams?: string[], users?: string[], models?: string[]}} options
 * @param {(p: URLSearchParams) => void} apply
 */
function filters(params, options, apply) {
  /** @param {string[] | undefined} values @param {string} all */
  const choices = (values, all) => [["", all], ...(values ?? []).map((v) => /** @type {[string, string]} */ ([v, v === "__none__" ? "(no team)" : v]))];
  const days = select({ name: "days", id: "an-days" }, [["1", "Last day"], ["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"]], params.get("days") ?? "7");
  const granularity = select({ name: "granularity", id: "an-granularity" }, [["auto", "auto"], ["hour", "hour"], ["day", "day"]], params.get("granularity") ?? "auto");
  const team = select({ name: "team", id: "an-team" }, /** @type {[string, string][]} */ (choices(options.teams, "All teams")), params.get("team") ?? "");
  const user = select({ name: "user", id: "an-user" }, /** @type {[string, string][]} */ (choices(options.users, "Everyone")), params.get("user") ?? "");
  const model = select({ name: "model", id: "an-model" }, /** @type {[string, string][]} */ (choices(options.models, "All models")), params.get("model") ?? "");
  const form = h("form", { class: "inline-form", "aria-label": "Filters" },
    field("Period", days), field("Granularity", granularity), field("Team", team), field("Person", user), field("Model", model),
    h("button", { type: "submit", id: "an-apply" }, "Apply"),
    h("button", { type: "button", class: "secondary", id: "an-csv" }, "Download CSV"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const el of [days, granularity, team, user, model]) if (el.value) p.set(el.name, el.value);
    apply(p);
  });
  const csv = /** @type {HTMLButtonElement} */ (form.querySelector("#an-csv"));
  csv.addEventListener("click", () => void run(csv, async () => {
    const p = new URLSearchParams();
    p.set("days", days.value);
    for (const el of [team, user, model]) if (el.value) p.set(el.name, el.value);
    const name = await download(`/admin/analytics/org/export?${p}`, `sluice-org-spend-${days.value}d.csv`);
    return `Downloaded ${name}`;
  }));
  return form;
}

/** @param {any} o */
function numbers(o) {
  /** @param {string} label @param {string} value @param {string} [note] */
  const n = (label, value, note) => h("div", { class: "number" }, h("span", { class: "value" }, value), h("span", { class: "label" }, label),
    note ? h("span", { class: "hint" }, ` ${note}`) : null);
  return h("div", { class: "numbers", id: "an-numbers" },
    n("Requests", int(o.requests), `(before: ${int(o.prior_requests)})`),
    n("Cost", usd(o.cost_usd), `(before: ${usd(o.prior_cost_usd)})`),
    n("People", int(o.unique_users), `(before: ${int(o.prior_unique_users)})`),
    n("Tokens in / out", `${int(o.input_tokens)} / ${int(o.output_tokens)}`),
    n("Cache hit rate", pct(o.cache_hit_rate), `saved ${usd(o.cache_savings_usd)}`),
    n("Average duration", `${int(Math.round(o.avg_duration_ms ?? 0))} ms`),
    o.unpriced_requests ? n("Unpriced requests", int(o.unpriced_requests)) : null,
  );
}

/** @param {string[] | undefined} list */
function unapplied(list) {
  if (!list || list.length === 0) return null;
  return h("p", { class: "hint" }, `Not applied: ${list.join("; ")}`);
}

/** Sums a series by bucket. @param {{bucket: string, cost_usd: number}[]} points */
function byBucket(points) {
  /** @type {Map<string, number>} */
  const sums = new Map();
  for (const p of points) sums.set(p.bucket, (sums.get(p.bucket) ?? 0) + p.cost_usd);
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, value]) => ({ label, value }));
}

/** @param {any} d */
function spendView(d) {
  return [
    h("div", { class: "charts" },
      barChart({ title: "Cost over time", points: byBucket(d.timeseries ?? []), format: usd, empty: "No spend in this period." }),
      barChart({ title: "Cost by team", horizontal: true, points: (d.by_team ?? []).map((/** @type {any} */ t) => ({ label: t.team_name === "__none__" ? "(no team)" : t.team_name, value: t.cost_usd })), format: usd }),
      barChart({ title: "Cost by model", horizontal: true, points: (d.by_model ?? []).map((/** @type {any} */ m) => ({ label: m.model, value: m.cost_usd })), format: usd }),
      barChart({ title: "Daily cost and forecast (lighter bars)", points: (d.forecast ?? []).map((/** @type {any} */ f) => ({ label: f.day, value: f.cost_usd, note: f.is_forecast ? "forecast" : undefined, muted: f.is_forecast })), format: usd }),
    ),
    h("h3", {}, "By person"),
    table({
      caption: "Spend by person",
      columns: ["Person", "Team", "Cost", "Requests", "Tokens", "Last active"],
      rows: d.by_user ?? [],
      empty: "Nobody used Sluice in this period.",
      row: (/** @type {any} */ u) => [u.user_identity, u.team_name ?? "—", usd(u.cost_usd), int(u.request_count), int(u.total_tokens), when(u.last_active)],
    }),
    h("h3", {}, "Team budgets"),
    table({
      caption: "Team budgets this period",
      columns: ["Team", "Budget", "Spent", "Period"],
      rows: d.budget_status ?? [],
      empty: "No team has a budget.",
      row: (/** @type {any} */ b) => [b.team_name, usd(b.budget_usd), usd(b.spent_usd), b.period],
    }),
  ];
}

/** @param {any} d */
function activityView(d) {
  /** @type {any[]} */
  const active = d.active_users ?? [];
  /** @type {any[]} */
  const heat = d.heatmap ?? [];
  return [
    h("div", { class: "charts" },
      barChart({ title: "New people", points: active.map((a) => ({ label: a.bucket, value: a.new_users })), format: int }),
      barChart({ title: "Returning people", points: active.map((a) => ({ label: a.bucket, value: a.returning_users })), format: int }),
    ),
    h("h3", {}, "When people work (requests by weekday and UTC hour)"),
    table({
      caption: "Busiest hours",
      columns: ["Weekday", "Hour (UTC)", "Requests"],
      rows: [...heat].sort((a, b) => b.request_count - a.request_count).slice(0, 24),
      empty: "No requests in this period.",
      row: (c) => [WEEKDAYS[c.day_of_week] ?? String(c.day_of_week), `${String(c.hour).padStart(2, "0")}:00`, int(c.request_count)],
    }),
  ];
}

/** @param {any} d */
function modelsView(d) {
  return [
    h("div", { class: "charts" },
      barChart({ title: "Requests by model", horizontal: true, points: (d.model_mix ?? []).map((/** @type {any} */ m) => ({ label: m.model, value: m.request_count })), format: int }),
      barChart({ title: "Cache hit rate over time", points: (d.cache_rate ?? []).map((/** @type {any} */ c) => ({ label: c.bucket, value: c.cache_hit_rate })), format: pct }),
    ),
    h("h3", {}, "Latency"),
    table({
      caption: "Request duration percentiles (upper bound of the bucket, ms)",
      columns: ["Model", "p50", "p95", "p99"],
      rows: d.latency ?? [],
      empty: "No requests in this period.",
      row: (/** @type {any} */ l) => [l.model, l.p50 === null ? "> 300 000" : int(l.p50), l.p95 === null ? "> 300 000" : int(l.p95), l.p99 === null ? "> 300 000" : int(l.p99)],
    }),
    h("h3", {}, "Tokens"),
    table({
      caption: "Tokens by model",
      columns: ["Model", "Input", "Output", "Cache read", "Cache write"],
      rows: d.token_breakdown ?? [],
      empty: "No requests in this period.",
      row: (/** @type {any} */ t) => [t.model, int(t.input_tokens), int(t.output_tokens), int(t.cache_read_tokens), int(t.cache_write_tokens)],
    }),
  ];
}

/** @param {any} d */
function toolsView(d) {
  const t = d.totals ?? {};
  return [
    h("dl", { class: "facts" },
      h("dt", {}, "Tool calls"), h("dd", {}, int(t.total_tool_calls)),
      h("dt", {}, "Web searches"), h("dd", {}, int(t.web_search_count)),
      h("dt", {}, "MCP tool calls"), h("dd", {}, int(t.mcp_tool_count)),
      h("dt", {}, "MCP servers"), h("dd", {}, int(t.unique_mcp_servers)),
    ),
    barChart({ title: "Top tools", horizontal: true, points: (d.top_tools ?? []).slice(0, 15).map((/** @type {any} */ x) => ({ label: x.tool_name, value: x.usage_count })), format: int, empty: "No tool calls in this period." }),
    h("h3", {}, "MCP servers"),
    table({
      caption: "MCP servers",
      columns: ["Server", "Tools", "Calls", "People"],
      rows: d.mcp_servers ?? [],
      empty: "No MCP server was used in this period.",
      row: (/** @type {any} */ m) => [m.server_name, int(m.unique_tools), int(m.usage_count), int(m.unique_users)],
    }),
  ];
}

/** Requests gateway policies refused, by policy and by person. @param {any} d */
function refusalsView(d) {
  return [
    h("p", {}, "Requests refused by a gateway policy (a model or the 1M context not allowed, a denied tool forced with ",
      h("code", {}, "tool_choice"), "). They cost nothing and are not counted as requests. Policies: ",
      h("a", { href: "#/admin/policies" }, "Policies"), "."),
    h("dl", { class: "facts" }, h("dt", {}, "Refusals"), h("dd", { id: "refusals-total" }, int(d.total))),
    table({
      caption: "Refusals by policy",
      columns: ["Policy", "Refusals"],
      rows: d.by_policy ?? [],
      empty: "No request was refused in this period.",
      row: (/** @type {any} */ r) => [r.policy, int(r.refusals)],
    }),
    table({
      caption: "Refusals by person",
      columns: ["Person", "Refusals"],
      rows: d.by_person ?? [],
      empty: "Nobody was refused in this period.",
      row: (/** @type {any} */ r) => [r.email || r.user_id, int(r.refusals)],
    }),
  ];
}
