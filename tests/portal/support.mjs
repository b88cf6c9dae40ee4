// Processes and browser for the portal tests. `startSluice` runs the Bedrock simulator and `sluice serve`
// (target/debug/sluice) on 127.0.0.1 port 0 with a fresh data folder, reads the bound ports back from their
// logs (as tests/e2e/e2e_support.py does), and stops exactly those PIDs. `watchPage` records every console
// error, uncaught exception, CSP violation, failed request and request to another origin, so a test can
// assert that a page produced none.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET = process.env.CARGO_TARGET_DIR
  ? isAbsolute(process.env.CARGO_TARGET_DIR)
    ? process.env.CARGO_TARGET_DIR
    : join(REPO, process.env.CARGO_TARGET_DIR)
  : join(REPO, "target");
export const SLUICE = join(TARGET, "debug", "sluice");
export const CHROMIUM = process.env.SLUICE_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Where page screenshots go (kept by CI with the rest of target/). */
export const SCREENSHOTS = process.env.SLUICE_PORTAL_SCREENSHOTS ?? join(TARGET, "portal-screenshots");

const LISTEN_LINE = /listening addr=127\.0\.0\.1:(\d+)/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Environment of a Sluice process: nothing AWS-, Sluice- or Anthropic-related leaks in from the caller.
 * @param {Record<string, string>} extra
 */
function baseEnv(extra) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(AWS_|SLUICE_|ANTHROPIC_|ADMIN_|OIDC_)/.test(k)) env[k] = v;
  }
  return {
    ...env,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_EC2_METADATA_DISABLED: "true",
    RUST_LOG: "info",
    NO_COLOR: "1",
    ...extra,
  };
}

class Proc {
  /**
   * @param {string} name
   * @param {import("node:child_process").ChildProcess} child
   * @param {string} log
   */
  constructor(name, child, log) {
    this.name = name;
    this.child = child;
    this.log = log;
    /** @type {number | null} */
    this.exitCode = null;
    this.exited = new Promise((done) => {
      child.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : -1);
        done(undefined);
      });
    });
  }

  text() {
    return existsSync(this.log) ? readFileSync(this.log, "utf8").replace(ANSI, "") : "";
  }

  tail(lines = 40) {
    return `--- ${this.name} (pid ${this.child.pid}, exit ${this.exitCode}) ${this.log}:\n${this.text().split("\n").slice(-lines).join("\n")}`;
  }

  async port(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = LISTEN_LINE.exec(this.text());
      if (found) return Number(found[1]);
      if (this.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`${this.name} did not report a listening address\n${this.tail()}`);
  }

  /** Stops this process (by its PID): SIGTERM, then SIGKILL after 5 s. */
  async stop() {
    if (this.exitCode !== null || this.child.pid === undefined) return;
    process.kill(this.child.pid, "SIGTERM");
    const killed = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!killed && this.exitCode === null) {
      process.kill(this.child.pid, "SIGKILL");
      await this.exited;
    }
  }
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * @param {string} workdir
 * @param {string} name
 * @param {string[]} args
 * @param {Record<string, string>} env
 */
function start(workdir, name, args, env) {
  if (!existsSync(SLUICE)) throw new Error(`${SLUICE} is missing: run \`cargo build -p sluice\` first`);
  const log = join(workdir, `${name}.log`);
  const fd = openSync(log, "w");
  const child = spawn(SLUICE, args, { cwd: workdir, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  return new Proc(name, child, log);
}

/**
 * A running Sluice (`sluice serve` + the Bedrock simulator), stopped by `stop()`.
 * @param {{env?: Record<string, string>}} [opts]
 */
export async function startSluice(opts = {}) {
  const workdir = mkdtempSync(join(tmpdir(), "sluice-portal-"));
  const password = `pw-${randomBytes(12).toString("hex")}`;
  /** @type {Proc[]} */
  const procs = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
    rmSync(workdir, { recursive: true, force: true });
  };
  try {
    const sim = start(workdir, "bedrock-sim", ["bedrock-sim", "--listen", "127.0.0.1:0"], baseEnv({}));
    procs.push(sim);
    const simUrl = `http://127.0.0.1:${await sim.port()}`;
    const dataDir = join(workdir, "data");
    const serve = start(
      workdir,
      "sluice-serve",
      ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir],
      baseEnv({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: simUrl, ADMIN_USERNAME: "admin", ADMIN_PASSWORD: password, ...opts.env }),
    );
    procs.push(serve);
    const url = `http://127.0.0.1:${await serve.port()}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/health`)).status === 200) break;
      } catch {
        // not up yet
      }
      if (serve.exitCode !== null || Date.now() > deadline) throw new Error(`sluice serve did not become healthy\n${serve.tail()}`);
      await sleep(50);
    }
    return {
      url,
      password,
      dataDir,
      logs: () => procs.map((p) => p.tail()).join("\n"),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** @typedef {Awaited<ReturnType<typeof startSluice>>} Sluice */

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (make deps does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root (CI, containers) cannot use Chromium's sandbox; containers often have a tiny /dev/shm.
    args: ["--disable-dev-shm-usage", ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])],
  });
}

