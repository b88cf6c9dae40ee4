// Me: my keys (create — secret shown once —, revoke, one-time setup link), my budget and my usage.

import { api, ApiError } from "../api.js";
import { barChart } from "../chart.js";
import { errorBox, h, loading, pageTitle, replace, select } from "../dom.js";
import { int, pct, usd, when } from "../format.js";
import { createKeyForm, keyTable, setupLinkForm, showSecretOnce } from "../keys-ui.js";

/** @typedef {import("../keys-ui.js").Key} Key */

/** @param {import("../app.js").PageContext} ctx */
export default async function me({ main, me: who }) {
  const secretSlot = h("div");
  const listSlot = h("div", {}, loading());
  const linkSlot = h("div");
  const budgetSlot = h("div", {}, loading());
  const usageSlot = h("div", {}, loading());

  async function loadKeys() {
    try {
      /** @type {{keys: Key[]}} */
      const answer = await api.get("/admin/keys");
      // An admin is answered everyone's keys; this page is about the caller's own.
      const mine = answer.keys.filter((k) => k.user_id === who?.user_id);
      replace(listSlot, keyTable({ keys: mine, caption: "My keys", onChange: loadKeys }));
      replace(linkSlot, setupLinkForm(mine));
    } catch (err) {
      replace(listSlot, errorBox(err));
    }
  }

  main.append(
    pageTitle("My keys and usage"),
    h("p", { class: "lead" }, "Signed in as ", h("strong", {}, who?.sub ?? who?.user_id ?? ""), ` (${who?.role ?? ""}). `,
      "To point Claude Code at Sluice, see ", h("a", { href: "#/connect" }, "Connect"), "."),
    h("section", { "aria-labelledby": "me-keys" },
      h("h2", { id: "me-keys" }, "My keys"),
      createKeyForm({ idPrefix: "me-key", onCreated: (k) => { showSecretOnce(secretSlot, k); void loadKeys(); } }),
      secretSlot,
      listSlot,
      h("details", {},
        h("summary", {}, "One-time setup link for a key I already have"),
        h("p", {}, "Sluice keeps only a hash of each key, so give the secret of the key to hand over."),
        linkSlot,
      ),
    ),
    h("section", { "aria-labelledby": "me-budget" }, h("h2", { id: "me-budget" }, "My budget"), budgetSlot),
    h("section", { "aria-labelledby": "me-usage" }, h("h2", { id: "me-usage" }, "My usage"), usageSlot),
  );

  await Promise.all([loadKeys(), loadBudget(budgetSlot), usage(usageSlot)]);
}

/** @param {HTMLElement} slot */
async function loadBudget(slot) {
  /** @type {any} */
  let b;
  try {
    b = await api.get("/admin/budget/status");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      replace(slot, h("p", { class: "empty" }, "No budget applies to this sign-in."));
    } else {
      replace(slot, errorBox(err));
    }
    return;
  }
  const limited = b.limit_usd !== null && b.limit_usd !== undefined && b.limit_source !== "unlimited";
  const source = {
    explicit: "your own limit",
    team: `your team's member default${b.limit_source_name ? ` (${b.limit_source_name})` : ""}`,
    default: "the organisation's default",
    unlimited: "no limit",
  }[/** @type {"explicit" | "team" | "default" | "unlimited"} */ (b.limit_source)] ?? String(b.limit_source ?? "");
  replace(slot,
    h("dl", { class: "facts" },
      h("dt", {}, "Spent this period"), h("dd", { id: "budget-spend" }, usd(b.spend_usd), ` (${b.period ?? "monthly"})`),
      h("dt", {}, "Limit"), h("dd", {}, limited ? `${usd(b.limit_usd)} — ${source}` : "No limit"),
      limited ? [h("dt", {}, "Remaining"), h("dd", {}, usd(b.remaining_usd))] : null,
      h("dt", {}, "Resets"), h("dd", {}, when(b.resets)),
      h("dt", {}, "Status"), h("dd", {}, h("span", { class: `badge ${b.status === "ok" ? "ok" : "warn"}` }, String(b.status ?? "ok"))),
    ),
    limited
      ? h("div", { class: "meter-row" },
          h("label", { for: "budget-meter" }, `${pct(b.percent)} used`),
          h("meter", { id: "budget-meter", min: 0, max: 100, low: 80, high: 99, optimum: 0, value: Math.min(100, Number(b.percent) || 0) }),
        )
      : null,
    b.unpriced_tokens ? h("p", { class: "hint" }, `${int(b.unpriced_tokens)} tokens used models without a price yet.`) : null,
  );
}

/** @param {HTMLElement} slot */
async function usage(slot) {
  const days = select({ id: "usage-days", "aria-label": "Period" },
    [["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"]], "30");
  const body = h("div", {}, loading());
  replace(slot, h("div", { class: "toolbar" }, h("label", { for: "usage-days" }, "Period"), days), body);
  async function load() {
    replace(body, loading());
    try {
      const a = await api.get(`/admin/analytics?days=${days.value}&granularity=day`);
      const t = a.totals ?? {};
      /** @type {{bucket: string, cost_usd: number, requests: number}[]} */
      const daily = a.daily ?? a.trend ?? [];
      /** @type {{model: string, cost_usd: number, request_count: number}[]} */
      const models = a.models ?? [];
      replace(body,
        h("dl", { class: "facts" },
          h("dt", {}, "Requests"), h("dd", { id: "usage-requests" }, int(t.requests)),
          h("dt", {}, "Cost"), h("dd", {}, usd(t.total_cost_usd)),
          h("dt", {}, "Tokens in / out"), h("dd", {}, `${int(t.input_tokens)} / ${int(t.output_tokens)}`),
          h("dt", {}, "Cache hit rate"), h("dd", {}, pct(t.cache_hit_rate_pct)),
        ),
        h("div", { class: "charts" },
          barChart({ title: "Cost by day", points: daily.map((d) => ({ label: d.bucket, value: d.cost_usd })), format: usd,
            empty: "No requests in this period." }),
          barChart({ title: "Requests by day", points: daily.map((d) => ({ label: d.bucket, value: d.requests })), format: int,
            empty: "No requests in this period." }),
          barChart({ title: "Cost by model", horizontal: true, points: models.map((m) => ({ label: m.model, value: m.cost_usd })),
            format: usd, empty: "No model used in this period." }),
        ),
        a.unpriced_models?.length
          ? h("p", { class: "hint" }, `Models without a price (counted at their family's dearest rate): ${a.unpriced_models.join(", ")}`)
          : null,
      );
    } catch (err) {
      replace(body, errorBox(err));
    }
  }
  days.addEventListener("change", () => void load());
  await load();
}
