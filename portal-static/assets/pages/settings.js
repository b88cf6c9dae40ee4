// Settings (admin): the flat settings list, one form per setting, and the org default budget.

import { api, enc } from "../api.js";
import { errorBox, field, formValues, h, loading, pageTitle, replace, run, select, submitter } from "../dom.js";
import { int, usd } from "../format.js";

/** What each setting does, in a line. */
const HELP = /** @type {Record<string, string>} */ ({
  admin_login_enabled: "true / false: whether the administrator password signs in (false: SSO only).",
  session_token_ttl_hours: "1 … 8760: lifetime of new sessions (applies to instances started after the change).",
  person_rate_limit_rpm: "Requests per minute one person may make through all their credentials together.",
  max_keys_per_person: "Active keys one person may own.",
  allowed_bedrock_models: "Raw Bedrock ids or ARNs allowed besides the configured geography (JSON array or comma-separated).",
  websearch_mode: "enabled / disabled / global (stored; web search is not implemented yet).",
  virtual_keys_enabled: "Always true in Sluice: revoke keys instead.",
});

/** @param {import("../app.js").PageContext} ctx */
export default async function settings({ main }) {
  const listSlot = h("div", {}, loading());
  const budgetSlot = h("div", {}, loading());
  main.append(
    pageTitle("Settings"),
    h("section", { "aria-labelledby": "s-list" }, h("h2", { id: "s-list" }, "Organisation settings"), listSlot),
    h("section", { "aria-labelledby": "s-budget" }, h("h2", { id: "s-budget" }, "Default budget for people without a team"), budgetSlot),
  );
  await Promise.all([loadSettings(listSlot), loadDefaultBudget(budgetSlot)]);
}

/** @param {HTMLElement} slot */
async function loadSettings(slot) {
  /** @type {Record<string, unknown>} */
  let all;
  try {
    all = await api.get("/admin/settings");
  } catch (err) {
    replace(slot, errorBox(err));
    return;
  }
  const forms = Object.entries(all).map(([key, value]) => {
    const text = Array.isArray(value) || (value && typeof value === "object") ? JSON.stringify(value) : String(value ?? "");
    const input = h("input", { name: "value", id: `setting-${key}`, value: text, disabled: key === "virtual_keys_enabled" });
    const form = h("form", { class: "inline-form setting", "aria-label": `Setting ${key}` },
      field(key, input, HELP[key]),
      h("button", { type: "submit", disabled: key === "virtual_keys_enabled", "aria-label": `Save ${key}` }, "Save"),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
        const answer = await api.put(`/admin/settings/${enc(key)}`, { value: input.value.trim() });
        return `${key} saved${answer?.note ? ` (${answer.note})` : ""}`;
      });
    });
    return form;
  });
  replace(slot, h("div", { class: "card" }, forms));
}

/** @param {HTMLElement} slot */
async function loadDefaultBudget(slot) {
  /** @type {any} */
  let b;
  try {
    b = await api.get("/admin/settings/default-budget");
  } catch (err) {
    replace(slot, errorBox(err));
    return;
  }
  const summary = h("p", { "aria-live": "polite" });
  /** @param {any} x */
  const describe = (x) => replace(summary, x.budget_amount_usd === null || x.budget_amount_usd === undefined
    ? "No org default: people without a team and without their own limit are unlimited."
    : `${usd(x.budget_amount_usd)} per person, ${x.budget_period ?? "monthly"}; applies to ${int(x.affected_user_count)} people without a team.`);
  describe(b);
  const form = h("form", { class: "inline-form", "aria-label": "Default budget" },
    field("Amount per person (USD)", h("input", { name: "budget_amount_usd", type: "number", min: 0, step: "0.01", id: "default-amount",
      value: b.budget_amount_usd ?? "" }), "Empty: no default"),
    field("Period", select({ name: "budget_period", id: "default-period" }, ["daily", "weekly", "monthly"], b.budget_period ?? "monthly")),
    field("Policy", select({ name: "budget_policy", id: "default-policy" }, [["", "keep"], "standard", "soft", "shaped"], "")),
    field("Notify", select({ name: "notify_recipients", id: "default-notify" }, ["both", "user", "admin"], b.notify_recipients ?? "both")),
    h("button", { type: "submit", id: "default-save" }, "Save default budget"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    /** @type {Record<string, unknown>} */
    const body = {
      budget_amount_usd: v.budget_amount_usd === "" ? null : Number(v.budget_amount_usd),
      budget_period: v.budget_period,
      notify_recipients: v.notify_recipients,
    };
    if (v.budget_policy) body.budget_policy = v.budget_policy;
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      describe(await api.put("/admin/settings/default-budget", body));
      return "Default budget saved";
    });
  });
  replace(slot, summary, form);
}
