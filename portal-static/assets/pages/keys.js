// All keys (admin): everyone's keys with owner and team, revoke, delete, and create a key for someone.

import { api } from "../api.js";
import { errorBox, field, h, loading, pageTitle, replace, select } from "../dom.js";
import { loadDirectory, teamOptions } from "../directory.js";
import { createKeyForm, keyTable, showSecretOnce } from "../keys-ui.js";

/** @param {import("../app.js").PageContext} ctx */
export default async function keys({ main }) {
  const formSlot = h("div");
  const secretSlot = h("div");
  const listSlot = h("div", {}, loading());
  const show = select({ id: "keys-show", "aria-label": "Show" }, [["active", "Active keys"], ["all", "All keys, revoked too"]], "active");
  main.append(
    pageTitle("All keys"),
    h("section", { "aria-labelledby": "k-new" },
      h("h2", { id: "k-new" }, "Create a key for someone"),
      h("p", {}, "The key belongs to the person chosen (you, if nobody is); its team defaults to theirs."),
      formSlot, secretSlot),
    h("section", { "aria-labelledby": "k-list" },
      h("h2", { id: "k-list" }, "Keys"),
      h("div", { class: "toolbar" }, h("label", { for: "keys-show" }, "Show"), show),
      listSlot),
  );

  /** @type {import("../directory.js").Directory} */
  let d;
  try {
    d = await loadDirectory();
  } catch (err) {
    replace(listSlot, errorBox(err));
    return;
  }
  async function load() {
    try {
      const answer = await api.get("/admin/keys");
      /** @type {import("../keys-ui.js").Key[]} */
      const all = answer.keys ?? [];
      const rows = show.value === "all" ? all : all.filter((k) => k.is_active);
      replace(listSlot, keyTable({
        keys: rows,
        caption: `${rows.length} keys`,
        onChange: load,
        owner: (k) => d.userName(k.user_id),
        team: (k) => d.teamName(k.team_id),
        allowDelete: true,
      }));
    } catch (err) {
      replace(listSlot, errorBox(err));
    }
  }
  show.addEventListener("change", () => void load());
  await load();
  {
    replace(formSlot, createKeyForm({
      idPrefix: "admin-key",
      extra: [
        field("Owner", select({ name: "user_id", id: "admin-key-owner" },
          [["", "Me"], ...d.users.filter((u) => u.active).map((u) => /** @type {[string, string]} */ ([u.id, u.email]))], "")),
        field("Team", select({ name: "team_id", id: "admin-key-team" }, [["", "The owner's team"], ...teamOptions(d.teams).slice(1)], "")),
      ],
      onCreated: (k) => { showSecretOnce(secretSlot, k); void load(); },
    }));
  }
}
