// Sign-in: one button per identity provider (the server runs authorization code + PKCE and comes back to
// `#/me`, or to `#/signin?error=…`), and the password form of the bootstrap admin when it is enabled.

import { api, signIn } from "../api.js";
import { errorBox, errorText, field, formValues, h, loading, pageTitle, replace } from "../dom.js";

/** @typedef {import("../api.js").Provider} Provider */

/** @param {import("../app.js").PageContext} ctx */
export default async function signin(ctx) {
  const { main, query, go, refreshUser } = ctx;
  const problem = query.get("error");
  const errorSlot = h("div", { id: "signin-error", role: "alert" });
  const providersSlot = h("div", {}, loading("Looking up sign-in options…"));
  main.append(
    h("section", { class: "signin card", "aria-labelledby": "signin-title" },
      pageTitle("Sign in to Sluice"),
      errorSlot,
      providersSlot,
    ),
  );
  const title = main.querySelector("h1");
  if (title) title.id = "signin-title";
  if (problem) replace(errorSlot, h("p", { class: "error" }, `Sign-in failed: ${problem}`));

  /** @type {{providers: Provider[], admin_login_enabled: boolean}} */
  let info;
  try {
    info = await api.get("/auth/providers", { quiet401: true });
  } catch (err) {
    replace(providersSlot, errorBox(err));
    return;
  }
  const providers = info.providers ?? [];
  const parts = [];
  if (providers.length > 0) {
    parts.push(
      h("div", { class: "providers" },
        providers.map((p) => {
          const target = p.portal_url ?? "";
          if (!target) {
            // Sluice names no portal sign-in for a provider whose discovery has no token endpoint.
            return h("p", { class: "hint" }, `${p.name}: signs in Claude Code only (the provider offers no web sign-in Sluice can use).`);
          }
          const button = h("button", { type: "button", class: "provider" }, `Sign in with ${p.name}`);
          button.addEventListener("click", () => {
            // The whole page goes to the provider; the IdP's token never reaches this page.
            window.location.assign(target);
          });
          return button;
        }),
      ),
    );
  }
  if (info.admin_login_enabled) {
    if (providers.length > 0) parts.push(h("p", { class: "divider" }, "or, as the administrator"));
    parts.push(passwordForm(errorSlot, async () => {
      await refreshUser();
      if (!ctx.user()) {
        // Signed in, yet the new session is not accepted (the person was deactivated or revoked meanwhile).
        throw new Error("Signed in, but Sluice did not accept the new session. Please try again in a moment.");
      }
      go("#/me");
    }));
  }
  if (parts.length === 0) {
    parts.push(
      h("p", { class: "empty" },
        "No way to sign in is configured: no identity provider answers and the administrator password is disabled. " +
          "An administrator can set ADMIN_PASSWORD_ENABLE=true on the stack to get back in."),
    );
  }
  replace(providersSlot, ...parts);
}

/**
 * @param {HTMLElement} errorSlot
 * @param {() => Promise<void>} done
 */
function passwordForm(errorSlot, done) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, value: "admin" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "stack", "aria-label": "Administrator sign-in" },
    field("Username", username),
    field("Password", password),
    h("button", { type: "submit", id: "signin-submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    const { username: u, password: p } = formValues(form);
    button.disabled = true;
    replace(errorSlot);
    try {
      await signIn(u, p);
      await done();
    } catch (err) {
      replace(errorSlot, h("p", { class: "error" }, errorText(err)));
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
