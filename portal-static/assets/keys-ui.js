// Keys as the "me" page and the admin keys page show them: the list (prefix only), revoke/delete, the
// creation form, and the panel that shows a new key's secret once, with its one-time setup link.

import { api, enc } from "./api.js";
import { announce, copyBlock, errorText, field, formValues, h, replace, run, submitter, table } from "./dom.js";
import { when } from "./format.js";

/**
 * @typedef {{id: string, prefix: string, name: string, user_id?: string | null, team_id?: string | null,
 *   is_active: boolean, rate_limit_rpm?: number | null, created_at: string, revoked_at?: string | null}} Key
 * @typedef {Key & {key: string}} CreatedKey
 */

/**
 * @param {{keys: Key[], caption: string, onChange: () => Promise<void>, owner?: (k: Key) => string,
 *   team?: (k: Key) => string, allowDelete?: boolean}} spec
 */
export function keyTable({ keys, caption, onChange, owner, team, allowDelete = false }) {
  const columns = ["Name", "Key", ...(owner ? ["Owner"] : []), ...(team ? ["Team"] : []), "Requests/min", "Created", "Status", "Actions"];
  return table({
    caption,
    columns,
    rows: keys,
    empty: "No keys yet.",
    row: (k) => [
      k.name || "(unnamed)",
      h("code", { class: "prefix" }, `${k.prefix}…`),
      ...(owner ? [owner(k)] : []),
      ...(team ? [team(k)] : []),
      k.rate_limit_rpm ? String(k.rate_limit_rpm) : "unlimited",
      when(k.created_at),
      k.is_active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge off" }, `revoked ${when(k.revoked_at)}`),
      h("div", { class: "actions" },
        k.is_active
          ? h("button", {
              type: "button",
              class: "secondary",
              "aria-label": `Revoke key ${k.name || k.prefix}`,
              onclick: (/** @type {MouseEvent} */ ev) => {
                if (!window.confirm(`Revoke the key "${k.name || k.prefix}"? Anything using it stops working.`)) return;
                void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                  await api.post(`/admin/keys/${enc(k.id)}/revoke`);
                  await onChange();
                  return `Key ${k.name || k.prefix} revoked`;
                });
              },
            }, "Revoke")
          : null,
        allowDelete
          ? h("button", {
              type: "button",
              class: "danger",
              "aria-label": `Delete key ${k.name || k.prefix}`,
              onclick: (/** @type {MouseEvent} */ ev) => {
                if (!window.confirm(`Delete the key "${k.name || k.prefix}" for good?`)) return;
                void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                  await api.del(`/admin/keys/${enc(k.id)}`);
                  await onChange();
                  return `Key ${k.name || k.prefix} deleted`;
                });
              },
            }, "Delete")
          : null,
      ),
    ],
  });
}

/**
 * The form that creates a key. `extra` adds controls (owner, team) whose values go into the body as they are
 * named; empty values are left out.
 * @param {{onCreated: (k: CreatedKey) => void, extra?: HTMLElement[], idPrefix: string}} spec
 */
export function createKeyForm({ onCreated, extra = [], idPrefix }) {
  const name = h("input", { name: "name", id: `${idPrefix}-name`, required: true, maxlength: 100, placeholder: "laptop" });
  const rpm = h("input", { name: "rate_limit_rpm", id: `${idPrefix}-rpm`, type: "number", min: 0, step: 1, inputmode: "numeric" });
  const form = h("form", { class: "inline-form", "aria-label": "Create a key" },
    field("Key name", name),
    ...extra,
    field("Requests per minute", rpm, "Empty or 0: no limit of its own (your personal limit still applies)"),
    h("button", { type: "submit", id: `${idPrefix}-create` }, "Create key"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const values = formValues(form);
    /** @type {Record<string, string | number>} */
    const body = {};
    for (const [k, v] of Object.entries(values)) {
      if (v === "") continue;
      body[k] = k === "rate_limit_rpm" ? Number(v) : v;
    }
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      /** @type {CreatedKey} */
      const created = await api.post("/admin/keys", body);
      form.reset();
      onCreated(created);
      return `Key ${created.name} created. Copy its secret now: it is shown only once.`;
    });
  });
  return form;
}

