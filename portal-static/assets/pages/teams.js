// Teams: create and delete; for one team (`#/admin/teams?team=<id>`): members (add by email, remove), the
// team's keys, and its budget (total, period, policy, member default).

import { api, enc } from "../api.js";
import { errorBox, field, formValues, h, loading, pageTitle, replace, run, select, submitter, table } from "../dom.js";
import { loadDirectory } from "../directory.js";
import { usd, when } from "../format.js";
import { keyTable } from "../keys-ui.js";

/** @typedef {import("../directory.js").Team} Team */

/** @param {import("../app.js").PageContext} ctx */
export default async function teams({ main, query, go }) {
  const listSlot = h("div", {}, loading());
  const detailSlot = h("div");
  const name = h("input", { name: "name", id: "team-name", required: true, maxlength: 100 });
  const form = h("form", { class: "inline-form", "aria-label": "Create a team" },
    field("Team name", name),
    h("button", { type: "submit", id: "team-create" }, "Create team"),
  );
  main.append(
    pageTitle("Teams"),
    h("section", { "aria-labelledby": "t-new" }, h("h2", { id: "t-new" }, "Create a team"), form),
    h("section", { "aria-labelledby": "t-list" }, h("h2", { id: "t-list" }, "Teams"), listSlot),
    detailSlot,
  );

  async function load() {
    let dir;
    try {
      dir = await loadDirectory();
    } catch (err) {
      replace(listSlot, errorBox(err));
      return;
    }
    const counts = new Map();
    for (const u of dir.users) if (u.team_id) counts.set(u.team_id, (counts.get(u.team_id) ?? 0) + 1);
    replace(listSlot, table({
      caption: `${dir.teams.length} teams`,
      columns: ["Name", "Members", "Created", "Actions"],
      rows: dir.teams,
      empty: "No teams yet.",
      row: (t) => [
        h("a", { href: `#/admin/teams?team=${enc(t.id)}`, "aria-current": query.get("team") === t.id ? "true" : false }, t.name),
        String(counts.get(t.id) ?? 0),
        when(t.created_at),
        h("button", {
          type: "button",
          class: "danger",
          "aria-label": `Delete team ${t.name}`,
          onclick: (/** @type {MouseEvent} */ ev) => {
            if (!window.confirm(`Delete team ${t.name}? Its members become team-less.`)) return;
            void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
              await api.del(`/admin/teams/${enc(t.id)}`);
              if (query.get("team") === t.id) go("#/admin/teams");
              else await load();
              return `Team ${t.name} deleted`;
            });
          },
        }, "Delete"),
      ],
    }));
    // The open team is drawn once; refreshing the list (a member added) must not reset what is being typed there.
    const selected = dir.teams.find((t) => t.id === query.get("team"));
    if (!selected) {
      replace(detailSlot);
      shown = "";
    } else if (shown !== selected.id) {
      shown = selected.id;
      await detail(detailSlot, selected, load);
    }
  }
  let shown = "";

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      const team = await api.post("/admin/teams", { name: v.name });
      form.reset();
      await load();
      return `Team ${team.name ?? v.name} created`;
    });
  });
  await load();
}

/**
 * @param {HTMLElement} slot
 * @param {Team} team
 * @param {() => Promise<void>} reloadList
 */
