// Policies (admin): which models and tools each group of people may use. The document (an ordered list, first
// match wins) shown as cards in words and edited as JSON (saved with the version read: a save in between is a
// conflict), a caller tested against the saved document or the draft, and the history of changes.

import { ApiError, api } from "../api.js";
import { announce, clearStaleAnnouncement, errorBox, errorText, field, h, loading, pageTitle, replace, select, table, uid } from "../dom.js";
import { int } from "../format.js";
import { loadDirectory } from "../directory.js";

/**
 * @typedef {{idp_groups?: string[], scim_groups?: string[], teams?: string[], people?: string[], keys?: string[]}} Match
 * @typedef {{models?: {allow?: string[], deny?: string[]}, tools?: {deny?: string[]}, max_tokens?: number,
 *   thinking_budget_tokens?: number, context_1m?: boolean, web_search?: boolean, requests_per_minute?: number}} Rules
 * @typedef {{name: string, description?: string, match?: Match, rules?: Rules}} Policy
 * @typedef {{version: number, updated_at_ms?: number, updated_by?: string, policies: Policy[]}} PolicyDocument
 * @typedef {{matched: {name: string, index: number, why: string} | null, outcome: string,
 *   refusal: {policy: string, rule: string, subject: string, message: string} | null,
 *   applied: {removed_tools?: string[], withheld_results?: number, max_tokens_lowered?: [number, number],
 *   thinking_budget?: number} | null, allowed_models?: string[], requests_per_minute?: number | null}} TestResult
 * @typedef {{id: string, at_ms: number, actor?: string, from_version: number, to_version: number,
 *   diff?: {added?: Policy[], removed?: Policy[], changed?: {name: string}[], reordered?: boolean}}} Change
 */

