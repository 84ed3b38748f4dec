// `npm run backfill -- --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--type <type>] [--dry-run] [--json]`:
// reads every message Customer.io's App API lists as created in the range and fills what `deliveries`
// lacks, through the same write path as webhooks (see docs/backfill.md). Progress on a terminal is a
// bar; in a log, a plain line every 5 s. Interrupted (Ctrl-C, a crash, a kill), the same command goes on
// from the last page written.
import { AppApiError, createAppApiClient, MESSAGE_TYPES } from "../src/backfill/app-api-client.js";
import { BackfillBusyError, runBackfill, type BackfillOutcome } from "../src/backfill/backfill.service.js";
import { MessageFiller, type FillProgress } from "../src/backfill/message-filler.js";
import { exitWithUsage, parseCommandLine, ToolError, type Tool } from "../src/core/cli.js";
import { loadConfig } from "../src/core/config.js";
import { createLogger } from "../src/core/logger.js";
import { trialSigningKey } from "../src/core/trial-key.js";
import { ErasedPeople } from "../src/events/erasures.js";
import { runDatabaseTool } from "./lib/database-tool.js";
import { duration, formatCount as n, Progress } from "./lib/progress.js";

const TOOL: Tool = {
  name: "npm run backfill --",
  usage: `Usage: npm run backfill -- --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--type <type>] [--dry-run] [--json]

Reads every message Customer.io's App API lists as created from --from to --to (UTC days, both
included) and fills what this service's tables lack: a delivery row for each message, and an event
(source 'backfill') for each metric its row does not have yet. A second run over the same range adds
nothing. Interrupted, the same command goes on from the last page written. Reads at most
CIO_APP_API_RATE_LIMIT requests a second (10, shared with every instance) of 1,000 messages each.

Needs CIO_APP_API_KEY (Customer.io: Account Settings > API Credentials > App API Keys), CIO_REGION=eu
for an EU workspace (or CIO_APP_API_URL), and the service's own settings (DATABASE_URL, signing keys).
See docs/backfill.md.

Options:
  --from DATE    the first day (UTC)
  --to DATE      the last day (UTC), included
  --type TYPE    only messages of this type: ${MESSAGE_TYPES.join(", ")} (sms = twilio)
  --dry-run      read and compare, write nothing: what would be added
  --json         print the summary as JSON
  -h, --help     this help
`,
};

const { values } = parseCommandLine(TOOL, {
  from: { type: "string" },
  to: { type: "string" },
  type: { type: "string" },
  "dry-run": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
});

function day(name: string, value: string | undefined): number {
  if (value === undefined) exitWithUsage(TOOL, `--${name} is required`);
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value) exitWithUsage(TOOL, `--${name} must be a date like 2026-01-31, not "${value}"`, false);
  return ms;
}
const from = day("from", values.from);
const to = day("to", values.to) + 86_400_000;
if (to <= from) exitWithUsage(TOOL, `--to (${values.to}) is before --from (${values.from})`, false);
const typeArg = values.type?.trim().toLowerCase();
const type = typeArg === undefined || typeArg === "" ? null : typeArg === "sms" ? "twilio" : typeArg;
if (type !== null && !(MESSAGE_TYPES as readonly string[]).includes(type)) exitWithUsage(TOOL, `--type must be one of ${MESSAGE_TYPES.join(", ")} (or sms), not "${values.type}"`, false);
const dryRun = values["dry-run"];
const range = `${values.from} to ${values.to}${type ? `, ${type} messages` : ""}`;

