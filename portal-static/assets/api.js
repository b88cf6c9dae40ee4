// The one door to Sluice's API. The session is an HttpOnly cookie the page never sees; what the page holds is
// the CSRF token the server hands out with the session (`POST /auth/session`, `GET /auth/me`), sent on every
// write as `X-CSRF-Token`. It lives in this module's memory only, never in storage.

/**
 * @typedef {{user_id: string, role: "admin" | "member" | string, sub?: string, team_id?: string | null,
 *   type?: string, idp?: string, csrf_token?: string}} Me
 * @typedef {{name: string, login_url?: string, portal_url?: string, flow_type?: string}} Provider
 */

/** An API refusal, with the message the server gave in its error envelope. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} type
   * @param {string} message
   */
  constructor(status, type, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
  }
}

let csrfToken = "";
/** @type {(() => void) | null} */
let onSessionEnded = null;

/** @param {string | undefined | null} token */
export function setCsrfToken(token) {
  csrfToken = token ?? "";
}

/**
 * Called when a request that needed the session gets 401: the session ended (signed out elsewhere, expired, or
 * revoked by an admin).
 * @param {() => void} handler
 */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/**
 * The error message of a failed answer: the Anthropic envelope `{"type":"error","error":{type,message}}` (or a
 * bare `{"error":{…}}`), else the status in words.
 * @param {Response} resp
 * @returns {Promise<ApiError>}
 */
async function refusal(resp) {
  let type = "error";
  let message = "";
  const text = await resp.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    const err = body && typeof body === "object" ? body.error : null;
    if (err && typeof err === "object") {
      type = String(err.type ?? type);
      message = String(err.message ?? "");
    } else if (typeof err === "string") {
      message = err;
    }
  } catch {
    // Not JSON (a proxy's page, an empty body): fall through to the status line.
  }
  if (!message) {
    message = `Sluice answered ${resp.status}${resp.statusText ? ` ${resp.statusText}` : ""}`;
  }
  return new ApiError(resp.status, type, message);
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{quiet401?: boolean, accept?: string}} [opts] quiet401: a 401 is the caller's answer (sign-in checks),
 *   not a session that ended
 * @returns {Promise<Response>}
 */
async function send(method, path, body, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: opts.accept ?? "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Sluice could not be reached. Check your connection and try again.");
  }
  if (!resp.ok) {
    const err = await refusal(resp);
    if (resp.status === 401 && !opts.quiet401 && onSessionEnded) onSessionEnded();
    throw err;
  }
  return resp;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{quiet401?: boolean}} [opts]
 * @returns {Promise<any>} the JSON answer, or null for an empty one (204)
 */
async function json(method, path, body, opts) {
  const resp = await send(method, path, body, opts);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  /** @param {string} path @param {{quiet401?: boolean}} [opts] */
  get: (path, opts) => json("GET", path, undefined, opts),
  /** @param {string} path @param {unknown} [body] @param {{quiet401?: boolean}} [opts] */
  post: (path, body = {}, opts) => json("POST", path, body, opts),
  /** @param {string} path @param {unknown} [body] */
  put: (path, body = {}) => json("PUT", path, body),
  /** @param {string} path @param {unknown} [body] */
  patch: (path, body = {}) => json("PATCH", path, body),
  /** @param {string} path */
  del: (path) => json("DELETE", path),
  /** A text answer (setup scripts). @param {string} path */
  text: async (path) => (await send("GET", path, undefined, { accept: "text/plain, */*" })).text(),
};

/**
 * Downloads a file answer (a CSV) with the session, and saves it under the server's file name.
 * @param {string} path
 * @param {string} fallbackName
 * @returns {Promise<string>} the file name
 */
export async function download(path, fallbackName) {
  const resp = await send("GET", path, undefined, { accept: "text/csv, */*" });
  const blob = await resp.blob();
  const disposition = resp.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/**
 * Who is signed in (by the session cookie), or null.
 * @returns {Promise<Me | null>}
 */
export async function currentUser() {
  try {
    /** @type {Me} */
    const me = await api.get("/auth/me", { quiet401: true });
    setCsrfToken(me.csrf_token);
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setCsrfToken("");
      return null;
    }
    throw err;
  }
}

/**
 * Password sign-in (the bootstrap admin).
 * @param {string} username
 * @param {string} password
 */
export async function signIn(username, password) {
  const answer = await api.post("/auth/session", { username, password }, { quiet401: true });
  setCsrfToken(answer?.csrf_token);
  return answer;
}

export async function signOut() {
  try {
    await api.post("/auth/logout", {}, { quiet401: true });
  } finally {
    setCsrfToken("");
  }
}

/** @param {string} s */
export const enc = (s) => encodeURIComponent(s);
