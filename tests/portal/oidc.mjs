// A minimal OpenID provider on a loopback port, for the portal's single sign-on test (the Node twin of
// tests/e2e/oidc_provider.py, with the authorization code flow and PKCE that the portal's sign-in uses).
//
// - `/.well-known/openid-configuration`: issuer `http://127.0.0.1:<port>`, the endpoints below;
// - `/jwks`: the public half of an RSA-2048 key (`kid` "portal-1");
// - `/authorize`: signs `signInAs` in at once. `response_type=code` redirects to `redirect_uri?code=…&state=…`
//   (the code remembers `nonce`, `redirect_uri`, `client_id` and the PKCE challenge); `response_type=id_token`
//   redirects with the token in the fragment (the implicit flow of Claude Code's browser sign-in);
// - `/token`: exchanges a code once, checking `redirect_uri`, `client_id` and the S256 `code_verifier`.
// Every request is recorded in `requests` so a test can see which flow was used.

import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";

/** @param {Buffer | string} data */
const b64url = (data) => Buffer.from(data).toString("base64url");

/**
 * @param {{audience: string}} opts
 */
export async function startOidcProvider({ audience }) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "portal-1", alg: "RS256", use: "sig" };
  /** @type {Map<string, {email: string, nonce: string | null, redirect: string, clientId: string, challenge: string | null, method: string | null}>} */
  const codes = new Map();
  /** @type {string[]} */
  const requests = [];
  let issuer = "";
  const provider = {
    issuer: "",
    audience,
    /** Who the next sign-in is (the provider asks nobody). */
    signInAs: "member@corp.example",
    requests,
    /** @param {Record<string, unknown>} claims */
    mint(claims) {
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "portal-1" }));
      const body = b64url(JSON.stringify(claims));
      const sig = createSign("RSA-SHA256").update(`${header}.${body}`).sign(privateKey);
      return `${header}.${body}.${b64url(sig)}`;
    },
    /** @param {string} email @param {string | null} nonce */
    tokenFor(email, nonce) {
      const now = Math.floor(Date.now() / 1000);
      return provider.mint({
        iss: issuer, aud: audience, sub: `sub-${email}`, email, email_verified: true, iat: now, nbf: now - 5, exp: now + 600,
        ...(nonce ? { nonce } : {}),
      });
    },
    stop: () => new Promise((done) => server.close(() => done(undefined))),
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", issuer || "http://127.0.0.1");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    /** @param {number} status @param {unknown} body */
    const json = (status, body) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ["code", "id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
        scopes_supported: ["openid", "email", "profile"],
      });
    }
    if (url.pathname === "/jwks") return json(200, { keys: [jwk] });
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      const redirect = q.get("redirect_uri") ?? "";
      const state = q.get("state");
      const email = q.get("login_hint") || provider.signInAs;
      if (!redirect) return json(400, { error: "invalid_request", error_description: "redirect_uri missing" });
      const target = new URL(redirect);
      if (q.get("response_type") === "code") {
        const code = randomBytes(16).toString("hex");
        codes.set(code, {
          email, nonce: q.get("nonce"), redirect, clientId: q.get("client_id") ?? "",
          challenge: q.get("code_challenge"), method: q.get("code_challenge_method"),
        });
        target.searchParams.set("code", code);
        if (state !== null) target.searchParams.set("state", state);
        res.writeHead(302, { location: target.toString() });
        return res.end();
      }
      const frag = new URLSearchParams({ id_token: provider.tokenFor(email, q.get("nonce")), token_type: "Bearer" });
      if (state !== null) frag.set("state", state);
      target.hash = frag.toString();
      res.writeHead(302, { location: target.toString() });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const form = new URLSearchParams(raw);
        const auth = req.headers.authorization ?? "";
        const basicClient = auth.startsWith("Basic ")
          ? decodeURIComponent(Buffer.from(auth.slice(6), "base64").toString().split(":")[0])
          : null;
        const code = form.get("code") ?? "";
        const grant = codes.get(code);
        codes.delete(code);
        if (form.get("grant_type") !== "authorization_code" || !grant) {
          return json(400, { error: "invalid_grant", error_description: "unknown or used code" });
        }
        if (form.get("redirect_uri") !== grant.redirect) return json(400, { error: "invalid_grant", error_description: "redirect_uri differs" });
        const clientId = form.get("client_id") ?? basicClient;
        if (clientId !== grant.clientId) return json(400, { error: "invalid_client", error_description: "client_id differs" });
        if (grant.challenge) {
          const verifier = form.get("code_verifier") ?? "";
          const computed = createHash("sha256").update(verifier).digest("base64url");
          if (grant.method !== "S256" || computed !== grant.challenge) {
            return json(400, { error: "invalid_grant", error_description: "PKCE verification failed" });
          }
        }
        return json(200, { id_token: provider.tokenFor(grant.email, grant.nonce), access_token: randomBytes(16).toString("hex"), token_type: "Bearer", expires_in: 600 });
      });
      return undefined;
    }
    return json(404, { error: "not_found" });
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", () => done(undefined)));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the OIDC provider has no port");
  issuer = `http://127.0.0.1:${address.port}`;
  provider.issuer = issuer;
  return provider;
}
