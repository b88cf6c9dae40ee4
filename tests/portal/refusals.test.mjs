// The analytics "Refusals" tab in real Chromium against a real `sluice serve`: a request a policy refused shows up
// in the org's refusals by policy and by person, with no console error, CSP violation or accessibility problem.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  launchBrowser, screenshot, seriousA11yViolations, signInWithPassword, sleep, startSluice, watchedPage,
} from "./support.mjs";

/** @type {import("./support.mjs").Sluice} */
let sluice;
/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  sluice = await startSluice();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sluice?.stop();
});

test("a request a policy refused is counted on the Refusals tab, by policy", async () => {
  const w = await watchedPage(browser, sluice.url);
  const { page } = w;
  try {
    w.expect("/auth/me", 401);
    await page.goto(`${sluice.url}/`);
    await signInWithPassword(page, sluice.password);
    // A key of the admin's, and a policy that denies Opus to that key.
    const key = await page.evaluate(async () => {
      const me = await (await fetch("/auth/me")).json();
      const headers = { "content-type": "application/json", "x-csrf-token": me.csrf_token };
      const created = await (await fetch("/admin/keys", {
        method: "POST", headers, body: JSON.stringify({ name: "refusal-probe" }),
      })).json();
      const current = await (await fetch("/admin/policies")).json();
      const saved = await fetch("/admin/policies", {
        method: "PUT",
        headers,
        body: JSON.stringify({
          version: current.version,
          policies: [{ name: "no opus for probes", match: { keys: [created.id] }, rules: { models: { deny: ["opus"] } } }],
        }),
      });
      if (saved.status !== 200) throw new Error(`saving the policy answered ${saved.status}: ${await saved.text()}`);
      return created.key;
    });
    const refused = await fetch(`${sluice.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(refused.status, 400);
    assert.match((await refused.json()).error.message, /"no opus for probes"/);

    // The spend consumer rolls the refusal up in-process; give it a moment.
    let total = 0;
    for (let i = 0; i < 40 && total < 1; i += 1) {
      // A new hash each time, so the page renders again.
      await page.goto(`${sluice.url}/#/admin/analytics?tab=refusals&days=1&attempt=${i}`);
      await page.locator("#refusals-total").waitFor();
      total = Number(((await page.locator("#refusals-total").textContent()) ?? "0").replace(/,/g, ""));
      if (total < 1) await sleep(250);
    }
    assert.equal(total, 1, "the Refusals tab never showed the refusal");
    await page.getByRole("tab", { name: "Refusals", selected: true }).waitFor();
    const byPolicy = page.getByRole("table", { name: "Refusals by policy" });
    await byPolicy.getByRole("cell", { name: "no opus for probes" }).waitFor();
    assert.deepEqual(await seriousA11yViolations(page), []);
    await screenshot(page, "admin-analytics-refusals-1280");
    assert.deepEqual(w.problems, [], `the page reported problems:\n${w.problems.join("\n")}`);
  } finally {
    await w.context.close();
  }
});
