// Identity providers (add, enable/disable, delete) and, per provider, SCIM: on/off and its bearer tokens
// (created — the token shown once —, listed by prefix, revoked).

import { api, enc } from "../api.js";
import { copyBlock, errorBox, field, formValues, h, loading, pageTitle, replace, run, select, submitter, table } from "../dom.js";
import { when } from "../format.js";

/**
 * @typedef {{id: string, name: string, issuer_url: string, client_id: string, allowed_domains?: string[],
 *   default_role: string, auto_provision: boolean, enabled: boolean, scim_enabled?: boolean, user_claim?: string,
 *   source?: string}} Idp
 */

/** @param {import("../app.js").PageContext} ctx */
export default async function identity({ main }) {
  const listSlot = h("div", {}, loading());
  const scimSlot = h("div");
  const form = h("form", { class: "inline-form", "aria-label": "Add an identity provider" },
    field("Name", h("input", { name: "name", required: true, id: "idp-name", placeholder: "Okta" })),
    field("Issuer URL", h("input", { name: "issuer_url", type: "url", required: true, id: "idp-issuer", placeholder: "https://corp.okta.com" })),
    field("Client id (audience)", h("input", { name: "client_id", required: true, id: "idp-client" })),
    field("Allowed email domains", h("input", { name: "allowed_domains", id: "idp-domains", placeholder: "corp.example, example.org" }), "Comma-separated; empty: any verified email"),
    field("Role of new people", select({ name: "default_role", id: "idp-role" }, ["member", "admin"], "member")),
    h("button", { type: "submit", id: "idp-create" }, "Add provider"),
  );
  main.append(
    pageTitle("Identity providers and SCIM"),
    h("p", { class: "lead" }, "People sign in through these OpenID Connect providers (in the portal and in Claude Code). " +
      "Only verified emails identify anyone; see docs/identity.md."),
    h("section", { "aria-labelledby": "i-new" }, h("h2", { id: "i-new" }, "Add a provider"), form),
    h("section", { "aria-labelledby": "i-list" }, h("h2", { id: "i-list" }, "Providers"), listSlot),
    scimSlot,
  );

  async function load() {
    /** @type {Idp[]} */
    let idps;
    try {
      idps = (await api.get("/admin/idps")).idps ?? [];
    } catch (err) {
      replace(listSlot, errorBox(err));
      return;
    }
    replace(listSlot, table({
      caption: `${idps.length} providers`,
      columns: ["Name", "Issuer", "Client id", "Domains", "New people", "Status", "SCIM", "Actions"],
      rows: idps,
      empty: "No identity provider: only the administrator password and virtual keys work.",
      row: (p) => [
        p.name,
        h("code", { class: "wrap" }, p.issuer_url),
        h("code", { class: "wrap" }, p.client_id),
        (p.allowed_domains ?? []).join(", ") || "any",
        `${p.auto_provision ? "added" : "not added"} as ${p.default_role}`,
        p.enabled ? h("span", { class: "badge ok" }, "enabled") : h("span", { class: "badge off" }, "disabled"),
        p.scim_enabled ? "on" : "off",
        h("div", { class: "actions" },
          h("button", {
            type: "button", class: "secondary", "aria-label": `${p.enabled ? "Disable" : "Enable"} ${p.name}`,
            onclick: (/** @type {MouseEvent} */ ev) => void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
              await api.put(`/admin/idps/${enc(p.id)}`, { enabled: !p.enabled });
              await load();
              return `${p.name} ${p.enabled ? "disabled" : "enabled"}`;
            }),
          }, p.enabled ? "Disable" : "Enable"),
          h("button", {
            type: "button", class: "secondary", "aria-label": `SCIM of ${p.name}`,
            onclick: () => void scim(scimSlot, p, load),
          }, "SCIM…"),
          h("button", {
            type: "button", class: "danger", "aria-label": `Delete ${p.name}`,
            onclick: (/** @type {MouseEvent} */ ev) => {
              if (!window.confirm(`Delete ${p.name}? Its tokens stop working at once.`)) return;
              void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                await api.del(`/admin/idps/${enc(p.id)}`);
                replace(scimSlot);
                await load();
                return `${p.name} deleted`;
              });
            },
          }, "Delete"),
        ),
      ],
    }));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      await api.post("/admin/idps", {
        name: v.name,
        issuer_url: v.issuer_url,
        client_id: v.client_id,
        allowed_domains: v.allowed_domains,
        default_role: v.default_role,
      });
      form.reset();
      await load();
      return `${v.name} added`;
    });
  });
  await load();
}

