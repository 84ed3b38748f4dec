// Owns turning request parameters (HTTP query or CLI flags) into report filters, with every problem
// named; and the output formats (JSON rows, CSV, a terminal table).
import { stringify } from "csv-stringify/sync";
import { HttpError } from "../core/errors.js";
import { FAILURE_KINDS, GROUPS, ORIGIN_TYPES, PERSON_KEYS, type FailureKind, type Filters, type Group, type OriginType, type Page, type PersonKey } from "./reports.repository.js";

export const CHANNELS = ["email", "push", "in_app", "sms", "slack", "webhook", "whatsapp"] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ID = /^\d{1,18}$/;

export type Params = Record<string, string | undefined>;

/** Bad report parameters: a 400 that names every problem (also the CLI's usage error). */
export class ReportQueryError extends HttpError {
  constructor(readonly problems: string[]) {
    super(400, "invalid_query", problems.join("; "), {}, { problems });
  }
}

/** The longest range a report (or the dashboard) covers: one year, leap day included. */
export const MAX_RANGE_DAYS = 366;

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
/** A real calendar date: JavaScript reads 2026-02-30 as March 2nd, PostgreSQL refuses it. */
const isDate = (value: string) => DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && isoDay(new Date(`${value}T00:00:00Z`)) === value;

/**
 * from/to (default: the last 30 days up to today), channel, one origin, action. `today` is today's date
 * in the report time zone (reportClock), not in UTC: at 08:00 in Tokyo the default range includes
 * Tokyo's today, which UTC still calls yesterday.
 */
export function parseFilters(p: Params, today: string): Filters {
  const problems: string[] = [];
  // An emptied date field of the dashboard's form means the default, as if it were not given.
  const to = p["to"] || today;
  const toMs = Date.parse(`${to}T00:00:00Z`);
  // A bad `to` is named below; the default `from` then simply repeats it (no 30 days before garbage).
  const from = p["from"] || (Number.isNaN(toMs) ? to : isoDay(new Date(toMs - 29 * 86400_000)));
  for (const [name, value] of [["from", from], ["to", to]] as const) {
    if (!isDate(value)) problems.push(`${name} must be a date like 2026-11-01, got "${value}"`);
  }
  if (problems.length === 0 && from > to) problems.push(`from (${from}) is after to (${to})`);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400_000 + 1;
  if (problems.length === 0 && days > MAX_RANGE_DAYS) problems.push(`from ${from} to ${to} is ${days} days; a report covers at most ${MAX_RANGE_DAYS} days (one year)`);
  const filters: Filters = { from, to };
  if (p["channel"]) {
    if ((CHANNELS as readonly string[]).includes(p["channel"])) filters.channel = p["channel"];
    else problems.push(`channel must be one of ${CHANNELS.join(", ")}`);
  }
  const origins = (["campaign", "broadcast", "newsletter", "transactional"] as const).filter((o) => p[o] !== undefined && p[o] !== "");
  if (origins.length > 1) problems.push(`give one origin at most, got ${origins.join(" and ")}`);
  for (const o of origins) {
    if (ID.test(p[o]!)) Object.assign(filters, { originType: o as OriginType, originId: p[o] });
    else problems.push(`${o} must be a numeric id`);
  }
  if (p["origin_type"] && origins.length === 0) {
    if ((ORIGIN_TYPES as readonly string[]).includes(p["origin_type"])) filters.originType = p["origin_type"] as OriginType;
    else problems.push(`origin_type must be one of ${ORIGIN_TYPES.join(", ")}`);
  }
  if (p["action"]) {
    if (ID.test(p["action"])) filters.actionId = p["action"];
    else problems.push("action must be a numeric id");
  }
  if (problems.length > 0) throw new ReportQueryError(problems);
  return filters;
}

export function parseGroups(value: string | undefined): Group[] {
  if (!value) return [];
  const groups = value.split(",").map((g) => g.trim()).filter(Boolean);
  const bad = groups.filter((g) => !(GROUPS as readonly string[]).includes(g));
  if (bad.length > 0) throw new ReportQueryError([`group_by takes ${GROUPS.join(", ")}; not ${bad.join(", ")}`]);
  return groups as Group[];
}

export function parsePage(p: Params, defaultLimit = 50): Page {
  const limit = p["limit"] === undefined ? defaultLimit : Number(p["limit"]);
  const offset = p["offset"] === undefined ? 0 : Number(p["offset"]);
  const problems: string[] = [];
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) problems.push("limit must be an integer from 1 to 1000");
  if (!Number.isInteger(offset) || offset < 0) problems.push("offset must be a non-negative integer");
  if (problems.length > 0) throw new ReportQueryError(problems);
  return { limit, offset };
}

/** `kind=final|transient` of the failures report; none: both. */
export function parseFailureKind(value: string | undefined): FailureKind | undefined {
  if (value === undefined || value === "") return undefined;
  if ((FAILURE_KINDS as readonly string[]).includes(value)) return value as FailureKind;
  throw new ReportQueryError([`kind must be one of ${FAILURE_KINDS.join(", ")}`]);
}