await runDatabaseTool(
  TOOL,
  async ({ pool }) => {
    const config = loadConfig(process.env, { trialSigningKey });
    const progress = new Progress(process.stderr, "backfill");
    // Warnings (a retried request, a restarted window) as log lines above the bar.
    const log = createLogger(process.env["LOG_LEVEL"] ?? "warn", progress.above());
    const api = createAppApiClient(config, pool, log);
    if (!api) throw new ToolError("CIO_APP_API_KEY is not set: create an App API key in Customer.io (Account Settings > API Credentials > App API Keys) and set it");
    const controller = new AbortController();
    let stops = 0;
    const stop = () => {
      if (++stops > 1) process.exit(130);
      process.stderr.write("\nStopping after the page being written (Ctrl-C again to stop at once; the checkpoint is kept either way)...\n");
      controller.abort();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    const filler = new MessageFiller(pool, api, new ErasedPeople(pool, config.erasureSecret), log);
    process.stderr.write(`${dryRun ? "Dry run: reading" : "Backfilling"} messages created ${range} (UTC)\n`);
    let outcome: BackfillOutcome;
    try {
      outcome = await runBackfill(pool, filler, {
        from, to, type, dryRun, signal: controller.signal,
        onProgress: (p: FillProgress) => progress.update({ fraction: p.fraction, text: describe(p) }),
      });
    } catch (err) {
      if (err instanceof BackfillBusyError) throw new ToolError(`${err.message}; wait for it, or stop it first`);
      if (err instanceof AppApiError) {
        const hint = err.status === 401 ? " (check CIO_APP_API_KEY, and CIO_REGION=eu or CIO_APP_API_URL for an EU workspace)" : "";
        throw new ToolError(`Customer.io's App API: ${err.message.slice(0, 300)}${hint}; run the same command again to go on from the last page written`);
      }
      throw err;
    } finally {
      progress.done();
      await api.close();
    }
    print(outcome);
    if (outcome.interrupted) process.exitCode = 130;
  },
  // The run's lock, the writes, the comparison and the shared rate limit each take a connection.
  { poolSize: 5 },
);

/** The most useful first: a narrow terminal cuts the end of the line. */
function describe(p: FillProgress): string {
  const c = p.counts;
  const rate = p.elapsedMs > 0 ? (c.messagesRead * 1000) / p.elapsedMs : 0;
  const left = p.fraction > 0.02 && p.fraction < 1 ? `ETA ${duration((p.elapsedMs * (1 - p.fraction)) / p.fraction)} · ` : "";
  const adds = dryRun ? `${n(c.metricsMissing)} metrics to add · ${n(c.deliveriesMissing)} deliveries to create` : `${n(c.metricsAdded)} metrics added · ${n(c.deliveriesCreated)} deliveries created`;
  return `${left}${n(c.messagesRead)} messages (${n(rate)}/s) · ${adds} · ${n(c.metricsPresent)} already present · windows ${p.windowsDone}/${p.windows} done`;
}

function print(o: BackfillOutcome): void {
  const c = o.counts;
  if (values.json) {
    console.log(JSON.stringify({ run_id: o.run?.id ?? null, dry_run: dryRun, interrupted: o.interrupted, from: values.from, to: values.to, type, seconds: o.elapsedMs / 1000, messages_read: c.messagesRead, deliveries_missing: c.deliveriesMissing, deliveries_created: c.deliveriesCreated, metrics_missing: c.metricsMissing, metrics_added: c.metricsAdded, already_present: c.metricsPresent, missing_by_metric: c.missingByMetric, resumed_from: o.resumedFrom ? { messages_read: o.resumedFrom.messagesRead, metrics_added: o.resumedFrom.metricsAdded, deliveries_created: o.resumedFrom.deliveriesCreated } : null }));
    return;
  }
  const head = o.interrupted ? "Interrupted" : dryRun ? "Dry run (nothing written)" : "Backfilled";
  console.log(`${head}: messages created ${range}, in ${duration(o.elapsedMs)}${o.run ? ` (run ${o.run.id})` : ""}`);
  const rows: Array<[string, number]> = dryRun
    ? [["messages read", c.messagesRead], ["deliveries to create", c.deliveriesMissing], ["metrics to add", c.metricsMissing], ["already present", c.metricsPresent]]
    : [["messages read", c.messagesRead], ["deliveries created", c.deliveriesCreated], ["metrics added", c.metricsAdded], ["already present", c.metricsPresent]];
  for (const [label, v] of rows) console.log(`  ${label.padEnd(22)} ${n(v).padStart(12)}`);
  const byMetric = Object.entries(c.missingByMetric).sort((a, b) => b[1] - a[1]);
  if (byMetric.length > 0) console.log(`  ${dryRun ? "missing" : "added"}, by metric:      ${byMetric.map(([m, k]) => `${m} ${n(k)}`).join(", ")}`);
  if (o.resumedFrom) console.log(`  (went on from a checkpoint: ${n(o.resumedFrom.messagesRead)} messages had been read before)`);
  if (o.interrupted) console.log("Run the same command again to go on from the last page written.");
}