async function detail(slot, team, reloadList) {
  const membersSlot = h("div", {}, loading());
  const keysSlot = h("div", {}, loading());
  const budgetOut = h("div", { "aria-live": "polite" });
  const email = h("input", { name: "user_id", type: "email", required: true, id: "member-email", autocomplete: "off" });
  const addForm = h("form", { class: "inline-form", "aria-label": `Add a member to ${team.name}` },
    field("Email", email),
    h("button", { type: "submit", id: "member-add" }, "Add member"),
  );
  replace(slot,
    h("section", { class: "card", "aria-labelledby": "t-detail" },
      h("h2", { id: "t-detail" }, `Team ${team.name}`),
      h("h3", {}, "Members"),
      addForm,
      membersSlot,
      h("h3", {}, "Budget"),
      budgetForm(team, budgetOut),
      budgetOut,
      h("h3", {}, "Team keys"),
      keysSlot,
    ),
  );

  async function loadMembers() {
    try {
      const [m, k] = await Promise.all([
        api.get(`/admin/teams/${enc(team.id)}/members`),
        api.get(`/admin/teams/${enc(team.id)}/keys`),
      ]);
      /** @type {import("../directory.js").User[]} */
      const members = m.members ?? [];
      replace(membersSlot, table({
        caption: `Members of ${team.name}`,
        columns: ["Email", "Role", "Status", "Actions"],
        rows: members,
        empty: "No members yet.",
        row: (u) => [
          u.email,
          u.role,
          u.active ? "active" : "deactivated",
          h("button", {
            type: "button",
            class: "secondary",
            "aria-label": `Remove ${u.email} from ${team.name}`,
            onclick: (/** @type {MouseEvent} */ ev) => void run(/** @type {HTMLButtonElement} */ (ev.currentTarget), async () => {
              await api.del(`/admin/teams/${enc(team.id)}/members/${enc(u.id)}`);
              await loadMembers();
              await reloadList();
              return `${u.email} removed from ${team.name}`;
            }),
          }, "Remove"),
        ],
      }));
      const dir = await loadDirectory();
      replace(keysSlot, keyTable({ keys: k.keys ?? [], caption: `Keys of ${team.name}`, owner: (x) => dir.userName(x.user_id),
        onChange: loadMembers }));
    } catch (err) {
      replace(membersSlot, errorBox(err));
    }
  }

  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(addForm);
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      await api.post(`/admin/teams/${enc(team.id)}/members`, { user_id: v.user_id });
      addForm.reset();
      await loadMembers();
      await reloadList();
      return `${v.user_id} added to ${team.name}`;
    });
  });
  await loadMembers();
}

/**
 * The team budget (`PUT /admin/teams/{id}/budget`, partial: empty fields keep their value).
 * @param {Team} team
 * @param {HTMLElement} out
 */
function budgetForm(team, out) {
  const form = h("form", { class: "inline-form", "aria-label": `Budget of ${team.name}` },
    field("Team total (USD)", h("input", { name: "budget_amount_usd", type: "number", min: 0, step: "0.01", id: "budget-amount" })),
    field("Period", select({ name: "budget_period", id: "budget-period" }, [["", "unchanged"], "daily", "weekly", "monthly"], "")),
    field("Policy", select({ name: "budget_policy", id: "budget-policy" },
      [["", "unchanged"], ["standard", "standard (block at 100 %)"], ["soft", "soft (block at 150 %)"], ["shaped", "shaped (slow down at 100 %)"]], "")),
    field("Shaped requests/min", h("input", { name: "shaped_rpm", type: "number", min: 1, step: 1, id: "budget-shaped" })),
    field("Each member's default (USD)", h("input", { name: "default_user_budget_usd", type: "number", min: 0, step: "0.01", id: "budget-member" })),
    field("Notify", select({ name: "notify_recipients", id: "budget-notify" }, [["", "unchanged"], "both", "user", "admin"], "")),
    h("button", { type: "submit", id: "budget-save" }, "Save budget"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    /** @type {Record<string, string | number>} */
    const body = {};
    for (const [k, val] of Object.entries(v)) {
      if (val === "") continue;
      body[k] = ["budget_amount_usd", "default_user_budget_usd", "shaped_rpm"].includes(k) ? Number(val) : val;
    }
    void run(submitter(/** @type {SubmitEvent} */ (ev)), async () => {
      if (Object.keys(body).length === 0) throw new Error("Nothing to change: fill in at least one field.");
      const answer = await api.put(`/admin/teams/${enc(team.id)}/budget`, body);
      const t = answer.team ?? {};
      replace(out, h("p", {}, `Budget: ${usd(t.budget_amount_usd)} ${t.budget_period ?? ""}, each member ${usd(t.default_user_budget_usd)}, ` +
        `notify ${t.notify_recipients ?? "both"}.`));
      return `Budget of ${team.name} saved`;
    });
  });
  return form;
}
