// Small DOM helpers. Every page builds its nodes with `h` and sets text through text nodes, never through
// innerHTML: values from the API (names, emails, error messages) can never become markup.

/** @typedef {Node | string | number | null | undefined | false} Child */
/** @typedef {string | number | boolean | null | undefined | ((ev: any) => void)} AttrValue */

/**
 * An element with attributes, event listeners (`onclick`, `onsubmit`, …) and children.
 * `true` sets an empty attribute, `false`/`null`/`undefined` leaves it out; `class` is the class attribute.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "value" && "value" in el) {
      /** @type {HTMLInputElement} */ (el).value = String(value);
    } else if (name === "checked" && "checked" in el) {
      /** @type {HTMLInputElement} */ (el).checked = Boolean(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Element | DocumentFragment} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let idCounter = 0;
/** A document-unique id for label/aria wiring. @param {string} prefix */
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * A labelled form control: `<div class="field"><label for=…>…</label>control hint</div>`.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  if (!control.id) control.id = uid("f");
  let hintEl = null;
  if (hint) {
    hintEl = h("span", { class: "hint", id: uid("hint") }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

/**
 * A `<select>` with options given as [value, label] pairs (or plain strings).
 * @param {Record<string, AttrValue>} attrs
 * @param {(string | [string, string])[]} options
 * @param {string} [selected]
 */
export function select(attrs, options, selected) {
  const el = h("select", attrs);
  for (const opt of options) {
    const [value, label] = typeof opt === "string" ? [opt, opt] : opt;
    const o = h("option", { value }, label);
    if (value === selected) o.selected = true;
    el.append(o);
  }
  return el;
}

/**
 * A table with a caption, header row and one row per item; `empty` is shown (in a paragraph) when there are none.
 * @template T
 * @param {{caption: string, columns: string[], rows: T[], row: (item: T) => Child[], empty: string}} spec
 */
export function table({ caption, columns, rows, row, empty }) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        // data-label lets narrow screens show each row as a card of "column: value" lines (style.css).
        rows.map((item) => h("tr", {}, row(item).map((cell, i) => h("td", { "data-label": columns[i] ?? "" }, cell)))),
      ),
    ),
  );
}

/** @param {string} [text] */
export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

/**
 * An error shown where the data would have been, in words.
 * @param {unknown} err
 */
export function errorBox(err) {
  return h("p", { class: "error", role: "alert" }, errorText(err));
}

/** @param {unknown} err */
export function errorText(err) {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A code block with a copy button.
 * @param {string} text
 * @param {string} label what is copied, for the button's accessible name
 */
export function copyBlock(text, label) {
  const code = h("code", {}, text);
  const pre = h("pre", { tabindex: 0, "aria-label": label }, code);
  return h("div", { class: "copy-block" }, pre, copyButton(text, label));
}

/**
 * @param {string} text
 * @param {string} label
 */
export function copyButton(text, label) {
  const button = h("button", { type: "button", class: "secondary copy", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
      announce(`Copied ${label}`);
    } catch {
      announce("Copying is not allowed here; select the text and copy it by hand", "error");
    }
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  });
  return button;
}

/**
 * Says something in the page's live region (read by screen readers, shown under the header).
 * @param {string} text
 * @param {"info" | "error"} [kind]
 */
export function announce(text, kind = "info") {
  const status = document.getElementById("status");
  if (!status) return;
  announcedAt = Date.now();
  status.className = `status ${kind}`;
  status.replaceChildren(h("span", {}, text));
}

let announcedAt = 0;

/**
 * Clears the status message when it is older than `maxAgeMs`, so a message said just before a navigation
 * ("You are signed out") survives it and older ones do not follow the person to the next page.
 * @param {number} maxAgeMs
 */
export function clearStaleAnnouncement(maxAgeMs) {
  const status = document.getElementById("status");
  if (!status || Date.now() - announcedAt <= maxAgeMs) return;
  status.className = "status";
  status.replaceChildren();
}

/**
 * Runs an action from a button or form: disables the button while it runs, announces success or the error.
 * @param {HTMLButtonElement | HTMLSelectElement | HTMLInputElement | null} button
 * @param {() => Promise<string | void>} action resolves to the success message, if any
 * @returns {Promise<boolean>} whether it succeeded
 */
export async function run(button, action) {
  // A button is disabled while its action runs (no double submit); a select or input keeps focus and stays usable,
  // since disabling the focused control would throw keyboard users back to the top of the page.
  const disable = button instanceof HTMLButtonElement;
  const section = button?.closest("section") ?? null;
  if (button) {
    if (disable) button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    const done = await action();
    if (done) announce(done);
    return true;
  } catch (err) {
    announce(errorText(err), "error");
    return false;
  } finally {
    if (button) {
      if (disable) button.disabled = false;
      button.removeAttribute("aria-busy");
    }
    keepFocusNear(section);
  }
}

/**
 * When an action removed the control that had focus (a revoked key's row is redrawn), focus would fall back to
 * the top of the page; put it on the heading of the section the control was in instead.
 * @param {Element | null} section
 */
function keepFocusNear(section) {
  const active = document.activeElement;
  if (active && active !== document.body) return;
  const heading = section?.isConnected ? section.querySelector("h2, h3") : null;
  if (heading instanceof HTMLElement) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

/**
 * The submit button of a form event.
 * @param {SubmitEvent} ev
 * @returns {HTMLButtonElement | null}
 */
export function submitter(ev) {
  const s = ev.submitter;
  return s instanceof HTMLButtonElement ? s : null;
}

/**
 * Reads a form's named controls as strings.
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function formValues(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    if (typeof v === "string") out[k] = v.trim();
  }
  return out;
}

/** A page heading that takes focus after navigation. @param {string} text */
export function pageTitle(text) {
  return h("h1", { tabindex: -1, class: "page-title" }, text);
}
