// Single sign-on in the portal: a member signs in through a loopback OpenID provider (authorization code +
// PKCE, done by the server; the provider's token never reaches the page), sees no admin navigation, is refused
// the admin pages and API, and sees only their own keys.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startOidcProvider } from "./oidc.mjs";
import { launchBrowser, signInWithPassword, sleep, startSluice, watchedPage } from "./support.mjs";

const AUDIENCE = "sluice-portal-test";

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

test("a person the admin added signs in through the identity provider and sees only their own keys and spend", async () => {
  // The admin adds Mia, makes her a key, and keeps a key of their own that Mia must not see.
  const admin = await watchedPage(browser, sluice.url);
  admin.expect("/auth/me", 401);
  await admin.page.goto(`${sluice.url}/`);
  await signInWithPassword(admin.page, sluice.password);
  await admin.page.getByLabel("Key name").fill("admins-own-key");
  await admin.page.getByRole("button", { name: "Create key" }).click();
  await admin.page.getByLabel("the new key's secret", { exact: true }).waitFor();
  await admin.page.goto(`${sluice.url}/#/admin/people`);
  await admin.page.getByLabel("Email").fill("mia@corp.example");
  await admin.page.getByRole("button", { name: "Add person" }).click();
  await admin.page.getByRole("row").filter({ hasText: "mia@corp.example" }).waitFor();
  await admin.page.goto(`${sluice.url}/#/admin/keys`);
  await admin.page.getByLabel("Key name").fill("mia-laptop");
  await admin.page.getByLabel("Owner").selectOption({ label: "mia@corp.example" });
  await admin.page.getByRole("button", { name: "Create key" }).click();
  const secret = ((await admin.page.getByLabel("the new key's secret", { exact: true }).textContent()) ?? "").trim();
  assertNoProblems(admin);
  await admin.context.close();
  const answer = await fetch(`${sluice.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 64, messages: [{ role: "user", content: "mia's first request" }] }),
  });
  assert.equal(answer.status, 200, await answer.text());

  const w = await watchedPage(browser, sluice.url, { navigateTo: [idp.issuer] });
  const { page } = w;
  try {
    w.expect("/auth/me", 401);
    await page.goto(`${sluice.url}/`);
    idp.signInAs = "mia@corp.example";
    const button = page.getByRole("button", { name: /^Sign in with / });
    await button.waitFor();
    // The provider is on another origin: the page navigates there as a whole, it never fetches from it.
    await button.click();
    await page.waitForURL(new RegExp(`^${sluice.url.replace(/\./g, "\\.")}/#/me$`));
    await page.getByRole("heading", { level: 1, name: "My keys and usage" }).waitFor();
    assert.ok(idp.requests.some((r) => r.startsWith("GET /authorize") && /code_challenge=/.test(r) && /response_type=code/.test(r)),
      `the server did not use the code flow with PKCE: ${idp.requests.join(", ")}`);
    assert.ok(idp.requests.some((r) => r.startsWith("POST /token")), "the code was never exchanged");
    assert.match((await page.locator("header").textContent()) ?? "", /mia@corp\.example/);
    assert.match((await page.locator("header").textContent()) ?? "", /member/);

    const navLinks = await page.locator("header nav a").allTextContents();
    assert.deepEqual(navLinks, ["Connect", "Me"]);

    // Her own key (made by the admin) is listed, the admin's is not; her usage counts her request.
    await page.getByRole("row").filter({ hasText: "mia-laptop" }).waitFor();
    assert.equal(await page.getByRole("row").filter({ hasText: "admins-own-key" }).count(), 0, "the member sees the admin's key");
    let requests = 0;
    for (let i = 0; i < 40 && requests < 1; i += 1) {
      if (i > 0) {
        await sleep(250);
        await page.reload();
      }
      const shown = page.locator("#usage-requests");
      await shown.waitFor();
      requests = Number(((await shown.textContent()) ?? "0").replace(/,/g, ""));
    }
    assert.equal(requests, 1, "her usage does not show exactly her one request");

    // She makes a key of her own; it is hers.
    await page.getByLabel("Key name").fill("mia-desktop");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByLabel("the new key's secret", { exact: true }).waitFor();
    await page.getByRole("row").filter({ hasText: "mia-desktop" }).waitFor();

    await page.goto(`${sluice.url}/#/admin/people`);
    await page.getByRole("heading", { level: 1, name: "Not available" }).waitFor();
    w.expect("/admin/users", 403);
    const status = await page.evaluate(async () => (await fetch("/admin/users")).status);
    assert.equal(status, 403);

    // The page never held the provider's token: nothing token-like in storage or the URL.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }) + location.href);
    assert.doesNotMatch(stored, /eyJ[\w-]+\.[\w-]+\./);
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});

test("a failed single sign-on comes back to the sign-in page with the reason in words", async () => {
  const w = await watchedPage(browser, sluice.url);
  try {
    w.expect("/auth/me", 401);
    await w.page.goto(`${sluice.url}/#/signin?error=${encodeURIComponent("the provider refused the sign-in")}`);
    await w.page.getByRole("alert").filter({ hasText: "Sign-in failed: the provider refused the sign-in" }).waitFor();
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});

test("with the administrator password turned off, the sign-in page offers single sign-on only", async () => {
  const admin = await watchedPage(browser, sluice.url);
  try {
    admin.expect("/auth/me", 401);
    await admin.page.goto(`${sluice.url}/`);
    await signInWithPassword(admin.page, sluice.password);
    await admin.page.goto(`${sluice.url}/#/admin/settings`);
    await admin.page.getByRole("textbox", { name: "admin_login_enabled", exact: true }).fill("false");
    await admin.page.getByRole("button", { name: "Save admin_login_enabled" }).click();
    await admin.page.getByRole("status").filter({ hasText: "admin_login_enabled saved" }).waitFor();
    assertNoProblems(admin);
  } finally {
    await admin.context.close();
  }

  const w = await watchedPage(browser, sluice.url);
  try {
    w.expect("/auth/me", 401);
    await w.page.goto(`${sluice.url}/`);
    await w.page.getByRole("button", { name: /^Sign in with / }).waitFor();
    assert.equal(await w.page.getByLabel("Password").count(), 0, "the password form is still offered");
    assertNoProblems(w);
  } finally {
    await w.context.close();
  }
});