/**
 * @typedef {{path: string, status: number}} Expected an answer a test expects to fail (Chromium logs each failed
 *   resource as a console error)
 */

/**
 * A new page in its own context (own cookies) whose problems are recorded.
 * @param {import("playwright-core").Browser} browser
 * @param {string} origin
 * @param {{viewport?: {width: number, height: number}, navigateTo?: string[]}} [opts] navigateTo: other origins the
 *   whole page may go to (an identity provider); the page itself still may not fetch from them
 */
export async function watchedPage(browser, origin, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  /** @type {string[]} */
  const problems = [];
  /** @type {Expected[]} */
  const expected = [];
  /** @type {{url: string, status: number}[]} */
  const failedAnswers = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (text.startsWith("Failed to load resource")) return; // judged from the responses below
    problems.push(`console error: ${text} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.message}`));
  page.on("requestfailed", (req) => {
    // A download handed to the browser's download manager reports as aborted; everything else is a failure.
    if (req.failure()?.errorText === "net::ERR_ABORTED" && req.url().startsWith("blob:")) return;
    problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on("request", (req) => {
    const u = req.url();
    if (u.startsWith("data:") || u.startsWith("blob:")) return;
    const other = new URL(u).origin;
    if (other === origin) return;
    const pageNavigation = req.isNavigationRequest() && req.frame() === page.mainFrame();
    if (pageNavigation && (opts.navigateTo ?? []).includes(other)) return;
    problems.push(`request to another origin: ${u}`);
  });
  page.on("response", (resp) => {
    if (resp.status() < 400) return;
    const u = new URL(resp.url());
    failedAnswers.push({ url: resp.url(), status: resp.status() });
    const i = expected.findIndex((e) => e.path === u.pathname && e.status === resp.status());
    if (i >= 0) expected.splice(i, 1);
    else problems.push(`unexpected ${resp.status()} from ${resp.request().method()} ${u.pathname}`);
  });
  // CSP violations also reach the console, but the event names the directive; the init script is injected by the
  // browser itself, so the page's own CSP does not apply to it.
  await page.exposeFunction("__cspViolation", (/** @type {string} */ what) => problems.push(`CSP violation: ${what}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      // @ts-ignore exposed above
      window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return {
    page,
    context,
    problems,
    failedAnswers,
    /** The next answer with this path and status is expected (e.g. `/auth/me` 401 before signing in). @param {string} path @param {number} status */
    expect(path, status) {
      expected.push({ path, status });
    },
  };
}

/**
 * Signs in with the bootstrap password through the page's form and waits for the "me" page.
 * @param {import("playwright-core").Page} page
 * @param {string} password
 */
export async function signInWithPassword(page, password) {
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/#\/me$/);
  await page.getByRole("heading", { level: 1, name: "My keys and usage" }).waitFor();
}

/**
 * Serious and critical accessibility violations axe-core finds on the page as it is now, one line each.
 * axe is evaluated through the browser's debugging protocol, which the page's CSP does not govern.
 * @param {import("playwright-core").Page} page
 * @returns {Promise<string[]>}
 */
export async function seriousA11yViolations(page) {
  const source = readFileSync(join(REPO, "node_modules", "axe-core", "axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(source);
  /** @type {{id: string, impact: string, help: string, nodes: {target: string[]}[]}[]} */
  const violations = await page.evaluate(async () => {
    // @ts-ignore axe was just evaluated into the page
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((/** @type {any} */ n) => ({ target: n.target.map(String) })),
    }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 5).map((n) => n.target.join(" ")).join("; ")})`);
}

/**
 * Saves a full-page screenshot as SCREENSHOTS/<name>.png.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
