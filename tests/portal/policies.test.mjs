// The Policies page in real Chromium against a real `sluice serve`: the empty document (version 0), a two-policy
// document written in the JSON editor and saved (version 1, both shown as cards), a document naming an unknown
// model refused with the error's path next to the editor and nothing saved, a stale save answered with the
// conflict and a Reload, a caller tested against the saved policies and the draft, the change history, axe at
// 1280 and 700 px; and a member (signed in through a loopback OpenID provider) is offered no Policies page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startOidcProvider } from "./oidc.mjs";
import { launchBrowser, screenshot, seriousA11yViolations, signInWithPassword, startSluice, watchedPage } from "./support.mjs";

const AUDIENCE = "sluice-policies-test";

/** @type {import("./support.mjs").Sluice} */
let sluice;
/** @type {import("playwright-core").Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startOidcProvider>>} */
let idp;

before(async () => {
  idp = await startOidcProvider({ audience: AUDIENCE });
  sluice = await startSluice({ env: { OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE, OIDC_ALLOWED_DOMAINS: "corp.example" } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sluice?.stop();
  await idp?.stop();
});

/** @param {{problems: string[]}} w */
function assertNoProblems(w) {
  assert.deepEqual(w.problems, [], `the page reported problems:\n${w.problems.join("\n")}`);
}

/**
 * A page signed in as the bootstrap admin.
 * @param {{viewport?: {width: number, height: number}}} [opts]
 */
async function adminPage(opts) {
  const w = await watchedPage(browser, sluice.url, opts);
  w.expect("/auth/me", 401);
  await w.page.goto(`${sluice.url}/`);
  await signInWithPassword(w.page, sluice.password);
  return w;
}

/** @param {import("playwright-core").Page} page */
async function policiesLoaded(page) {
  await page.getByRole("heading", { level: 1, name: "Policies" }).waitFor();
  await page.locator("main[aria-busy]").waitFor({ state: "detached" });
  await page.locator("main .loading").first().waitFor({ state: "detached" });
}

/**
 * Calls the admin API with the page's session (and its CSRF token for writes).
 * @param {import("playwright-core").Page} page
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<{status: number, body: any}>}
 */
function callApi(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const me = await (await fetch("/auth/me")).json();
    const resp = await fetch(/** @type {string} */ (path), {
      method: /** @type {string} */ (method),
      headers: { "content-type": "application/json", "x-csrf-token": me.csrf_token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    return { status: resp.status, body: text ? JSON.parse(text) : null };
  }, /** @type {[string, string, unknown]} */ ([method, path, body]));
}

const TWO_POLICIES = [
  {
    name: "contractors",
    description: "Contractors: no Opus, no shell",
    match: { idp_groups: ["contractors"], scim_groups: ["Contractors EU"] },
    rules: { models: { deny: ["opus"] }, tools: { deny: ["Bash", "mcp__github__*"] }, max_tokens: 4096, web_search: false },
  },
  {
    name: "everyone",
    match: {},
    rules: { thinking_budget_tokens: 0, requests_per_minute: 60 },
  },
];

test("the admin writes, saves and tests policies; a bad document and a stale save are refused in words", async () => {
  const w = await adminPage();
  const { page } = w;
  try {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Policies", exact: true }).click();
    await page.waitForURL(/#\/admin\/policies$/);
    await policiesLoaded(page);
    const version = page.locator("#policies-version");
    assert.equal(await version.textContent(), "0");
    await page.getByText("No policies: every caller is unrestricted.").waitFor();
    const editor = page.getByRole("textbox", { name: "Policies (JSON array, in order)" });
    assert.deepEqual(JSON.parse(await editor.inputValue()), []);
    assert.match(await editor.evaluate((el) => getComputedStyle(el).fontFamily), /mono|Menlo|Consolas/i);
    await page.getByRole("heading", { level: 2, name: "Changes" }).waitFor();
    await page.getByText("No changes yet").waitFor();

    // Two policies written in the editor and saved: version 1, both shown as cards in order, in words.
    await editor.fill(JSON.stringify(TWO_POLICIES, null, 2));
    await page.getByRole("button", { name: "Save policies" }).click();
    await page.getByRole("status").filter({ hasText: "Policies saved: version 1" }).waitFor();
    assert.equal(await version.textContent(), "1");
    const cards = page.locator("#policies-cards li.policy-card");
    assert.equal(await cards.count(), 2);
    const first = page.getByRole("listitem", { name: "1. contractors" });
    const firstText = (await first.textContent()) ?? "";
    assert.match(firstText, /IdP groups contractors/);
    assert.match(firstText, /SCIM groups Contractors EU/);
    assert.match(firstText, /Not these models: opus/);
    assert.match(firstText, /Tools removed from requests: Bash, mcp__github__\*/);
    assert.match(firstText, /max_tokens at most 4,096/);
    assert.match(firstText, /Web search off/);
    const second = (await page.getByRole("listitem", { name: "2. everyone" }).textContent()) ?? "";
    assert.match(second, /Everyone/);
    assert.match(second, /Extended thinking off/);
    assert.match(second, /At most 60 requests per minute per person/);
    assert.match((await page.locator("#policies-summary").textContent()) ?? "", /UTC by /);

    // A model the gateway does not serve: the error, starting with its path, next to the editor; nothing saved.
    w.expect("/admin/policies", 400);
    const bad = structuredClone(TWO_POLICIES);
    bad[0].rules.models = { deny: ["opus"], allow: ["claude-no-such-model-9"] };
    await editor.fill(JSON.stringify(bad, null, 2));
    await page.getByRole("button", { name: "Save policies" }).click();
    const refusal = page.locator("form.policy-editor").getByRole("alert").filter({ hasText: "policies[0].rules.models.allow[0]" });
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? "", /^policies\[0\]\.rules\.models\.allow\[0\]: .*claude-no-such-model-9/);
    assert.equal(await editor.getAttribute("aria-invalid"), "true");
    const describedBy = (await editor.getAttribute("aria-describedby")) ?? "";
    const errorId = describedBy.split(" ").find((id) => id.startsWith("policies-error"));
    assert.ok(errorId, `the editor is not described by its error: ${describedBy}`);
    assert.equal(await page.locator(`#${errorId}`).getAttribute("role"), "alert");
    assert.equal(await version.textContent(), "1");
    const stored = await callApi(page, "GET", "/admin/policies");
    assert.equal(stored.body.version, 1, "the bad document was saved");
    assert.deepEqual(stored.body.policies.map((/** @type {any} */ p) => p.name), ["contractors", "everyone"]);

    // Not JSON at all: said next to the editor, no request made.
    await editor.fill("[{\"name\": ");
    await page.getByRole("button", { name: "Save policies" }).click();
    await page.getByRole("alert").filter({ hasText: "The editor does not hold valid JSON" }).waitFor();

    // Someone else saves (as another admin would, with the version they read) before this page does.
    const other = await callApi(page, "PUT", "/admin/policies", { version: 1, policies: [TWO_POLICIES[1], TWO_POLICIES[0]] });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(other.body.version, 2);
    w.expect("/admin/policies", 409);
    const mine = [{ ...TWO_POLICIES[0], name: "my-draft" }];
    await editor.fill(JSON.stringify(mine, null, 2));
    await page.getByRole("button", { name: "Save policies" }).click();
    const conflict = page.locator("#policies-conflict [role=alert]");
    await conflict.waitFor();
    assert.match((await conflict.textContent()) ?? "", /changed since version/);
    assert.match((await conflict.textContent()) ?? "", /replaces the editor/);
    // The draft is still there until Reload is pressed.
    assert.equal(JSON.parse(await editor.inputValue())[0].name, "my-draft");
    assert.equal(await version.textContent(), "1");
    await page.getByRole("button", { name: "Reload", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Reloaded version 2" }).waitFor();
    assert.equal(await version.textContent(), "2");
    assert.deepEqual(JSON.parse(await editor.inputValue()).map((/** @type {any} */ p) => p.name), ["everyone", "contractors"]);
    assert.equal(await page.locator("#policies-conflict").textContent(), "");

    // Put contractors first again, from the page (version 2 read by the reload).
    await editor.fill(JSON.stringify(TWO_POLICIES, null, 2));
    await page.getByRole("button", { name: "Save policies" }).click();
    await page.getByRole("status").filter({ hasText: "Policies saved: version 3" }).waitFor();

    // A caller in the contractors' IdP group asking for Opus: the first policy matches, and the model is refused.
    const result = page.locator("#policy-test-result");
    await page.getByLabel("Email").fill("dev@corp.example");
    await page.getByLabel("IdP groups").fill("staff, contractors");
    await page.getByLabel("Model").fill("claude-opus-4-8");
    await page.getByLabel("Tools", { exact: true }).fill("Bash, Read");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await result.getByRole("heading", { name: "Result with the saved policies" }).waitFor();
    assert.match((await page.locator("#policy-test-matched").textContent()) ?? "", /^1\. contractors, because .*contractors/);
    assert.equal(await page.locator("#policy-test-outcome").textContent(), "refused");
    assert.match((await page.locator("#policy-test-refusal").textContent()) ?? "", /contractors/);
    assert.match((await page.locator("#policy-test-refusal").textContent()) ?? "", /opus/i);

    // An allowed model: the request goes on, with the denied tool removed and max_tokens lowered.
    await page.getByLabel("Model").fill("claude-haiku-4-5");
    await page.getByLabel("max_tokens").fill("32000");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.locator("#policy-test-outcome").filter({ hasText: "allowed" }).waitFor();
    const allowed = (await result.textContent()) ?? "";
    assert.match(allowed, /Tools removed\s*Bash/);
    assert.match(allowed, /lowered from 32,000 to 4,096/);
    assert.match(allowed, /claude-haiku-4-5/);

    // The draft in the editor (contractors gone) instead of the saved policies: everyone's policy matches.
    await editor.fill(JSON.stringify([TWO_POLICIES[1]], null, 2));
    await page.getByLabel("Use the draft in the editor").check();
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await result.getByRole("heading", { name: "Result with the draft" }).waitFor();
    assert.match((await page.locator("#policy-test-matched").textContent()) ?? "", /^1\. everyone, because/);
    assert.equal(await page.locator("#policy-test-outcome").textContent(), "allowed");

    // No caller matches an empty draft: unrestricted.
    await editor.fill("[]");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.locator("#policy-test-matched").filter({ hasText: "No policy matches: unrestricted" }).waitFor();

    // The change history: newest first, each save with who, versions and the names.
    const changes = page.getByRole("table", { name: "Policy changes, newest first" });
    await changes.getByRole("row").nth(3).waitFor();
    const rows = await changes.locator("tbody tr").allTextContents();
    assert.equal(rows.length, 3, rows.join("\n"));
    assert.match(rows[0], /2 → 3.*reordered/);
    assert.match(rows[1], /1 → 2.*reordered/);
    assert.match(rows[2], /0 → 1.*added contractors, everyone/);
    assert.match(rows[2], /admin/);

    // Accessible at 1280 px, with a refusal on screen.
    await page.getByRole("button", { name: "Discard the draft" }).click();
    await page.getByLabel("Use the draft in the editor").uncheck();
    await page.getByLabel("Model").fill("claude-opus-4-8");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.locator("#policy-test-outcome").filter({ hasText: "refused" }).waitFor();
    await page.locator("h1").focus();
    assert.deepEqual(await seriousA11yViolations(page), []);
    await screenshot(page, "admin-policies-1280");
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});

test("the Policies page at 700 px: no sideways scroll, no serious accessibility violation", async () => {
  const w = await adminPage({ viewport: { width: 700, height: 900 } });
  const { page } = w;
  try {
    await page.goto(`${sluice.url}/#/admin/policies`);
    await policiesLoaded(page);
    assert.equal(await page.locator("main .error").count(), 0, `the page shows an error: ${await page.locator("main .error").allTextContents()}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 700px`);
    assert.deepEqual(await seriousA11yViolations(page), []);
    // A test result and an editor error on screen are checked too.
    await page.getByLabel("IdP groups").fill("contractors");
    await page.getByLabel("Model").fill("claude-opus-4-8");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.locator("#policy-test-outcome").waitFor();
    await page.getByRole("textbox", { name: "Policies (JSON array, in order)" }).fill("not json");
    await page.getByRole("button", { name: "Save policies" }).click();
    await page.getByRole("alert").filter({ hasText: "The editor does not hold valid JSON" }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), []);
    const after = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(after <= 0, `the page scrolls sideways by ${after}px at 700px with a result shown`);
    await screenshot(page, "admin-policies-700");
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});

test("a member is not offered the Policies page, and is refused it", async () => {
  const admin = await adminPage();
  try {
    const added = await callApi(admin.page, "POST", "/admin/users", { email: "lea@corp.example", role: "member" });
    assert.ok(added.status === 200 || added.status === 201, JSON.stringify(added.body));
    assertNoProblems(admin);
  } finally {
    await admin.context.close();
  }

  const w = await watchedPage(browser, sluice.url, { navigateTo: [idp.issuer] });
  const { page } = w;
  try {
    w.expect("/auth/me", 401);
    await page.goto(`${sluice.url}/`);
    idp.signInAs = "lea@corp.example";
    await page.getByRole("button", { name: /^Sign in with / }).click();
    await page.getByRole("heading", { level: 1, name: "My keys and usage" }).waitFor();
    assert.match((await page.locator("header").textContent()) ?? "", /member/);
    const links = await page.locator("header nav a").allTextContents();
    assert.ok(!links.includes("Policies"), `a member is offered Policies: ${links.join(", ")}`);
    await page.goto(`${sluice.url}/#/admin/policies`);
    await page.getByRole("heading", { level: 1, name: "Not available" }).waitFor();
    w.expect("/admin/policies", 403);
    assert.equal(await page.evaluate(async () => (await fetch("/admin/policies")).status), 403);
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});

test("a policy for a team names the team, and a caller chosen by team matches it", async () => {
  const w = await adminPage();
  const { page } = w;
  try {
    const team = await callApi(page, "POST", "/admin/teams", { name: "platform" });
    assert.equal(team.status, 201, JSON.stringify(team.body));
    const read = await callApi(page, "GET", "/admin/policies");
    const saved = await callApi(page, "PUT", "/admin/policies", {
      version: read.body.version,
      policies: [{ name: "platform-team", match: { teams: ["platform"] }, rules: { models: { allow: ["sonnet"] } } }],
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    // The team's name given on write is stored as its id; the page shows the name again.
    assert.equal(saved.body.policies[0].match.teams[0], team.body.id ?? team.body.team?.id);
    await page.goto(`${sluice.url}/#/admin/policies`);
    await policiesLoaded(page);
    const card = (await page.getByRole("listitem", { name: "1. platform-team" }).textContent()) ?? "";
    assert.match(card, /Anyone in teams platform/);
    assert.match(card, /Only these models: sonnet/);
    await page.getByLabel("Team", { exact: true }).selectOption({ label: "platform" });
    await page.getByLabel("Model").fill("claude-haiku-4-5");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.locator("#policy-test-outcome").filter({ hasText: "refused" }).waitFor();
    assert.match((await page.locator("#policy-test-matched").textContent()) ?? "", /^1\. platform-team, because team /);
    assert.match((await page.locator("#policy-test-refusal").textContent()) ?? "", /platform-team/);
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});