export function parsePersonKey(value: string | undefined): PersonKey {
  if (value && (PERSON_KEYS as readonly string[]).includes(value)) return value as PersonKey;
  throw new ReportQueryError([`people are looked up by ${PERSON_KEYS.join(", ")}`]);
}

type Cell = string | number | boolean | null | Date | undefined | object;
const text = (v: Cell): string => (v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v));

/**
 * CSV for spreadsheets, written by csv-stringify: quoting as RFC 4180 has it, and every text cell that a
 * spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a carriage return, or
 * their full-width forms) prefixed with ', so it opens as the text it is. Links and failure messages
 * come from outside: `=HYPERLINK(...)` in a click must not become a live formula on an analyst's
 * machine. Numbers stay numbers (a negative count is not neutralised).
 */
export function toCsv(rows: ReadonlyArray<Record<string, Cell>>): string {
  if (rows.length === 0) return "";
  return stringify(rows as Array<Record<string, unknown>>, {
    header: true,
    columns: Object.keys(rows[0]!),
    escape_formulas: true,
    cast: { date: (d) => d.toISOString(), boolean: (b) => String(b), object: (o) => JSON.stringify(o), bigint: (b) => String(b) },
  });
}

export interface TableOptions {
  /** Widest line allowed: long text is cut first, then columns from the end are left out (and named). */
  maxWidth?: number;
  /** Columns to show first, in this order; the others follow in their own order. */
  order?: readonly string[];
  /** Said after the list of left-out columns, e.g. how to see them all. */
  moreHint?: string;
}

const isRate = (column: string) => column.endsWith("_rate");
const MIN_TEXT = 20;

/** A table cell: rates as percentages, instants as "YYYY-MM-DD HH:MM:SS" UTC, objects as JSON. */
function tableText(column: string, v: Cell): string {
  if (typeof v === "number" && isRate(column)) return `${(v * 100).toFixed(1)}%`;
  if (v instanceof Date) return `${v.toISOString().slice(0, 19).replace("T", " ")}Z`;
  return text(v).replaceAll(/\s+/g, " ");
}

const cut = (s: string, width: number) => (s.length > width ? `${s.slice(0, Math.max(1, width - 1))}…` : s);

/** A plain-text table for terminals: numbers right-aligned, rates as percentages, fitted to maxWidth. */
export function toTable(rows: ReadonlyArray<Record<string, Cell>>, options: TableOptions = {}): string {
  if (rows.length === 0) return "(no rows)\n";
  const own = Object.keys(rows[0]!);
  const first = (options.order ?? []).filter((c) => own.includes(c));
  let columns = [...first, ...own.filter((c) => !first.includes(c))];
  const cells = rows.map((r) => columns.map((c) => tableText(c, r[c])));
  const numeric = columns.map((c, i) => cells.every((row) => row[i] === "" || !Number.isNaN(Number(row[i])) || (isRate(c) && row[i]!.endsWith("%"))));
  let widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((row) => row[i]!.length))));
  const total = (ws: number[]) => ws.reduce((a, b) => a + b, 0) + 2 * (ws.length - 1);
  const maxWidth = options.maxWidth ?? Infinity;
  // To fit: leave out the columns not asked for first, then narrow long text, then leave out more.
  let shown = columns.length;
  while (shown > Math.max(1, first.length) && total(widths.slice(0, shown)) > maxWidth) shown--;
  while (total(widths.slice(0, shown)) > maxWidth) {
    const widest = widths.slice(0, shown).reduce((best, w, i) => (!numeric[i] && w > MIN_TEXT && (best < 0 || w > widths[best]!) ? i : best), -1);
    if (widest < 0) break;
    widths[widest]! -= 1;
  }
  while (shown > 1 && total(widths.slice(0, shown)) > maxWidth) shown--;
  const hidden = columns.slice(shown);
  columns = columns.slice(0, shown);
  widths = widths.slice(0, shown);
  const line = (values: string[]) => values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : cut(v, widths[i]!).padEnd(widths[i]!))).join("  ").trimEnd();
  const out = [line(columns), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map((row) => line(row.slice(0, shown)))];
  if (hidden.length > 0) out.push(`(${hidden.length} more column${hidden.length === 1 ? "" : "s"}: ${hidden.join(", ")}${options.moreHint ? `; ${options.moreHint}` : ""})`);
  return out.join("\n") + "\n";
}

/** Runs every parser, then throws once with all their problems. */
export function parseAll<T extends unknown[]>(...parsers: { [K in keyof T]: () => T[K] }): T {
  const problems: string[] = [];
  const results = parsers.map((parse) => {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof ReportQueryError)) throw err;
      problems.push(...err.problems);
      return undefined;
    }
  });
  if (problems.length > 0) throw new ReportQueryError(problems);
  return results as T;
}