/**
 * Shows a new key's secret, once, with a one-time setup link on request. Forgetting it (Done) removes the secret
 * from the page.
 * @param {HTMLElement} slot
 * @param {CreatedKey} created
 */
export function showSecretOnce(slot, created) {
  const linkSlot = h("div", { "aria-live": "polite" });
  const done = h("button", { type: "button", class: "secondary", id: "secret-done" }, "Done, I have copied it");
  const linkButton = h("button", { type: "button", id: "secret-setup-link" }, "Make a one-time setup link");
  linkButton.addEventListener("click", () => {
    void run(linkButton, async () => {
      const answer = await api.post(`/admin/keys/${enc(created.id)}/setup-token`, { raw_key: created.key });
      replace(linkSlot, setupLinkView(answer));
      return "Setup link made; it works once, for 5 minutes";
    });
  });
  done.addEventListener("click", () => {
    replace(slot);
    announce("The secret is no longer shown; the list shows the key's prefix only.");
  });
  replace(slot,
    h("section", { class: "card secret", "aria-labelledby": "secret-title", id: "new-key" },
      h("h3", { id: "secret-title" }, `New key "${created.name}"`),
      h("p", {}, h("strong", {}, "Copy the secret now."), " Sluice keeps only its hash; it cannot show it again."),
      copyBlock(created.key, "the new key's secret"),
      h("p", {}, "Or hand it to a machine with a link that configures Claude Code there (works once, for 5 minutes):"),
      h("div", { class: "actions" }, linkButton, done),
      linkSlot,
    ),
  );
  const pre = slot.querySelector("pre");
  if (pre instanceof HTMLElement) pre.focus();
}

/**
 * @param {{setup_url?: string, command?: string, expires_in_secs?: number}} answer
 */
export function setupLinkView(answer) {
  const minutes = Math.round((answer.expires_in_secs ?? 300) / 60);
  return h("div", { class: "setup-link" },
    h("p", {}, `On the machine to configure, run (macOS/Linux; expires in ${minutes} minutes, works once):`),
    copyBlock(answer.command ?? `curl -fsS '${answer.setup_url}' | bash`, "the one-time setup command"),
    answer.setup_url ? h("p", {}, "The link alone: ", h("code", { class: "wrap" }, answer.setup_url)) : null,
  );
}

/**
 * A form that makes a one-time setup link for an existing key, given its secret (Sluice keeps only the hash, so
 * the secret proves the key is yours to hand over).
 * @param {Key[]} keys
 */
export function setupLinkForm(keys) {
  const active = keys.filter((k) => k.is_active);
  const out = h("div", { "aria-live": "polite" });
  const keySelect = h("select", { name: "key_id", required: true },
    active.map((k) => h("option", { value: k.id }, `${k.name || "(unnamed)"} (${k.prefix}…)`)));
  const secret = h("input", { name: "raw_key", type: "password", required: true, autocomplete: "off", placeholder: "sk-sluice-…" });
  const form = h("form", { class: "inline-form", "aria-label": "One-time setup link for a key" },
    field("Key", keySelect),
    field("Its secret", secret),
    h("button", { type: "submit" }, "Make setup link"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const { key_id: id, raw_key: raw } = formValues(form);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      try {
        const answer = await api.post(`/admin/keys/${enc(id)}/setup-token`, { raw_key: raw });
        secret.value = "";
        replace(out, setupLinkView(answer));
        return "Setup link made";
      } catch (err) {
        replace(out);
        throw new Error(errorText(err));
      }
    });
  });
  if (active.length === 0) return h("p", { class: "empty" }, "No active key to make a link for.");
  return h("div", {}, form, out);
}
