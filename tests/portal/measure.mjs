// Measures the portal's first load in headless Chromium against a fresh `sluice serve` (a report, not a test):
// the bytes transferred (what the wire carried, and what gzip would carry where the server sent it
// uncompressed) and the time until the page is usable, for the sign-in page (signed out) and the "me" page
// (signed in, every request it makes). Run: cargo build -p sluice && node tests/portal/measure.mjs

import { gzipSync } from "node:zlib";

import { launchBrowser, signInWithPassword, startSluice } from "./support.mjs";

const RUNS = 5;

/**
 * Loads `url` in a fresh context (empty cache) and waits for `ready`; returns what was transferred and when the
 * page became usable.
 * @param {import("playwright-core").Browser} browser
 * @param {string} url
 * @param {string} ready a selector that appears once the page can be used
 * @param {((page: import("playwright-core").Page) => Promise<void>) | null} before
 */
async function load(browser, url, ready, before) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (before) await before(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  /** @type {Map<string, {url: string, encoding: string}>} */
  const meta = new Map();
  /** @type {{url: string, wire: number, encoding: string, id: string}[]} */
  const done = [];
  cdp.on("Network.responseReceived", (e) => {
    const headers = /** @type {Record<string, string>} */ (e.response.headers);
    const encoding = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-encoding")?.[1] ?? "identity";
    meta.set(e.requestId, { url: e.response.url, encoding });
  });
  cdp.on("Network.loadingFinished", (e) => {
    const m = meta.get(e.requestId);
    if (m) done.push({ url: m.url, wire: e.encodedDataLength, encoding: m.encoding, id: e.requestId });
  });
  const started = Date.now();
  await page.goto(url);
  await page.locator(ready).first().waitFor();
  const usableMs = await page.evaluate(() => performance.now());
  const wallMs = Date.now() - started;
  let wire = 0;
  let gzip = 0;
  for (const r of done) {
    wire += r.wire;
    if (r.encoding !== "identity") {
      gzip += r.wire;
      continue;
    }
    try {
      const body = await cdp.send("Network.getResponseBody", { requestId: r.id });
      const bytes = Buffer.from(body.body, body.base64Encoded ? "base64" : "utf8");
      // Headers are counted as sent; only the body would shrink.
      gzip += r.wire - bytes.length + gzipSync(bytes, { level: 6 }).length;
    } catch {
      gzip += r.wire;
    }
  }
  const encodings = [...new Set(done.map((r) => r.encoding))].join(", ");
  await context.close();
  return { requests: done.length, wire, gzip, usableMs, wallMs, encodings };
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sluice = await startSluice();
const browser = await launchBrowser();
try {
  const rows = [];
  for (const [name, hash, ready, signIn] of /** @type {const} */ ([
    ["sign-in (signed out)", "/", "#signin-submit", false],
    ["me (signed in)", "/#/me", "#usage-requests", true],
  ])) {
    const runs = [];
    for (let i = 0; i < RUNS; i += 1) {
      const before = signIn
        ? async (/** @type {import("playwright-core").Page} */ page) => {
            await page.goto(`${sluice.url}/`);
            await signInWithPassword(page, sluice.password);
            // Leave, so the measured load is a whole new document (the session cookie stays).
            await page.goto("about:blank");
          }
        : null;
      runs.push(await load(browser, `${sluice.url}${hash}`, ready, before));
    }
    const r = runs[0];
    rows.push(`| ${name} | ${r.requests} | ${r.wire} | ${r.gzip} | ${r.encodings} | ${median(runs.map((x) => Math.round(x.usableMs)))} ms |`);
  }
  console.log(`Portal first load, headless Chromium (${RUNS} runs, median time), ${new Date().toISOString()}`);
  console.log("");
  console.log("| page | requests | bytes on the wire | bytes with gzip | content-encoding sent | usable after |");
  console.log("|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
} finally {
  await browser.close();
  await sluice.stop();
}
