// Connect: the commands that point Claude Code at this Sluice, for macOS/Linux (bash) and Windows (PowerShell),
// with single sign-on (an apiKeyHelper that signs in through the browser) or with a virtual key.

import { api } from "../api.js";
import { copyBlock, h, pageTitle } from "../dom.js";

/** @param {import("../app.js").PageContext} ctx */
export default async function connect({ main }) {
  const origin = window.location.origin;
  const [providers, gateway] = await Promise.all([
    api.get("/auth/providers", { quiet401: true }).then(
      (/** @type {{providers?: unknown[]}} */ p) => (p.providers ?? []).length,
      () => 0,
    ),
    gatewayUrl(origin),
  ]);
  const sso = providers > 0;

  const ssoSection =
    h("section", { "aria-labelledby": "c-sso" },
      h("h2", { id: "c-sso" }, "With single sign-on", sso ? " (recommended here)" : " (needs an identity provider)"),
      h("p", {}, "Writes ~/.claude/settings.json with ANTHROPIC_BASE_URL and an apiKeyHelper script that signs in through " +
        "the browser and caches a Sluice session token. Add ", h("code", {}, "?scope=project"),
      " to the URL to write .claude/settings.json in the current project instead."),
      h("h3", {}, "macOS and Linux"),
      copyBlock(`curl -fsS ${origin}/auth/setup | bash`, "the macOS and Linux setup command"),
      h("h3", {}, "Windows"),
      h("p", {}, "The sign-in helper is a bash script: in WSL or Git Bash, run the macOS and Linux command above. " +
        "In PowerShell, use a virtual key (the setup below)."),
    );
  const keySection =
    h("section", { "aria-labelledby": "c-key" },
      h("h2", { id: "c-key" }, "With a virtual key"),
      h("p", {}, "Create a key on ", h("a", { href: "#/me" }, "your page"),
        " (it is shown once). The easiest way to hand it to a machine is the one-time setup link made there; or run:"),
      h("h3", {}, "macOS and Linux"),
      copyBlock(`SLUICE_API_KEY=sk-sluice-… bash <(curl -fsS ${origin}/auth/setup)`, "the macOS and Linux key setup command"),
      h("h3", {}, "Windows (PowerShell)"),
      copyBlock(`$env:SLUICE_API_KEY = "sk-sluice-…"; irm ${origin}/auth/setup.ps1 | iex`, "the Windows key setup command"),
      h("h3", {}, "Just this shell"),
      copyBlock(`ANTHROPIC_BASE_URL=${gateway} ANTHROPIC_API_KEY=sk-sluice-… claude`, "the one-off command"),
    );

  main.append(
    pageTitle("Connect Claude Code"),
    h("p", { class: "lead" },
      sso
        ? "This Sluice signs you in through your company's identity provider: run the setup once, and Claude Code " +
            "opens the browser when it needs you to sign in."
        : "This Sluice uses virtual keys: create one on ",
      sso ? null : h("a", { href: "#/me" }, "your page"),
      sso ? null : ", then run the setup with it.",
    ),
    h("p", {}, "Claude Code sends its requests to ", h("code", {}, gateway), "."),

    ...(sso ? [ssoSection, keySection] : [keySection, ssoSection]),
    h("section", { "aria-labelledby": "c-manual" },
      h("h2", { id: "c-manual" }, "By hand: settings.json"),
      h("p", {}, "What the SSO setup writes, if you manage ~/.claude/settings.json yourself (the helper script is served at ",
        h("code", {}, `${origin}/auth/setup/token-script`), "):"),
      copyBlock(
        JSON.stringify(
          {
            env: {
              ANTHROPIC_BASE_URL: gateway,
              CLAUDE_CODE_API_KEY_HELPER_TTL_MS: "3600000",
              CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: "1",
            },
            apiKeyHelper: `bash ~/.claude/sluice-token.sh ${origin}`,
          },
          null,
          2,
        ),
        "the settings.json example",
      ),
    ),

    h("section", { "aria-labelledby": "c-models" },
      h("h2", { id: "c-models" }, "Which models"),
      h("p", {}, "With ", h("code", {}, "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1"),
        " (the setup sets it) Claude Code's /model lists the models this Sluice serves, from ",
        h("code", {}, `${gateway}/v1/models`), "."),
      copyBlock(`export CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`, "the model discovery setting"),
    ),
  );
}

/**
 * Where Claude Code sends requests: the gateway URL the setup script carries (on AWS the gateway has its own
 * Function URL), else this origin (`sluice serve` answers both).
 * @param {string} origin
 */
async function gatewayUrl(origin) {
  try {
    const script = await api.text("/auth/setup");
    const found = /^GATEWAY_URL="([^"]+)"/m.exec(script);
    return found ? found[1] : origin;
  } catch {
    return origin;
  }
}