/** @param {number | null | undefined} ms */
function at(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A comma-separated field as a list. @param {string} text */
function list(text) {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** @param {string[] | undefined} items */
function words(items) {
  return (items ?? []).join(", ");
}

/** @param {import("../app.js").PageContext} ctx */
export default async function policies({ main }) {
  /** @type {PolicyDocument} */
  let doc = { version: 0, policies: [] };
  /** @type {(id: string | null | undefined) => string} */
  let teamName = (id) => id ?? "—";
  /** @type {import("../directory.js").Team[]} */
  let teams = [];

  const summary = h("dl", { class: "facts", id: "policies-summary" });
  const cards = h("div", { id: "policies-cards" }, loading());

  // The editor: the `policies` array, pretty-printed; Save sends the version it was read at.
  const errorId = uid("policies-error");
  const hintId = uid("hint");
  const editor = h("textarea", {
    id: "policies-json", name: "policies", class: "json-editor", rows: 18, spellcheck: "false",
    autocomplete: "off", autocapitalize: "off", "aria-describedby": `${hintId} ${errorId}`,
  });
  const editorError = h("div", { id: errorId, class: "editor-error", role: "alert" });
  const conflict = h("div", { id: "policies-conflict", "aria-live": "polite" });
  const save = h("button", { type: "submit", id: "policies-save" }, "Save policies");
  const revert = h("button", { type: "button", class: "secondary", id: "policies-revert" }, "Discard the draft");
  const editorForm = h("form", { class: "policy-editor", "aria-label": "Edit the policies as JSON", novalidate: true },
    h("div", { class: "field" },
      h("label", { for: editor.id }, "Policies (JSON array, in order)"),
      h("span", { class: "hint", id: hintId },
        "Each policy: name, optional description, match (idp_groups, scim_groups, teams, people, keys; {} matches everyone) " +
        "and rules (models allow/deny, tools deny, max_tokens, thinking_budget_tokens, context_1m, web_search, " +
        "requests_per_minute). The first policy that matches a caller applies."),
      editor),
    editorError,
    h("div", { class: "actions" }, save, revert),
    conflict,
  );

  const testResult = h("div", { id: "policy-test-result", "aria-live": "polite" });
  const teamSlot = h("div", { class: "field-slot" });
  const testForm = buildTestForm(teamSlot);
  const changesSlot = h("div", { id: "policy-changes" }, loading());

  main.append(
    pageTitle("Policies"),
    h("p", { class: "lead" }, "Which models and tools each group of people may use, and the ceilings on what they ask for. " +
      "Policies are checked in order; the first one that matches a caller applies, and a caller no policy matches is unrestricted."),
    h("section", { "aria-labelledby": "p-doc" },
      h("h2", { id: "p-doc" }, "The policy document"),
      summary,
      h("h3", { id: "p-cards" }, "Policies, in order"),
      cards,
      h("h3", { id: "p-edit" }, "Edit"),
      editorForm),
    h("section", { "aria-labelledby": "p-test" },
      h("h2", { id: "p-test" }, "Test a caller"),
      h("p", {}, "What the policies would do to one request from this caller. Nothing is sent to a model."),
      testForm,
      testResult),
    h("section", { "aria-labelledby": "p-changes" },
      h("h2", { id: "p-changes" }, "Changes"),
      changesSlot),
  );

  function showDocument() {
    replace(summary,
      h("dt", {}, "Version"), h("dd", { id: "policies-version" }, String(doc.version)),
      h("dt", {}, "Last saved"), h("dd", {}, doc.updated_at_ms ? `${at(doc.updated_at_ms)} by ${doc.updated_by ?? "unknown"}` : "never"),
      h("dt", {}, "Policies"), h("dd", {}, String(doc.policies.length)),
    );
    replace(cards, policyCards(doc.policies, teamName));
  }

  /** Puts the saved document in the editor (the draft, if any, is replaced). */
  function fillEditor() {
    editor.value = JSON.stringify(doc.policies, null, 2);
    clearEditorError();
    replace(conflict);
  }

  function clearEditorError() {
    replace(editorError);
    editor.removeAttribute("aria-invalid");
  }

  /** @param {string} message */
  function showEditorError(message) {
    replace(editorError, h("p", { class: "error" }, message));
    editor.setAttribute("aria-invalid", "true");
  }

  async function loadDocument() {
    doc = await api.get("/admin/policies");
    doc.policies ??= [];
    showDocument();
  }

  async function loadChanges() {
    try {
      const answer = await api.get("/admin/policies/changes?limit=50");
      replace(changesSlot, changesTable(answer.changes ?? []));
    } catch (err) {
      replace(changesSlot, errorBox(err));
    }
  }

  /**
   * The editor's text as a policy list, or an error message.
   * @returns {{policies: unknown[]} | {error: string}}
   */
  function draft() {
    let parsed;
    try {
      parsed = JSON.parse(editor.value);
    } catch (err) {
      return { error: `The editor does not hold valid JSON: ${errorText(err)}` };
    }
    if (!Array.isArray(parsed)) return { error: "The editor must hold a JSON array of policies ([…]), the first that matches applies." };
    return { policies: parsed };
  }

  editorForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void (async () => {
      clearStaleAnnouncement(0);
      clearEditorError();
      replace(conflict);
      const d = draft();
      if ("error" in d) {
        showEditorError(d.error);
        return;
      }
      save.disabled = true;
      save.setAttribute("aria-busy", "true");
      try {
        /** @type {PolicyDocument} */
        const stored = await api.put("/admin/policies", { version: doc.version, policies: d.policies });
        doc = { ...stored, policies: stored.policies ?? [] };
        showDocument();
        fillEditor();
        announce(`Policies saved: version ${doc.version}`);
        await loadChanges();
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) {
          showConflict(err.message);
        } else {
          showEditorError(errorText(err));
        }
      } finally {
        save.disabled = false;
        save.removeAttribute("aria-busy");
      }
    })();
  });

  /** @param {string} message */
  function showConflict(message) {
    const reload = h("button", { type: "button", id: "policies-reload" }, "Reload");
    reload.addEventListener("click", () => void (async () => {
      reload.disabled = true;
      try {
        await loadDocument();
        fillEditor();
        editor.focus();
        announce(`Reloaded version ${doc.version}; the editor now holds the saved policies.`);
        await loadChanges();
      } catch (err) {
        reload.disabled = false;
        replace(conflict, errorBox(err));
      }
    })());
    replace(conflict,
      h("div", { class: "card conflict", role: "alert" },
        h("p", { class: "error" }, message),
        h("p", {}, "Someone saved the policies after you opened them. Reload shows their version and replaces the editor " +
          "with it: your draft stays in the editor until you press Reload, so copy what you want to keep first."),
        reload));
  }

  revert.addEventListener("click", () => {
    fillEditor();
    editor.focus();
  });

  testForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const button = /** @type {HTMLButtonElement} */ (testForm.querySelector("button[type=submit]"));
    void (async () => {
      const v = /** @type {Record<string, string>} */ ({});
      for (const [k, val] of new FormData(testForm).entries()) if (typeof val === "string") v[k] = val.trim();
      /** @type {Record<string, unknown>} */
      const caller = {};
      if (v.email) caller.email = v.email;
      if (v.team) caller.team = v.team;
      if (v.key_id) caller.key_id = v.key_id;
      if (list(v.idp_groups ?? "").length) caller.idp_groups = list(v.idp_groups ?? "");
      if (list(v.scim_groups ?? "").length) caller.scim_groups = list(v.scim_groups ?? "");
      /** @type {Record<string, unknown>} */
      const request = {};
      if (v.model) request.model = v.model;
      if (list(v.tools ?? "").length) request.tools = list(v.tools ?? "");
      if (v.max_tokens) request.max_tokens = Number(v.max_tokens);
      if (v.thinking_budget_tokens) request.thinking_budget_tokens = Number(v.thinking_budget_tokens);
      /** @type {Record<string, unknown>} */
      const body = { caller, request };
      if (v.use_draft) {
        const d = draft();
        if ("error" in d) {
          replace(testResult, h("p", { class: "error", role: "alert" }, d.error));
          return;
        }
        body.policies = d.policies;
      }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      replace(testResult, loading("Testing…"));
      try {
        /** @type {TestResult} */
        const r = await api.post("/admin/policies/test", body);
        replace(testResult, testAnswer(r, Boolean(v.use_draft)));
      } catch (err) {
        replace(testResult, errorBox(err));
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    })();
  });

  const [docResult, dirResult] = await Promise.allSettled([loadDocument(), loadDirectory()]);
  if (dirResult.status === "fulfilled") {
    teams = dirResult.value.teams;
    teamName = dirResult.value.teamName;
  }
  replace(teamSlot, teamField(teams));
  if (docResult.status === "rejected") {
    replace(cards, errorBox(docResult.reason));
    replace(summary);
  } else {
    showDocument();
    fillEditor();
  }
  await loadChanges();
}

