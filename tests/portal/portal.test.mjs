// The portal in real Chromium against a real `sluice serve` (+ the Bedrock simulator): password sign-in, the
// admin's people/teams/keys work, a key's secret shown once, keyboard reach, sign-out, and no CSP violation,
// console error, failed request or request to another host on any page.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { createServer } from "node:http";

import { startOidcProvider } from "./oidc.mjs";
import {
  launchBrowser, screenshot, seriousA11yViolations, signInWithPassword, sleep, startSluice, watchedPage,
} from "./support.mjs";

/** @type {import("./support.mjs").Sluice} */
let sluice;
/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  // Webhooks may go to this machine's loopback receiver (the notifications test).
  sluice = await startSluice({ env: { SLUICE_ALLOW_PRIVATE_WEBHOOKS: "true" } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sluice?.stop();
});

/**
 * A link of the main navigation.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

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

/**
 * What has keyboard focus: its role-ish tag and accessible name.
 * @param {import("playwright-core").Page} page
 */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { tag: "body", name: "", outline: "none" };
    const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
    const name = el.getAttribute("aria-label") ?? labelled ?? el.textContent ?? "";
    return { tag: el.tagName.toLowerCase(), name: name.trim(), outline: getComputedStyle(el).outlineStyle };
  });
}

/** @param {import("playwright-core").Page} page */
async function focusedName(page) {
  return (await focused(page)).name;
}

/**
 * Presses Tab until `match` has focus (at most `max` times); returns what was passed on the way.
 * @param {import("playwright-core").Page} page
 * @param {(f: {tag: string, name: string, outline: string}) => boolean} match
 */
async function tabTo(page, match, max = 60) {
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    seen.push(`${f.tag}:${f.name}`);
    if (match(f)) return f;
  }
  assert.fail(`Tab never reached it; focus went through: ${seen.join(" | ")}`);
}

