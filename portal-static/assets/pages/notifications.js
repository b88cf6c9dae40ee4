// Notifications (admin): the destination of budget, rate-limit and policy-refusal events, set up as draft → test → activate,
// and the delivery log.

import { api } from "../api.js";
import { copyBlock, errorBox, field, formValues, h, loading, pageTitle, replace, run, select, submitter, table } from "../dom.js";
import { when } from "../format.js";

/**
 * @typedef {{id: string, slot: string, destination_type: string, destination_value: string,
 *   event_categories: string[], last_tested_at?: string | null, last_test_success?: boolean | null,
 *   last_test_error?: string | null, created_at: string}} Config
 */

/** @param {import("../app.js").PageContext} ctx */
export default async function notifications({ main }) {
  const stateSlot = h("div", {}, loading());
  const secretSlot = h("div");
  const type = select({ name: "destination_type", id: "notif-type" }, [["webhook", "HTTPS webhook (signed)"], ["sns", "SNS topic"], ["eventbridge", "EventBridge bus"]], "webhook");
  const value = h("input", { name: "destination_value", required: true, id: "notif-value", placeholder: "https://hooks.example.com/sluice" });
  const budget = h("input", { type: "checkbox", name: "cat_budget", id: "notif-budget", checked: true });
  const rate = h("input", { type: "checkbox", name: "cat_rate_limit", id: "notif-rate" });
  const refusal = h("input", { type: "checkbox", name: "cat_policy_refusal", id: "notif-refusal" });
  const form = h("form", { class: "inline-form", "aria-label": "Save a draft destination" },
    field("Destination", type),
    field("URL or ARN", value, "Webhook: https:// to a public address; SNS: a topic ARN; EventBridge: a bus ARN"),
    h("fieldset", {}, h("legend", {}, "Events"),
      h("label", { for: "notif-budget" }, budget, " budget"), " ",
      h("label", { for: "notif-rate" }, rate, " rate limit"), " ",
      h("label", { for: "notif-refusal" }, refusal, " policy refusal")),
    h("button", { type: "submit", id: "notif-save" }, "Save draft"),
  );
  main.append(
    pageTitle("Notifications"),
    h("p", { class: "lead" }, "Where Sluice sends budget (and rate-limit, policy-refusal) events. Save a draft, send it a test event, " +
      "then make it the destination: only a draft whose last test succeeded can become active."),
    h("section", { "aria-labelledby": "n-new" }, h("h2", { id: "n-new" }, "1. Save a draft"), form, secretSlot),
    stateSlot,
  );

  async function load() {
    /** @type {{active: Config | null, draft: Config | null, delivery_history?: any[]}} */
    let c;
    try {
      c = await api.get("/admin/notifications/config");
    } catch (err) {
      replace(stateSlot, errorBox(err));
      return;
    }
    const testOut = h("div", { "aria-live": "polite", id: "notif-test-result" });
    const draftSection = h("section", { "aria-labelledby": "n-draft" }, h("h2", { id: "n-draft" }, "2. Test and activate the draft"));
    if (c.draft) {
      const d = c.draft;
      const test = h("button", { type: "button", id: "notif-test" }, "Send a test event");
      const activate = h("button", { type: "button", id: "notif-activate", disabled: d.last_test_success !== true }, "Activate");
      const discard = h("button", { type: "button", class: "danger", id: "notif-discard" }, "Discard draft");
      test.addEventListener("click", () => void run(test, async () => {
        const r = await api.post("/admin/notifications/test");
        await load();
        return r.success ? `Test delivered in ${r.duration_ms} ms` : `Test failed: ${r.error ?? "no reason given"}`;
      }));
      activate.addEventListener("click", () => void run(activate, async () => {
        await api.post("/admin/notifications/activate");
        await load();
        return "The draft is now the active destination";
      }));
      discard.addEventListener("click", () => void run(discard, async () => {
        await api.del("/admin/notifications/draft");
        await load();
        return "Draft discarded";
      }));
      draftSection.append(describe(d), h("div", { class: "actions" }, test, activate, discard), testOut);
    } else {
      draftSection.append(h("p", { class: "empty" }, "No draft."));
    }
    const activeSection = h("section", { "aria-labelledby": "n-active" }, h("h2", { id: "n-active" }, "Active destination"));
    if (c.active) {
      const remove = h("button", { type: "button", class: "danger", id: "notif-remove" }, "Remove active destination");
      remove.addEventListener("click", () => {
        if (!window.confirm("Remove the active destination? Events are then not delivered.")) return;
        void run(remove, async () => {
          await api.del("/admin/notifications/config");
          await load();
          return "Active destination removed";
        });
      });
      activeSection.append(describe(c.active), categoriesForm(c.active, load), remove);
    } else {
      activeSection.append(h("p", { class: "empty" }, "None: events are stored but not delivered."));
    }
    replace(stateSlot, draftSection, activeSection,
      h("section", { "aria-labelledby": "n-log" }, h("h2", { id: "n-log" }, "Delivery log"),
        table({
          caption: "Latest deliveries, newest first",
          columns: ["When", "Event", "Destination", "Result", "Attempts", "Detail"],
          rows: c.delivery_history ?? [],
          empty: "Nothing delivered yet.",
          row: (/** @type {any} */ r) => [
            when(r.attempted_at),
            String(r.event_type ?? r.event_id ?? "—"),
            h("code", { class: "wrap" }, String(r.destination_value ?? "")),
            r.success ? h("span", { class: "badge ok" }, "delivered") : h("span", { class: "badge warn" }, "failed"),
            String(r.attempts ?? "—"),
            String((r.success ? r.reference : r.error) ?? ""),
          ],
        })));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    const categories = [budget.checked ? "budget" : null, rate.checked ? "rate_limit" : null,
      refusal.checked ? "policy_refusal" : null].filter((x) => x !== null);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      const saved = await api.put("/admin/notifications/config", {
        destination_type: v.destination_type,
        destination_value: v.destination_value,
        event_categories: categories,
      });
      replace(secretSlot, saved.webhook_secret
        ? h("div", { class: "card secret" },
            h("p", {}, h("strong", {}, "The webhook signing secret, shown once:"), " give it to the receiver to verify signatures."),
            copyBlock(saved.webhook_secret, "the webhook signing secret"))
        : null);
      await load();
      return "Draft saved; send it a test event next";
    });
  });
  await load();
}

