// `npm run outbox -- stats|list|retry|purge`: look at and manage what the service owes Customer.io.
// Reads DATABASE_URL, or the embedded PostgreSQL of this folder.
import { exitWithUsage, parseCommandLine, type Tool } from "../src/core/cli.js";
import { counts, list, purge, retryDead, type OutboxRow } from "../src/reporter/outbox.repository.js";
import { toTable } from "../src/reports/report-query.js";
import { runDatabaseTool } from "./lib/database-tool.js";

const TOOL: Tool = {
  name: "npm run outbox --",
  usage: `Usage: npm run outbox -- <command> [options]

Commands:
  stats [--json]                          rows by status, how many are due now, the oldest waiting
  list [--status S[,S]] [--limit N]       rows with their attempts and last error; by default those
                                          that need attention: pending and dead (S: pending, dead,
                                          delivered, superseded, all)
  retry (--id N [--id M ...] | --all)     queue dead letters again, with a fresh attempt count
  purge --status dead|delivered|superseded --older-than-days N
                                          delete old rows

Options:
  -h, --help                              this help

Examples:
  npm run outbox -- list --status dead
  npm run outbox -- retry --all
  npm run outbox -- purge --status delivered --older-than-days 30
`,
};

const { positionals, values } = parseCommandLine(
  TOOL,
  {
    status: { type: "string" },
    limit: { type: "string", default: "50" },
    id: { type: "string", multiple: true },
    all: { type: "boolean", default: false },
    "older-than-days": { type: "string" },
    json: { type: "boolean", default: false },
  },
  { positionals: true },
);

const COMMANDS = ["stats", "list", "retry", "purge"] as const;
const [command, ...extra] = positionals;
if (!command) exitWithUsage(TOOL, "which command? (stats, list, retry, purge)");
if (!(COMMANDS as readonly string[]).includes(command)) exitWithUsage(TOOL, `unknown command "${command}"`);
if (extra.length > 0) exitWithUsage(TOOL, `unexpected argument "${extra[0]}"`);

const STATUSES = ["pending", "dead", "delivered", "superseded"] as const;
type Status = (typeof STATUSES)[number];

/** --status as a list of statuses; `allowed` are the ones this command takes. */
function statuses(allowed: readonly string[], fallback: Status[]): Status[] {
  if (values.status === undefined) return fallback;
  const asked = values.status === "all" && allowed.includes("all") ? [...STATUSES] : values.status.split(",").map((s) => s.trim());
  const bad = asked.filter((s) => !allowed.includes(s) || s === "all");
  if (bad.length > 0 || asked.length === 0) exitWithUsage(TOOL, `--status takes ${allowed.join(", ")}; not "${values.status}"`, false);
  return asked as Status[];
}

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) exitWithUsage(TOOL, `${flag} must be a whole number of at least 1, not "${value ?? ""}"`, false);
  return n;
}

// Every flag is checked before the database is opened.
const listed = command === "list" ? statuses([...STATUSES, "all"], ["pending", "dead"]) : [];
const limit = command === "list" ? positiveInteger("--limit", values.limit) : 0;
if (command === "retry") {
  if (values.all === Boolean(values.id?.length)) exitWithUsage(TOOL, "retry needs --id N (one or more) or --all", false);
  for (const id of values.id ?? []) positiveInteger("--id", id);
}
const purged = command === "purge" ? statuses(["dead", "delivered", "superseded"], []) : [];
const olderThanDays = command === "purge" ? positiveInteger("--older-than-days", values["older-than-days"]) : 0;
if (command === "purge" && purged.length !== 1) exitWithUsage(TOOL, "purge needs one --status: dead, delivered or superseded", false);
if (command !== "stats" && values.json) exitWithUsage(TOOL, "--json is for stats", false);

const ago = (seconds: number) =>
  seconds < 90 ? `${Math.round(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : seconds < 172_800 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 86400).toFixed(1)} days`;

await runDatabaseTool(TOOL, async ({ pool }) => {
  switch (command) {
    case "stats": {
      const c = await counts(pool);
      if (values.json) {
        console.log(JSON.stringify(c));
        break;
      }
      const pending = c.pending === 0 ? "" : `  (${c.due} due now; oldest waiting ${ago(c.oldest_pending_seconds ?? 0)})`;
      const dead = c.dead === 0 ? "" : "  (npm run outbox -- list --status dead; retry: npm run outbox -- retry --all)";
      const width = String(Math.max(c.pending, c.delivered, c.dead, c.superseded)).length;
      console.log("Outbox: calls owed to Customer.io");
      console.log(`  pending     ${String(c.pending).padStart(width)}${pending}`);
      console.log(`  delivered   ${String(c.delivered).padStart(width)}`);
      console.log(`  dead        ${String(c.dead).padStart(width)}${dead}`);
      console.log(`  superseded  ${String(c.superseded).padStart(width)}${c.superseded === 0 ? "" : "  (replaced by a newer call of the same key; never sent)"}`);
      break;
    }
    case "list": {
      const rows: OutboxRow[] = [];
      // Dead letters first: they wait for a person; pending rows are still being tried.
      for (const status of (["dead", "pending", "delivered", "superseded"] as const).filter((s) => listed.includes(s))) rows.push(...(await list(pool, status, limit)));
      const c = await counts(pool);
      const total = listed.reduce((n, s) => n + c[s], 0);
      const shown = rows.slice(0, limit);
      const title = values.status === undefined ? "Outbox rows that need attention (pending and dead; --status to choose)" : `Outbox rows (${listed.join(", ")})`;
      console.log(`${title}: ${total}${total > shown.length ? `, showing ${shown.length} (--limit)` : ""}`);
      const table = shown.map((r) => ({
        id: r.id,
        kind: r.kind,
        delivery_id: r.delivery_id ?? "-",
        status: r.status,
        attempts: r.attempts,
        next_attempt: r.status === "pending" ? r.next_attempt_at : null,
        last_status: r.last_status ?? "",
        last_error: (r.last_error ?? "").replaceAll(/\s+/g, " "),
      }));
      // Every column is wanted: long error text is cut to fit 120 columns (SQL has it whole: see the README).
      if (table.length > 0) process.stdout.write(toTable(table, { maxWidth: 120, order: Object.keys(table[0]!) }));
      break;
    }
    case "retry": {
      const n = await retryDead(pool, values.all ? "all" : values.id!);
      console.log(`${n} dead letter(s) queued again`);
      break;
    }
    case "purge": {
      const n = await purge(pool, purged[0] as "dead" | "delivered" | "superseded", olderThanDays);
      console.log(`${n} ${purged[0]} row(s) deleted`);
      break;
    }
  }
}, { poolSize: 1 });