/**
 * The team of the tested caller: a choice of the teams (their ids are sent), or a text field when they could not
 * be read.
 * @param {import("../directory.js").Team[]} teams
 */
function teamField(teams) {
  if (teams.length === 0) {
    return field("Team", h("input", { name: "team", id: "policy-test-team", autocomplete: "off" }), "Id or name, optional");
  }
  return field("Team", select({ name: "team", id: "policy-test-team" },
    [["", "No team"], ...teams.map((t) => /** @type {[string, string]} */ ([t.id, t.name]))], ""));
}

/** @param {HTMLElement} teamSlot */
function buildTestForm(teamSlot) {
  const draftBox = h("input", { type: "checkbox", name: "use_draft", value: "yes", id: "policy-test-draft" });
  return h("form", { class: "policy-test", "aria-label": "Test a caller" },
    h("fieldset", {}, h("legend", {}, "Caller"),
      h("div", { class: "inline-form" },
        field("Email", h("input", { name: "email", type: "email", id: "policy-test-email", autocomplete: "off" })),
        field("IdP groups", h("input", { name: "idp_groups", id: "policy-test-idp", autocomplete: "off" }), "Comma-separated"),
        field("SCIM groups", h("input", { name: "scim_groups", id: "policy-test-scim", autocomplete: "off" }), "Comma-separated"),
        teamSlot,
        field("Key id", h("input", { name: "key_id", id: "policy-test-key", autocomplete: "off", placeholder: "key_…" })))),
    h("fieldset", {}, h("legend", {}, "Request"),
      h("div", { class: "inline-form" },
        field("Model", h("input", { name: "model", id: "policy-test-model", autocomplete: "off", placeholder: "claude-sonnet-4-6" })),
        field("Tools", h("input", { name: "tools", id: "policy-test-tools", autocomplete: "off" }), "Comma-separated names"),
        field("max_tokens", h("input", { name: "max_tokens", type: "number", min: 1, step: 1, id: "policy-test-max" }), "Optional"),
        field("Thinking budget", h("input", { name: "thinking_budget_tokens", type: "number", min: 0, step: 1, id: "policy-test-thinking" }),
          "Optional, in tokens"))),
    h("div", { class: "toolbar" },
      h("label", { for: draftBox.id, class: "check" }, draftBox, "Use the draft in the editor"),
      h("button", { type: "submit", id: "policy-test-run" }, "Test")),
  );
}

