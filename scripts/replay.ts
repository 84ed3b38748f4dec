// `npm run replay [-- --dry-run]`: rebuilds deliveries and person_subscriptions from delivery_events
// (after a projection fix) and prints what changed. --dry-run reports without committing.
import { exitWithUsage, parseCommandLine, type Tool } from "../src/core/cli.js";
import { replayProjections } from "../src/events/replay.js";
import { runDatabaseTool } from "./lib/database-tool.js";

const TOOL: Tool = {
  name: "npm run replay --",
  usage: `Usage: npm run replay [-- --dry-run] [--chunk-size N]

Rebuilds deliveries and person_subscriptions from delivery_events in one transaction (after a
projection fix), and prints which columns changed in how many rows.

Options:
  --dry-run        report what would change, commit nothing
  --chunk-size N   events per step (default 5000)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, { "dry-run": { type: "boolean", default: false }, "chunk-size": { type: "string", default: "5000" } });
const chunkSize = Number(values["chunk-size"]);
if (!Number.isInteger(chunkSize) || chunkSize < 1) exitWithUsage(TOOL, `--chunk-size must be a whole number of at least 1, not "${values["chunk-size"]}"`, false);

await runDatabaseTool(TOOL, async ({ pool }) => {
  const started = Date.now();
  const report = await replayProjections(pool, { dryRun: values["dry-run"], chunkSize });
  console.log(`${report.dryRun ? "Dry run (nothing committed)" : "Replayed"}: ${report.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const [name, t] of [["deliveries", report.deliveries], ["person_subscriptions", report.people]] as const) {
    console.log(`  ${name}: ${t.before} -> ${t.after} rows; ${t.added} added, ${t.removed} removed, ${t.changed} changed`);
    for (const [column, n] of Object.entries(t.columns)) console.log(`    ${column}: ${n} rows changed`);
  }
}, { poolSize: 1 });