describe("sign-in", () => {
  test("the sign-in page loads with no CSP violation or console error, and the admin signs in by keyboard alone", async () => {
    const w = await watchedPage(browser, sluice.url);
    try {
      w.expect("/auth/me", 401);
      const resp = await w.page.goto(`${sluice.url}/`);
      assert.equal(resp?.status(), 200);
      const csp = resp?.headers()["content-security-policy"] ?? "";
      assert.match(csp, /script-src 'self'/, `no strict CSP on the portal: ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline/);
      await w.page.waitForURL(/#\/signin$/);
      await w.page.getByRole("heading", { level: 1, name: "Sign in to Sluice" }).waitFor();
      await w.page.locator("#signin-submit").waitFor();
      assert.deepEqual(await seriousA11yViolations(w.page), []);
      await screenshot(w.page, "signin");

      const user = await tabTo(w.page, (f) => f.tag === "input" && f.name === "Username");
      assert.notEqual(user.outline, "none", "the focused field shows no focus outline");
      await w.page.keyboard.press("Tab");
      assert.deepEqual(await focused(w.page).then((f) => [f.tag, f.name]), ["input", "Password"]);
      await w.page.keyboard.type(sluice.password);
      await w.page.keyboard.press("Enter");
      await w.page.waitForURL(/#\/me$/);
      await w.page.getByRole("heading", { level: 1, name: "My keys and usage" }).waitFor();

      // The main actions of the signed-in page are reachable with Tab, and focus is visible on them.
      await w.page.locator("h1").focus();
      const people = await tabTo(w.page, (f) => f.tag === "a" && f.name === "People");
      assert.notEqual(people.outline, "none");
      await tabTo(w.page, (f) => f.tag === "button" && f.name === "Sign out");
      const create = await tabTo(w.page, (f) => f.tag === "button" && f.name === "Create key");
      assert.notEqual(create.outline, "none");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("a wrong password is refused and said in words", async () => {
    const w = await watchedPage(browser, sluice.url);
    try {
      w.expect("/auth/me", 401);
      w.expect("/auth/session", 401);
      await w.page.goto(`${sluice.url}/`);
      await w.page.getByLabel("Username").fill("admin");
      await w.page.getByLabel("Password").fill("not-the-password");
      await w.page.getByRole("button", { name: "Sign in", exact: true }).click();
      await w.page.getByRole("alert").filter({ hasText: "Invalid username or password" }).waitFor();
      assert.match(w.page.url(), /#\/signin$/);
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });
});

describe("the administrator", () => {
  test("creates a team, a person and a key for them; the secret is shown once, works, then only its prefix", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await nav(page, "Teams").click();
      await page.getByLabel("Team name").fill("platform");
      await page.getByRole("button", { name: "Create team" }).click();
      await page.getByRole("status").filter({ hasText: "Team platform created" }).waitFor();
      await page.getByRole("link", { name: "platform" }).waitFor();

      await nav(page, "People").click();
      await page.getByRole("heading", { level: 1, name: "People" }).waitFor();
      await page.getByLabel("Email").fill("ana@corp.example");
      await page.getByLabel("Team", { exact: true }).selectOption({ label: "platform" });
      await page.getByRole("button", { name: "Add person" }).click();
      const row = page.getByRole("row").filter({ hasText: "ana@corp.example" });
      await row.waitFor();
      assert.equal(await row.getByLabel("Team of ana@corp.example").inputValue() !== "", true, "ana was not put in the team");
      assert.equal(await row.getByLabel("Role of ana@corp.example").inputValue(), "member");
      // A role changed with the keyboard is saved, and focus stays on the control.
      const role = row.getByLabel("Role of ana@corp.example");
      await role.focus();
      await role.selectOption("admin");
      await page.getByRole("status").filter({ hasText: "ana@corp.example is now admin" }).waitFor();
      assert.deepEqual(await focused(page).then((f) => [f.tag, f.name]), ["select", "Role of ana@corp.example"]);
      await role.selectOption("member");
      await page.getByRole("status").filter({ hasText: "ana@corp.example is now member" }).waitFor();

      await nav(page, "Keys").click();
      await page.getByRole("heading", { level: 1, name: "All keys" }).waitFor();
      await page.getByLabel("Key name").fill("ana-laptop");
      await page.getByLabel("Owner").selectOption({ label: "ana@corp.example" });
      await page.getByRole("button", { name: "Create key" }).click();
      const secretBox = page.getByLabel("the new key's secret", { exact: true });
      await secretBox.waitFor();
      const secret = (await secretBox.textContent())?.trim() ?? "";
      assert.match(secret, /^sk-sluice-\S{20,}$/);

      // The key answers a real request through the gateway (the Bedrock simulator behind it).
      const answer = await fetch(`${sluice.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 64, messages: [{ role: "user", content: "hello from the portal test" }] }),
      });
      assert.equal(answer.status, 200, await answer.text());

      const keyRow = page.getByRole("row").filter({ hasText: "ana-laptop" });
      await keyRow.waitFor();
      assert.match((await keyRow.textContent()) ?? "", /ana@corp\.example/);
      assert.match((await keyRow.textContent()) ?? "", /platform/);
      const prefix = ((await keyRow.locator("code.prefix").textContent()) ?? "").replace("…", "");
      assert.ok(prefix.length >= 8 && secret.startsWith(prefix), `prefix ${prefix} is not the start of the secret`);

      await page.getByRole("button", { name: "Done, I have copied it" }).click();
      assert.equal(await page.locator("#new-key").count(), 0);
      assert.ok(!(await page.content()).includes(secret), "the secret is still in the page after Done");
      await page.reload();
      await page.getByRole("row").filter({ hasText: "ana-laptop" }).waitFor();
      assert.ok(!(await page.content()).includes(secret), "the secret is shown again after a reload");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("manages a team: members added by email and removed, a budget saved, the team's keys listed", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await nav(page, "People").click();
      await page.getByLabel("Email").fill("bo@corp.example");
      await page.getByRole("button", { name: "Add person" }).click();
      await page.getByRole("row").filter({ hasText: "bo@corp.example" }).waitFor();

      await nav(page, "Teams").click();
      await page.getByLabel("Team name").fill("research");
      await page.getByRole("button", { name: "Create team" }).click();
      await page.getByRole("link", { name: "research", exact: true }).click();
      await page.getByRole("heading", { level: 2, name: "Team research" }).waitFor();
      await page.getByLabel("Email").fill("bo@corp.example");
      await page.getByRole("button", { name: "Add member" }).click();
      await page.getByRole("status").filter({ hasText: "bo@corp.example added to research" }).waitFor();
      const member = page.getByRole("table", { name: "Members of research" }).getByRole("row").filter({ hasText: "bo@corp.example" });
      await member.waitFor();

      await page.getByLabel("Team total (USD)").fill("250");
      await page.getByLabel("Period").selectOption("weekly");
      await page.getByLabel("Policy").selectOption("shaped");
      await page.getByLabel("Each member's default (USD)").fill("40");
      await page.getByRole("button", { name: "Save budget" }).click();
      await page.getByRole("status").filter({ hasText: "Budget of research saved" }).waitFor();
      assert.match((await page.locator("main").textContent()) ?? "", /Budget: \$250\.00 weekly, each member \$40\.00/);

      // The API holds what the page said it saved.
      const saved = await page.evaluate(async () => {
        const me = await (await fetch("/auth/me")).json();
        const teams = (await (await fetch("/admin/teams")).json()).teams;
        const id = teams.find((/** @type {any} */ t) => t.name === "research").id;
        const answer = await fetch(`/admin/teams/${id}/budget`, {
          method: "PUT", headers: { "content-type": "application/json", "x-csrf-token": me.csrf_token }, body: "{}",
        });
        return (await answer.json()).team;
      });
      assert.equal(saved.budget_amount_usd, 250);
      assert.equal(saved.default_user_budget_usd, 40);
      assert.equal(saved.budget_period, "weekly");

      await member.getByRole("button", { name: "Remove bo@corp.example from research" }).click();
      await page.getByRole("status").filter({ hasText: "bo@corp.example removed from research" }).waitFor();
      assert.equal(await member.count(), 0);
      await page.getByRole("table", { name: "Keys of research" }).or(page.getByText("No keys yet.")).first().waitFor();
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("creates their own key on the me page and makes a one-time setup link with it", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await page.getByLabel("Key name").fill("admin-desktop");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByLabel("the new key's secret", { exact: true }).waitFor();
      await page.getByRole("button", { name: "Make a one-time setup link" }).click();
      const command = page.locator(".setup-link pre");
      await command.waitFor();
      const text = (await command.textContent()) ?? "";
      const link = /(http:\/\/127\.0\.0\.1:\d+\/auth\/setup\?token=st_[0-9a-f]{64})/.exec(text)?.[1];
      assert.ok(link, `no setup link in the command: ${text}`);
      // GET (what a link scanner does) uses nothing up; POST redeems it once into a script carrying the key.
      assert.equal((await fetch(link)).status, 200);
      const redeemed = await fetch(link, { method: "POST" });
      assert.equal(redeemed.status, 200);
      assert.match(await redeemed.text(), /PRESET_KEY="sk-sluice-/);
      assert.equal((await fetch(link, { method: "POST" })).status, 410, "the link worked twice");

      // Revoking it (after a confirmation) marks it revoked, keeps focus in the keys section, and the key stops working.
      const secret = ((await page.getByLabel("the new key's secret", { exact: true }).textContent()) ?? "").trim();
      await page.getByRole("button", { name: "Done, I have copied it" }).click();
      page.once("dialog", (d) => void d.accept());
      await page.getByRole("button", { name: "Revoke key admin-desktop" }).click();
      await page.getByRole("status").filter({ hasText: "Key admin-desktop revoked" }).waitFor();
      const row = page.getByRole("row").filter({ hasText: "admin-desktop" });
      assert.match((await row.textContent()) ?? "", /revoked/);
      assert.equal(await row.getByRole("button", { name: /^Revoke/ }).count(), 0);
      assert.deepEqual(await focused(page).then((f) => [f.tag, f.name]), ["h2", "My keys"]);
      let status = 0;
      for (let i = 0; i < 40; i += 1) {
        // Other instances may cache a key for SLUICE_KEY_CACHE_SECS; this one forgets it at once.
        status = (await fetch(`${sluice.url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
          body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 16, messages: [{ role: "user", content: "still there?" }] }),
        })).status;
        if (status === 401) break;
        await sleep(250);
      }
      assert.equal(status, 401, "the revoked key still works");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("sees their usage and org analytics with the request just made, and downloads the CSV", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      // Make a request with a key of the admin's own, so "my usage" has something.
      const created = await page.evaluate(async () => {
        const me = await (await fetch("/auth/me")).json();
        const resp = await fetch("/admin/keys", {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": me.csrf_token },
          body: JSON.stringify({ name: "analytics-probe" }),
        });
        return resp.json();
      });
      const answer = await fetch(`${sluice.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": created.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 64, messages: [{ role: "user", content: "count me" }] }),
      });
      assert.equal(answer.status, 200, await answer.text());

      // The spend consumer runs in-process; give it a moment to roll the record up.
      let requests = 0;
      for (let i = 0; i < 40 && requests < 1; i += 1) {
        await page.goto(`${sluice.url}/#/admin/analytics?tab=spend&days=1`);
        await page.locator("#an-numbers").waitFor();
        const text = (await page.locator("#an-numbers .number").first().locator(".value").textContent()) ?? "0";
        requests = Number(text.replace(/,/g, ""));
        if (requests < 1) await sleep(250);
      }
      assert.ok(requests >= 1, "org analytics never showed the request");
      for (const tab of ["Activity", "Models", "Tools", "Spend"]) {
        await page.getByRole("tab", { name: tab }).click();
        await page.waitForURL(new RegExp(`tab=${tab.toLowerCase()}`));
        await page.getByRole("tabpanel").locator(".loading").waitFor({ state: "detached" });
        assert.equal(await page.getByRole("tabpanel").locator(".error").count(), 0, `the ${tab} tab shows an error`);
      }

      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
      const path = await download.path();
      assert.ok(path, "the download was not saved");
      const lines = readFileSync(path, "utf8").trim().split(/\r?\n/);
      assert.match(lines[0], /^request_id,time,user,team,key_id,requested_model/);
      assert.ok(lines.length >= 2, "the CSV has no usage row");
      assert.match(download.suggestedFilename(), /^sluice-org-spend-.*\.csv$/);

      await nav(page, "Me").click();
      const mine = page.locator("#usage-requests");
      await mine.waitFor();
      assert.ok(Number(((await mine.textContent()) ?? "0").replace(/,/g, "")) >= 1, "my usage shows no request");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("every page opens without an error, also 700 px wide", async () => {
    for (const viewport of [{ width: 1280, height: 900 }, { width: 700, height: 900 }]) {
      const w = await adminPage({ viewport });
      try {
        for (const [hash, title] of [
          ["#/connect", "Connect Claude Code"],
          ["#/me", "My keys and usage"],
          ["#/admin/people", "People"],
          ["#/admin/teams", "Teams"],
          ["#/admin/keys", "All keys"],
          ["#/admin/analytics", "Analytics"],
          ["#/admin/identity", "Identity providers and SCIM"],
          ["#/admin/settings", "Settings"],
          ["#/admin/pricing", "Pricing"],
          ["#/admin/notifications", "Notifications"],
        ]) {
          await w.page.goto(`${sluice.url}/${hash}`);
          await w.page.getByRole("heading", { level: 1, name: title }).waitFor();
          await w.page.locator("main[aria-busy]").waitFor({ state: "detached" });
          await w.page.locator("main .loading").first().waitFor({ state: "detached" });
          assert.equal(await w.page.locator("main .error").count(), 0, `${hash} shows an error: ${await w.page.locator("main .error").allTextContents()}`);
          const overflow = await w.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `${hash} scrolls sideways by ${overflow}px at ${viewport.width}px`);
          assert.equal(await w.page.locator("header nav").count(), 1);
          assert.equal(await w.page.locator("main").count(), 1);
          const name = `${hash.replace(/^#\//, "").replace(/\//g, "-")}-${viewport.width}`;
          await screenshot(w.page, name);
          assert.deepEqual(await seriousA11yViolations(w.page), [], `on ${hash} at ${viewport.width}px`);
        }
        assertNoProblems(w);
      } finally {
        await w.context.close();
      }
    }
  });

  test("the Connect page's copy button copies the setup command for this Sluice", async () => {
    const w = await adminPage();
    try {
      await nav(w.page, "Connect").click();
      await w.page.getByRole("button", { name: "Copy the macOS and Linux setup command" }).click();
      await w.page.getByRole("status").filter({ hasText: "Copied" }).waitFor();
      const copied = await w.page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, `curl -fsS ${sluice.url}/auth/setup | bash`);
      await w.page.getByRole("button", { name: "Copy the Windows key setup command" }).click();
      await w.page.getByRole("status").filter({ hasText: "Copied the Windows key setup command" }).waitFor();
      const windows = await w.page.evaluate(() => navigator.clipboard.readText());
      assert.equal(windows, `$env:SLUICE_API_KEY = "sk-sluice-…"; irm ${sluice.url}/auth/setup.ps1 | iex`);
      // The scripts the commands name exist and configure this Sluice.
      const bash = await fetch(`${sluice.url}/auth/setup`);
      assert.equal(bash.status, 200);
      assert.match(await bash.text(), new RegExp(`GATEWAY_URL="${sluice.url}"`));
      const powershell = await fetch(`${sluice.url}/auth/setup.ps1`);
      assert.equal(powershell.status, 200);
      const ps1 = await powershell.text();
      assert.match(ps1, /\$env:SLUICE_API_KEY/);
      assert.ok(ps1.includes(`'${sluice.url}'`), "the PowerShell setup does not name this Sluice");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("a write without the CSRF header is refused, with it accepted", async () => {
    const w = await adminPage();
    try {
      w.expect("/admin/teams", 403);
      const statuses = await w.page.evaluate(async () => {
        const me = await (await fetch("/auth/me")).json();
        const body = JSON.stringify({ name: "csrf-probe" });
        const headers = { "content-type": "application/json" };
        const without = await fetch("/admin/teams", { method: "POST", headers, body });
        const withToken = await fetch("/admin/teams", { method: "POST", headers: { ...headers, "x-csrf-token": me.csrf_token }, body });
        return [without.status, withToken.status];
      });
      assert.deepEqual(statuses, [403, 201]);
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("a notification destination goes draft, test, active against a local receiver", async () => {
    /** @type {{headers: import("node:http").IncomingHttpHeaders, body: string}[]} */
    const received = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise((done) => receiver.listen(0, "127.0.0.1", () => done(undefined)));
    const address = receiver.address();
    assert.ok(address && typeof address === "object");
    const hook = `http://127.0.0.1:${address.port}/hook`;
    const w = await adminPage();
    const { page } = w;
    try {
      await nav(page, "Notifications").click();
      await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
      await page.getByLabel("URL or ARN").fill(hook);
      await page.getByRole("button", { name: "Save draft" }).click();
      await page.getByRole("status").filter({ hasText: "Draft saved" }).waitFor();
      const secret = (await page.locator(".secret pre").textContent())?.trim() ?? "";
      assert.ok(secret.length >= 16, `no webhook secret shown: ${secret}`);
      assert.ok(await page.getByRole("button", { name: "Activate" }).isDisabled(), "an untested draft can be activated");

      await page.getByRole("button", { name: "Send a test event" }).click();
      await page.getByRole("status").filter({ hasText: "Test delivered" }).waitFor();
      assert.equal(received.length, 1, "the receiver got no test event");
      assert.match(received[0].body, /budget/);

      await page.getByRole("button", { name: "Activate" }).click();
      await page.getByRole("status").filter({ hasText: "now the active destination" }).waitFor();
      assert.match((await page.locator("#notif-active").textContent()) ?? "", new RegExp(hook.replace(/[.:/]/g, "\\$&")));
      assert.match((await page.locator("main").textContent()) ?? "", /No draft\./);
      const log = page.getByRole("table", { name: "Latest deliveries, newest first" }).getByRole("row").filter({ hasText: hook });
      assert.equal(await log.count(), 1, "the delivery log does not show the test delivery");
      assert.match((await log.textContent()) ?? "", /delivered/);

      await page.getByLabel("rate limit", { exact: true }).last().check();
      await page.getByRole("button", { name: "Save events" }).click();
      await page.getByRole("status").filter({ hasText: "now gets: budget, rate_limit" }).waitFor();
      assert.match((await page.locator("#notif-active").textContent()) ?? "", /budget, rate_limit/);
      assertNoProblems(w);
    } finally {
      await w.context.close();
      await new Promise((done) => receiver.close(() => done(undefined)));
    }
  });

  test("changes a setting and overrides a price, then removes the override", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await nav(page, "Settings").click();
      /** @param {string} key */
      const setting = (key) => page.getByRole("textbox", { name: key, exact: true });
      await setting("max_keys_per_person").fill("7");
      await page.getByRole("button", { name: "Save max_keys_per_person" }).click();
      await page.getByRole("status").filter({ hasText: "max_keys_per_person saved" }).waitFor();
      await page.reload();
      assert.equal(await setting("max_keys_per_person").inputValue(), "7");

      w.expect("/admin/settings/person_rate_limit_rpm", 400);
      await setting("person_rate_limit_rpm").fill("0");
      await page.getByRole("button", { name: "Save person_rate_limit_rpm" }).click();
      await page.locator("#status.error").waitFor();
      assert.match((await page.locator("#status").textContent()) ?? "", /person_rate_limit_rpm/, "the refusal is not said in words");

      await nav(page, "Pricing").click();
      await page.getByLabel("Model prefix").fill("claude-portal-test");
      await page.getByLabel("Input", { exact: true }).fill("1.5");
      await page.getByLabel("Output", { exact: true }).fill("7.5");
      await page.getByLabel("Cache read", { exact: true }).fill("0.15");
      await page.getByLabel("Cache write (5 min)").fill("1.875");
      await page.getByRole("button", { name: "Save price" }).click();
      const row = page.getByRole("row").filter({ hasText: "claude-portal-test" });
      await row.waitFor();
      assert.match((await row.textContent()) ?? "", /1\.5.*7\.5.*0\.15.*1\.875.*override/);
      await row.getByRole("button", { name: "Remove the override of claude-portal-test" }).click();
      await page.getByRole("status").filter({ hasText: "Override of claude-portal-test removed" }).waitFor();
      assert.equal(await row.count(), 0);
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("adds an identity provider that then appears on the sign-in page, runs SCIM tokens, and deletes it", async () => {
    const idp = await startOidcProvider({ audience: "portal-added" });
    const w = await adminPage();
    const { page } = w;
    page.on("dialog", (d) => void d.accept());
    try {
      await nav(page, "Sign-in").click();
      await page.getByRole("heading", { level: 1, name: "Identity providers and SCIM" }).waitFor();
      await page.getByLabel("Name").fill("Loopback IdP");
      await page.getByLabel("Issuer URL").fill(idp.issuer);
      await page.getByLabel("Client id (audience)").fill("portal-added");
      await page.getByRole("button", { name: "Add provider" }).click();
      const row = page.getByRole("row").filter({ hasText: "Loopback IdP" });
      await row.waitFor();

      await row.getByRole("button", { name: "SCIM of Loopback IdP" }).click();
      await page.getByRole("heading", { level: 2, name: "SCIM for Loopback IdP" }).waitFor();
      await page.getByRole("button", { name: "Turn SCIM on" }).click();
      await page.getByRole("status").filter({ hasText: "SCIM on for Loopback IdP" }).waitFor();
      await page.getByLabel("Token name").fill("provisioning");
      await page.getByRole("button", { name: "Create SCIM token" }).click();
      const token = ((await page.locator(".secret pre").textContent()) ?? "").trim();
      assert.match(token, /^scim-sluice-\S+$/);
      const tokenRow = page.getByRole("table", { name: "SCIM tokens" }).getByRole("row").filter({ hasText: "provisioning" });
      await tokenRow.waitFor();
      assert.ok(!((await tokenRow.textContent()) ?? "").includes(token), "the token list shows the whole token");
      const scim = () => fetch(`${sluice.url}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      assert.equal(await scim(), 200);
      await tokenRow.getByRole("button", { name: /^Revoke SCIM token/ }).click();
      await page.getByRole("status").filter({ hasText: "SCIM token revoked" }).waitFor();
      assert.equal(await scim(), 401);

      // Signed out, the sign-in page offers the new provider.
      const visitor = await watchedPage(browser, sluice.url);
      try {
        visitor.expect("/auth/me", 401);
        await visitor.page.goto(`${sluice.url}/`);
        await visitor.page.getByRole("button", { name: "Sign in with Loopback IdP" }).waitFor();
        assertNoProblems(visitor);
      } finally {
        await visitor.context.close();
      }

      await row.getByRole("button", { name: "Delete Loopback IdP" }).click();
      await page.getByRole("status").filter({ hasText: "Loopback IdP deleted" }).waitFor();
      assert.equal(await row.count(), 0);
      assertNoProblems(w);
    } finally {
      await w.context.close();
      await idp.stop();
    }
  });

  test("moves between the analytics tabs with the arrow keys", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await page.goto(`${sluice.url}/#/admin/analytics`);
      const spend = page.getByRole("tab", { name: "Spend" });
      await spend.waitFor();
      assert.equal(await spend.getAttribute("aria-selected"), "true");
      await spend.focus();
      await page.keyboard.press("ArrowRight");
      assert.deepEqual(await focusedName(page), "Activity");
      await page.keyboard.press("Enter");
      await page.waitForURL(/tab=activity/);
      await page.getByRole("tab", { name: "Activity", selected: true }).waitFor();
      await page.getByRole("tabpanel").getByText("When people work").waitFor();
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });

  test("a session ended elsewhere sends the page back to sign-in, saying so", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      // The admin's sessions are revoked (as another admin, or `sluice users revoke-sessions`, would).
      const revoked = await page.evaluate(async () => {
        const me = await (await fetch("/auth/me")).json();
        const resp = await fetch(`/admin/users/${encodeURIComponent(me.user_id)}/revoke-sessions`, {
          method: "POST", headers: { "content-type": "application/json", "x-csrf-token": me.csrf_token }, body: "{}",
        });
        return resp.status;
      });
      assert.equal(revoked, 200);
      w.expect("/admin/users", 401);
      w.expect("/admin/teams", 401);
      await nav(page, "Teams").click();
      await page.waitForURL(/#\/signin$/);
      await page.getByRole("status").filter({ hasText: "Your session has ended. Sign in again." }).waitFor();
      await page.getByRole("heading", { level: 1, name: "Sign in to Sluice" }).waitFor();
      assertNoProblems(w);
    } finally {
      // The next test signs in again right away: a revocation ends only the sessions issued before it.
      await w.context.close();
    }
  });

  test("signing out returns to sign-in and ends the session", async () => {
    const w = await adminPage();
    const { page } = w;
    try {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(/#\/signin$/);
      await page.getByRole("heading", { level: 1, name: "Sign in to Sluice" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "People" }).count(), 0);
      w.expect("/auth/me", 401);
      w.expect("/auth/me", 401);
      await page.goto(`${sluice.url}/#/admin/people`);
      await page.waitForURL(/#\/signin$/);
      const status = await page.evaluate(async () => (await fetch("/auth/me")).status);
      assert.equal(status, 401, "the session still works after signing out");
      assertNoProblems(w);
    } finally {
      await w.context.close();
    }
  });
});