/**
 * The policies as cards, in order, each in words.
 * @param {Policy[]} list
 * @param {(id: string) => string} teamName
 */
function policyCards(list, teamName) {
  if (list.length === 0) {
    return h("p", { class: "empty" }, "No policies: every caller is unrestricted.");
  }
  return h("ol", { class: "policy-list" }, list.map((p, i) => {
    const headingId = uid("policy");
    return h("li", { class: "card policy-card", "aria-labelledby": headingId },
      h("h4", { id: headingId }, h("span", { class: "order" }, `${i + 1}.`), " ", p.name),
      p.description ? h("p", { class: "description" }, p.description) : null,
      h("dl", { class: "facts" },
        h("dt", {}, "Matches"), h("dd", {}, matchWords(p.match ?? {}, teamName)),
        h("dt", {}, "Rules"), h("dd", {}, ruleList(p.rules ?? {}))));
  }));
}

/**
 * @param {Match} m
 * @param {(id: string) => string} teamName
 */
function matchWords(m, teamName) {
  /** @type {string[]} */
  const parts = [];
  if (m.idp_groups?.length) parts.push(`IdP groups ${words(m.idp_groups)}`);
  if (m.scim_groups?.length) parts.push(`SCIM groups ${words(m.scim_groups)}`);
  if (m.teams?.length) parts.push(`teams ${m.teams.map((t) => teamName(t)).join(", ")}`);
  if (m.people?.length) parts.push(`people ${words(m.people)}`);
  if (m.keys?.length) parts.push(`keys ${words(m.keys)}`);
  if (parts.length === 0) return "Everyone (the match is empty)";
  return `Anyone in ${parts.join("; or ")}`;
}

