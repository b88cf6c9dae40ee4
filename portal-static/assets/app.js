// The portal's shell: who is signed in, the navigation for their role, and hash routing (`#/me`,
// `#/admin/people?…`), so the server serves one page and needs no fallback route.

import { currentUser, signOut, whenSessionEnds } from "./api.js";
import { announce, clearStaleAnnouncement, errorBox, h, loading, replace } from "./dom.js";

/**
 * @typedef {import("./api.js").Me} Me
 * @typedef {{main: HTMLElement, me: Me | null, query: URLSearchParams, go: (hash: string) => void,
 *   refreshUser: () => Promise<void>, user: () => Me | null}} PageContext `me` as the page was opened;
 *   `user()` as it is now (after `refreshUser`)
 * @typedef {(ctx: PageContext) => Promise<void> | void} Page
 * @typedef {{title: string, load: () => Promise<{default: Page}>, admin?: boolean, public?: boolean,
 *   nav?: string}} Route
 */

/** @type {Record<string, Route>} */
const ROUTES = {
  "/signin": { title: "Sign in", load: () => import("./pages/signin.js"), public: true },
  "/connect": { title: "Connect Claude Code", load: () => import("./pages/connect.js"), nav: "Connect" },
  "/me": { title: "My keys and usage", load: () => import("./pages/me.js"), nav: "Me" },
  "/admin/people": { title: "People", load: () => import("./pages/people.js"), admin: true, nav: "People" },
  "/admin/teams": { title: "Teams", load: () => import("./pages/teams.js"), admin: true, nav: "Teams" },
  "/admin/keys": { title: "All keys", load: () => import("./pages/keys.js"), admin: true, nav: "Keys" },
  "/admin/policies": { title: "Policies", load: () => import("./pages/policies.js"), admin: true, nav: "Policies" },
  "/admin/analytics": {
    title: "Analytics",
    load: () => import("./pages/analytics.js"),
    admin: true,
    nav: "Analytics",
  },
  "/admin/identity": {
    title: "Identity providers and SCIM",
    load: () => import("./pages/identity.js"),
    admin: true,
    nav: "Sign-in",
  },
  "/admin/settings": { title: "Settings", load: () => import("./pages/settings.js"), admin: true, nav: "Settings" },
  "/admin/pricing": { title: "Pricing", load: () => import("./pages/pricing.js"), admin: true, nav: "Pricing" },
  "/admin/notifications": {
    title: "Notifications",
    load: () => import("./pages/notifications.js"),
    admin: true,
    nav: "Notifications",
  },
};

/** @type {Me | null} */
let me = null;
let renderCount = 0;

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const account = /** @type {HTMLElement} */ (document.getElementById("account"));

/** @returns {{path: string, query: URLSearchParams}} */
function location_() {
  const raw = window.location.hash.startsWith("#/") ? window.location.hash.slice(1) : "/";
  const [path, query = ""] = raw.split("?", 2);
  return { path, query: new URLSearchParams(query) };
}

/** @param {string} hash e.g. `#/me` */
function go(hash) {
  if (window.location.hash === hash) {
    void render();
  } else {
    window.location.hash = hash;
  }
}

function home() {
  return me ? "#/me" : "#/signin";
}

/** @param {string} path */
function renderNav(path) {
  if (!me) {
    replace(nav);
    replace(account);
    return;
  }
  const isAdmin = me.role === "admin";
  const links = Object.entries(ROUTES)
    .filter(([, r]) => r.nav && (!r.admin || isAdmin))
    .map(([p, r]) =>
      h("li", {}, h("a", { href: `#${p}`, "aria-current": p === path ? "page" : false }, r.nav ?? r.title)),
    );
  replace(nav, h("ul", {}, links));
  const signOutButton = h("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
  signOutButton.addEventListener("click", async () => {
    signOutButton.disabled = true;
    try {
      await signOut();
      me = null;
      announce("You are signed out.");
    } catch (err) {
      announce(`Signing out failed: ${err instanceof Error ? err.message : String(err)}`, "error");
      signOutButton.disabled = false;
      return;
    }
    go("#/signin");
  });
  replace(account, h("span", { class: "who" }, me.sub ?? me.user_id, " ", h("span", { class: "role" }, me.role)), signOutButton);
}

async function render() {
  const ticket = ++renderCount;
  const { path, query } = location_();
  const route = ROUTES[path];
  if (!route) {
    go(home());
    return;
  }
  if (!route.public && !me) {
    go("#/signin");
    return;
  }
  if (path === "/signin" && me && !query.has("error")) {
    go("#/me");
    return;
  }
  renderNav(path);
  document.title = `${route.title} · Sluice`;
  if (route.admin && me?.role !== "admin") {
    replace(main, h("h1", { tabindex: -1 }, "Not available"), h("p", {}, "This page is for administrators."));
    focusTitle();
    return;
  }
  main.setAttribute("aria-busy", "true");
  replace(main, loading());
  try {
    const page = (await route.load()).default;
    if (ticket !== renderCount) return;
    main.replaceChildren();
    await page({ main, me, query, go, refreshUser, user: () => me });
  } catch (err) {
    if (ticket !== renderCount) return;
    replace(main, h("h1", { tabindex: -1 }, route.title), errorBox(err));
  } finally {
    if (ticket === renderCount) main.removeAttribute("aria-busy");
  }
  if (ticket === renderCount) focusTitle();
}

/**
 * Moves focus to the new page's heading, so keyboard and screen-reader users start there; unless they already
 * moved into the page while it was loading its data, which must not be taken from them.
 */
function focusTitle() {
  const active = document.activeElement;
  if (active && active !== main && main.contains(active)) return;
  const title = main.querySelector("h1");
  if (title instanceof HTMLElement) {
    if (!title.hasAttribute("tabindex")) title.tabIndex = -1;
    title.focus({ preventScroll: false });
  }
}

async function refreshUser() {
  me = await currentUser();
}

whenSessionEnds(() => {
  if (!me) return;
  me = null;
  announce("Your session has ended. Sign in again.", "error");
  go("#/signin");
});

window.addEventListener("hashchange", () => {
  // `#main` (the skip link without script) is not a route.
  if (!window.location.hash.startsWith("#/") && window.location.hash !== "") return;
  clearStaleAnnouncement(1500);
  void render();
});

document.querySelector(".skip-link")?.addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

async function start() {
  try {
    me = await currentUser();
  } catch (err) {
    replace(main, h("h1", { tabindex: -1 }, "Sluice"), errorBox(err));
    return;
  }
  await render();
}

void start();