/**
 * @param {HTMLElement} slot
 * @param {Idp} idp
 * @param {() => Promise<void>} reloadList
 */
async function scim(slot, idp, reloadList) {
  const tokensSlot = h("div", {}, loading());
  const secretSlot = h("div");
  const toggle = h("button", { type: "button", id: "scim-toggle" }, idp.scim_enabled ? "Turn SCIM off" : "Turn SCIM on");
  const name = h("input", { name: "name", id: "scim-token-name", placeholder: "okta-provisioning" });
  const form = h("form", { class: "inline-form", "aria-label": `New SCIM token for ${idp.name}` },
    field("Token name", name),
    h("button", { type: "submit", id: "scim-token-create" }, "Create SCIM token"),
  );
  replace(slot,
    h("section", { class: "card", "aria-labelledby": "scim-title" },
      h("h2", { id: "scim-title", tabindex: -1 }, `SCIM for ${idp.name}`),
      h("p", {}, `Your identity provider provisions people at ${window.location.origin}/scim/v2 with one of these bearer tokens. `,
        "Deprovisioning someone ends their sessions and keys."),
      h("div", { class: "actions" }, toggle),
      form,
      secretSlot,
      tokensSlot,
    ),
  );
  slot.querySelector("h2")?.focus();

  async function loadTokens() {
    try {
      /** @type {any[]} */
      const tokens = (await api.get(`/admin/idps/${enc(idp.id)}/scim-tokens`)).tokens ?? [];
      replace(tokensSlot, table({
        caption: "SCIM tokens",
        columns: ["Name", "Token", "Created", "Last used", "Actions"],
        rows: tokens,
        empty: "No SCIM token yet.",
        row: (t) => [
          t.name || "—",
          h("code", {}, `${t.token_prefix}…`),
          when(t.created_at),
          when(t.last_used_at),
          h("button", {
            type: "button", class: "danger", "aria-label": `Revoke SCIM token ${t.name || t.token_prefix}`,
            onclick: (/** @type {MouseEvent} */ ev) => {
              if (!window.confirm("Revoke this SCIM token? Provisioning with it stops.")) return;
              void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                await api.del(`/admin/idps/${enc(idp.id)}/scim-tokens/${enc(t.id)}`);
                await loadTokens();
                return "SCIM token revoked";
              });
            },
          }, "Revoke"),
        ],
      }));
    } catch (err) {
      replace(tokensSlot, errorBox(err));
    }
  }

  toggle.addEventListener("click", () => void run(toggle, async () => {
    const answer = await api.put(`/admin/idps/${enc(idp.id)}/scim`, { enabled: !idp.scim_enabled });
    idp.scim_enabled = Boolean(answer.scim_enabled);
    toggle.textContent = idp.scim_enabled ? "Turn SCIM off" : "Turn SCIM on";
    await reloadList();
    return `SCIM ${idp.scim_enabled ? "on" : "off"} for ${idp.name}`;
  }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      const created = await api.post(`/admin/idps/${enc(idp.id)}/scim-tokens`, v.name ? { name: v.name } : {});
      form.reset();
      replace(secretSlot, h("div", { class: "card secret" },
        h("p", {}, h("strong", {}, "Copy the token now;"), " it is shown only once."),
        copyBlock(created.token, "the SCIM token")));
      await loadTokens();
      return "SCIM token created";
    });
  });
  await loadTokens();
}