/** @param {Rules} r */
function ruleList(r) {
  /** @type {string[]} */
  const lines = [];
  if (r.models?.allow) lines.push(`Only these models: ${words(r.models.allow)}`);
  if (r.models?.deny?.length) lines.push(`Not these models: ${words(r.models.deny)}`);
  if (r.tools?.deny?.length) lines.push(`Tools removed from requests: ${words(r.tools.deny)}`);
  if (r.max_tokens !== undefined) lines.push(`max_tokens at most ${int(r.max_tokens)} (larger requests are lowered)`);
  if (r.thinking_budget_tokens !== undefined) {
    lines.push(r.thinking_budget_tokens === 0 ? "Extended thinking off"
      : `Thinking budget at most ${int(r.thinking_budget_tokens)} tokens`);
  }
  if (r.context_1m !== undefined) lines.push(r.context_1m ? "1M-token context allowed" : "1M-token context not allowed");
  if (r.web_search !== undefined) lines.push(r.web_search ? "Web search allowed" : "Web search off");
  if (r.requests_per_minute !== undefined) lines.push(`At most ${int(r.requests_per_minute)} requests per minute per person`);
  if (lines.length === 0) return "None: the people it matches are unrestricted (later policies are not consulted).";
  return h("ul", { class: "rules" }, lines.map((l) => h("li", {}, l)));
}

/**
 * @param {TestResult} r
 * @param {boolean} usedDraft
 */
function testAnswer(r, usedDraft) {
  const applied = r.applied ?? null;
  const refused = r.outcome === "refused";
  /** @type {(Node | string)[]} */
  const facts = [
    h("dt", {}, "Policy"),
    h("dd", { id: "policy-test-matched" }, r.matched
      ? [h("strong", {}, `${r.matched.index + 1}. ${r.matched.name}`), `, because ${r.matched.why}`]
      : "No policy matches: unrestricted"),
    h("dt", {}, "Outcome"),
    h("dd", { id: "policy-test-outcome" },
      h("span", { class: `badge ${refused ? "warn" : "ok"}` }, refused ? "refused" : "allowed")),
  ];
  if (r.refusal) {
    facts.push(h("dt", {}, "Refusal"), h("dd", { id: "policy-test-refusal" }, r.refusal.message));
  }
  if (applied) {
    facts.push(h("dt", {}, "Tools removed"), h("dd", {}, words(applied.removed_tools) || "none"));
    if (applied.withheld_results) facts.push(h("dt", {}, "Results withheld"), h("dd", {}, String(applied.withheld_results)));
    if (applied.max_tokens_lowered) {
      const [asked, now] = applied.max_tokens_lowered;
      facts.push(h("dt", {}, "max_tokens"), h("dd", {}, `lowered from ${int(asked)} to ${int(now)}`));
    }
    if (applied.thinking_budget !== undefined && applied.thinking_budget !== null) {
      facts.push(h("dt", {}, "Thinking"), h("dd", {}, applied.thinking_budget === 0
        ? "turned off" : `budget lowered to ${int(applied.thinking_budget)} tokens`));
    }
  }
  facts.push(h("dt", {}, "Models allowed"), h("dd", { class: "wrap" }, words(r.allowed_models) || "none"));
  facts.push(h("dt", {}, "Requests per minute"), h("dd", {},
    r.requests_per_minute ? `${int(r.requests_per_minute)} (the policy's limit)` : "the organisation's per-person limit"));
  return h("div", { class: "card" },
    h("h3", {}, usedDraft ? "Result with the draft" : "Result with the saved policies"),
    h("dl", { class: "facts" }, facts));
}

/** @param {Change[]} changes */
function changesTable(changes) {
  return table({
    caption: "Policy changes, newest first",
    columns: ["When", "Who", "Version", "What changed"],
    rows: changes,
    empty: "No changes yet: the policies were never saved.",
    row: (c) => {
      const d = c.diff ?? {};
      /** @type {string[]} */
      const what = [];
      if (d.added?.length) what.push(`added ${d.added.map((p) => p.name).join(", ")}`);
      if (d.removed?.length) what.push(`removed ${d.removed.map((p) => p.name).join(", ")}`);
      if (d.changed?.length) what.push(`changed ${d.changed.map((p) => p.name).join(", ")}`);
      if (d.reordered) what.push("reordered");
      return [at(c.at_ms), c.actor ?? "—", `${c.from_version} → ${c.to_version}`, what.join("; ") || "no difference"];
    },
  });
}