/** @param {Config} c */
function describe(c) {
  const tested = c.last_tested_at
    ? `${c.last_test_success ? "succeeded" : `failed${c.last_test_error ? `: ${c.last_test_error}` : ""}`} (${when(c.last_tested_at)})`
    : "not tested yet";
  return h("dl", { class: "facts", id: `notif-${c.slot}` },
    h("dt", {}, "Destination"), h("dd", {}, `${c.destination_type}: `, h("code", { class: "wrap" }, c.destination_value)),
    h("dt", {}, "Events"), h("dd", {}, (c.event_categories ?? []).join(", ")),
    h("dt", {}, "Last test"), h("dd", {}, tested),
  );
}

/**
 * Which events the active destination gets (`PUT /admin/notifications/categories`).
 * @param {Config} active
 * @param {() => Promise<void>} reload
 */
function categoriesForm(active, reload) {
  const has = (/** @type {string} */ c) => (active.event_categories ?? []).includes(c);
  const budget = h("input", { type: "checkbox", id: "active-budget", checked: has("budget") });
  const rate = h("input", { type: "checkbox", id: "active-rate", checked: has("rate_limit") });
  const refusal = h("input", { type: "checkbox", id: "active-refusal", checked: has("policy_refusal") });
  const form = h("form", { class: "inline-form", "aria-label": "Events the active destination gets" },
    h("fieldset", {}, h("legend", {}, "Events sent"),
      h("label", { for: "active-budget" }, budget, " budget"), " ",
      h("label", { for: "active-rate" }, rate, " rate limit"), " ",
      h("label", { for: "active-refusal" }, refusal, " policy refusal")),
    h("button", { type: "submit", class: "secondary", id: "active-categories" }, "Save events"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const categories = [budget.checked ? "budget" : null, rate.checked ? "rate_limit" : null,
      refusal.checked ? "policy_refusal" : null].filter((x) => x !== null);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      await api.put("/admin/notifications/categories", { event_categories: categories });
      await reload();
      return `The active destination now gets: ${categories.join(", ") || "nothing"}`;
    });
  });
  return form;
}
