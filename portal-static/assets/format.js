// Numbers, money and dates as people read them.

const usdFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2 });
const intFormat = new Intl.NumberFormat("en-US");

/** @param {number | null | undefined} n */
export function usd(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  // A single request costs fractions of a cent: show them rather than "$0.00".
  if (n !== 0 && Math.abs(n) < 0.01) return `${n < 0 ? "-" : ""}$${Math.abs(n).toPrecision(2)}`;
  return usdFormat.format(n);
}

/** @param {number | null | undefined} n */
export function int(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return intFormat.format(n);
}

/** @param {number | null | undefined} n */
export function pct(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return `${Math.round(n * 10) / 10} %`;
}

/**
 * A date/time in the reader's locale, UTC stated (budgets and rollups are UTC).
 * @param {string | null | undefined} iso
 */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** @param {string | null | undefined} iso */
export function day(iso) {
  if (!iso) return "—";
  return iso.slice(0, 10);
}
