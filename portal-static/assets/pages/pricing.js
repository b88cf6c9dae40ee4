// Pricing (admin): the price book (seeded list prices and admin overrides, USD per million tokens), an override
// form, and removing an override.

import { api, enc } from "../api.js";
import { errorBox, field, formValues, h, loading, pageTitle, replace, run, submitter, table } from "../dom.js";

const RATES = /** @type {const} */ ([
  ["input_rate", "Input"],
  ["output_rate", "Output"],
  ["cache_read_rate", "Cache read"],
  ["cache_write_rate", "Cache write (5 min)"],
  ["cache_write_1h_rate", "Cache write (1 h)"],
]);

/** @param {import("../app.js").PageContext} ctx */
export default async function pricing({ main }) {
  const listSlot = h("div", {}, loading());
  const prefix = h("input", { name: "model_prefix", required: true, id: "price-prefix", placeholder: "us.anthropic.claude-sonnet-4-5" });
  const form = h("form", { class: "inline-form", "aria-label": "Override a price" },
    field("Model prefix", prefix),
    RATES.map(([name, label]) => field(label, h("input", {
      name, id: `price-${name}`, type: "number", min: 0, step: "any", required: name !== "cache_write_1h_rate",
    }))),
    h("button", { type: "submit", id: "price-save" }, "Save price"),
  );
  main.append(
    pageTitle("Pricing"),
    h("p", { class: "lead" }, "USD per million tokens. Usage is priced by the longest matching model prefix; an override " +
      "replaces a seeded row with the same prefix. Costs already recorded are not re-priced."),
    h("section", { "aria-labelledby": "pr-new" }, h("h2", { id: "pr-new" }, "Override a price"), form),
    h("section", { "aria-labelledby": "pr-list" }, h("h2", { id: "pr-list" }, "Price book"), listSlot),
  );

  async function load() {
    /** @type {any[]} */
    let rows;
    try {
      rows = await api.get("/admin/pricing");
    } catch (err) {
      replace(listSlot, errorBox(err));
      return;
    }
    replace(listSlot, table({
      caption: `${rows.length} price rows, longest prefix first`,
      columns: ["Model prefix", ...RATES.map(([, l]) => l), "Source", "As of", "Actions"],
      rows,
      empty: "No prices.",
      row: (r) => [
        h("code", {}, r.model_prefix),
        ...RATES.map(([k]) => String(r[k] ?? "—")),
        r.source === "admin_manual" ? "override" : "list price",
        r.as_of ?? "—",
        r.source === "admin_manual"
          ? h("button", {
              type: "button", class: "danger", "aria-label": `Remove the override of ${r.model_prefix}`,
              onclick: (/** @type {MouseEvent} */ ev) => void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                await api.del(`/admin/pricing/${enc(r.model_prefix)}`);
                await load();
                return `Override of ${r.model_prefix} removed`;
              }),
            }, "Remove override")
          : h("button", {
              type: "button", class: "secondary", "aria-label": `Override ${r.model_prefix}`,
              onclick: () => {
                prefix.value = r.model_prefix;
                for (const [k] of RATES) {
                  const input = form.querySelector(`[name=${k}]`);
                  if (input instanceof HTMLInputElement) input.value = r[k] === null || r[k] === undefined ? "" : String(r[k]);
                }
                prefix.focus();
              },
            }, "Override…"),
      ],
    }));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    /** @type {Record<string, number>} */
    const body = {};
    for (const [k] of RATES) if (v[k] !== "") body[k] = Number(v[k]);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      await api.put(`/admin/pricing/${enc(v.model_prefix)}`, body);
      form.reset();
      await load();
      return `Price of ${v.model_prefix} saved`;
    });
  });
  await load();
}
