// People: create (email, role, team), change role and team, deactivate/activate, spend limit, delete.

import { api, enc } from "../api.js";
import { errorBox, field, formValues, h, loading, pageTitle, replace, run, select, submitter, table } from "../dom.js";
import { loadDirectory, teamOptions } from "../directory.js";
import { when } from "../format.js";

/** @typedef {import("../directory.js").User} User */

/** @param {import("../app.js").PageContext} ctx */
export default async function people({ main, me }) {
  const formSlot = h("div");
  const listSlot = h("div", {}, loading());
  main.append(
    pageTitle("People"),
    h("p", { class: "lead" }, "Everyone who may use Sluice. People who sign in through an identity provider are added at " +
      "their first sign-in (or by SCIM); add someone here to give them a role or team before that."),
    h("section", { "aria-labelledby": "p-new" }, h("h2", { id: "p-new" }, "Add a person"), formSlot),
    h("section", { "aria-labelledby": "p-list" }, h("h2", { id: "p-list" }, "Everyone"), listSlot),
  );

  async function load() {
    let dir;
    try {
      dir = await loadDirectory();
    } catch (err) {
      replace(listSlot, errorBox(err));
      return;
    }
    replace(formSlot, createForm(dir.teams, load));
    replace(listSlot, table({
      caption: `${dir.users.length} people`,
      columns: ["Email", "Role", "Team", "Status", "Signs in with", "Added", "Actions"],
      rows: dir.users,
      empty: "Nobody yet.",
      row: (u) => {
        const self = u.id === me?.user_id;
        const role = select({ "aria-label": `Role of ${u.email}`, disabled: self }, [["member", "member"], ["admin", "admin"]], u.role);
        role.addEventListener("change", () => void run(role, async () => {
          await api.patch(`/admin/users/${enc(u.id)}`, { role: role.value });
          return `${u.email} is now ${role.value}`;
        }));
        const team = select({ "aria-label": `Team of ${u.email}` }, teamOptions(dir.teams), u.team_id ?? "");
        team.addEventListener("change", () => void run(team, async () => {
          await api.put(`/admin/users/${enc(u.id)}/team`, { team_id: team.value || null });
          return team.value ? `${u.email} moved to ${dir.teamName(team.value)}` : `${u.email} has no team now`;
        }));
        return [
          u.email,
          role,
          team,
          u.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge off" }, "deactivated"),
          u.idp || "—",
          when(u.created_at),
          h("div", { class: "actions" },
            self ? null : h("button", {
              type: "button",
              class: "secondary",
              "aria-label": `${u.active ? "Deactivate" : "Activate"} ${u.email}`,
              onclick: (/** @type {MouseEvent} */ ev) => void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                await api.patch(`/admin/users/${enc(u.id)}`, { active: !u.active });
                await load();
                return u.active ? `${u.email} deactivated: their sessions and keys stop working` : `${u.email} activated`;
              }),
            }, u.active ? "Deactivate" : "Activate"),
            spendLimitButton(u),
            self ? null : h("button", {
              type: "button",
              class: "danger",
              "aria-label": `Delete ${u.email}`,
              onclick: (/** @type {MouseEvent} */ ev) => {
                if (!window.confirm(`Delete ${u.email}? Their keys are revoked.`)) return;
                void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
                  await api.del(`/admin/users/${enc(u.id)}`);
                  await load();
                  return `${u.email} deleted`;
                });
              },
            }, "Delete"),
          ),
        ];
      },
    }));
  }
  await load();
}

/**
 * @param {import("../directory.js").Team[]} teams
 * @param {() => Promise<void>} reload
 */
function createForm(teams, reload) {
  const form = h("form", { class: "inline-form", "aria-label": "Add a person" },
    field("Email", h("input", { name: "email", type: "email", required: true, autocomplete: "off", id: "person-email" })),
    field("Role", select({ name: "role", id: "person-role" }, [["member", "member"], ["admin", "admin"]], "member")),
    field("Team", select({ name: "team_id", id: "person-team" }, teamOptions(teams), "")),
    h("button", { type: "submit", id: "person-create" }, "Add person"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      const user = await api.post("/admin/users", { email: v.email, role: v.role, team_id: v.team_id || undefined });
      form.reset();
      await reload();
      return `${user.email ?? v.email} added`;
    });
  });
  return form;
}

/** A person's own spend limit, asked in a prompt (empty removes it). @param {User} u */
function spendLimitButton(u) {
  return h("button", {
    type: "button",
    class: "secondary",
    "aria-label": `Spend limit of ${u.email}`,
    onclick: (/** @type {MouseEvent} */ ev) => {
      const answer = window.prompt(
        `Spend limit for ${u.email} in USD per period (their current period, else monthly). Empty: remove their own limit, so team and org defaults apply; 0: exempt them`,
        "",
      );
      if (answer === null) return;
      const trimmed = answer.trim();
      void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
        const body = trimmed === "" ? { limit_usd: null } : { limit_usd: Number(trimmed) };
        if (trimmed !== "" && !Number.isFinite(body.limit_usd)) throw new Error(`"${trimmed}" is not an amount in USD`);
        await api.put(`/admin/users/${enc(u.id)}/spend-limit`, body);
        return trimmed === "" ? `${u.email} has no limit of their own now` : `${u.email}'s limit is $${trimmed}`;
      });
    },
  }, "Spend limit");
}
