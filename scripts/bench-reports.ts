// `npm run bench:reports [-- --runs 20 --days 30]` on the history `npm run seed:synthetic` made:
// the latency of each dashboard report (and the API's other reports) as served, against the same
// report computed straight from delivery_events, in one run, as a ratio. p50 and p95 of --runs runs
// after one warm-up run.
import pg from "pg";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import * as reports from "../src/reports/reports.repository.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";

const TOOL: Tool = {
  name: "npm run bench:reports --",
  usage: `Usage: npm run bench:reports [-- --runs 20 --days 30 --reference-runs 3]

Times each report over the last --days days on the history \`npm run seed:synthetic\` made (database
cio_synthetic of the embedded PostgreSQL, or SYNTHETIC_DATABASE_URL), against the same report
computed from delivery_events.

Options:
  --runs N             timed runs per report after a warm-up (default 20)
  --days N             report range (30)
  --reference-runs N   runs of the slow reference queries (3)
  -h, --help           this help
`,
};

const { values } = parseCommandLine(TOOL, { runs: { type: "string", default: "20" }, days: { type: "string", default: "30" }, "reference-runs": { type: "string", default: "3" } });
const RUNS = Number(values.runs);

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
const url = process.env["SYNTHETIC_DATABASE_URL"] ?? database.embedded?.url("cio_synthetic");
if (!url) throw new Error("set SYNTHETIC_DATABASE_URL");
const pool = new pg.Pool({ connectionString: url, max: 2 });

async function time(fn: () => Promise<unknown>, runs: number): Promise<{ p50: number; p95: number }> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.95))]! };
}

try {
  const { rows: size } = await pool.query("SELECT (SELECT count(*) FROM deliveries)::int AS deliveries, (SELECT count(*) FROM delivery_events)::int AS events, (SELECT count(*) FROM delivery_stats_daily)::int AS rollup_rows");
  const { rows: span } = await pool.query("SELECT to_char(max(day), 'YYYY-MM-DD') AS last FROM delivery_stats_daily");
  const to = span[0].last as string;
  const from = new Date(Date.parse(to) - (Number(values.days) - 1) * 86400_000).toISOString().slice(0, 10);
  const base: reports.Filters = { from, to };
  const [top] = await reports.topOrigins(pool, { ...base, originType: "campaign" }, 1);
  const campaign: reports.Filters = { ...base, originType: "campaign", originId: String(top?.["origin_id"] ?? "1") };
  const page = { limit: 20, offset: 0 };
  console.log(`bench:reports  ${JSON.stringify(size[0])}; range ${from}..${to} (${values.days} days); ${RUNS} runs after a warm-up`);

  const rows: Array<[string, () => Promise<unknown>, (() => Promise<unknown>) | null]> = [
    ["funnel, all origins", () => reports.funnel(pool, base), () => reports.funnelFromEvents(pool, base)],
    ["funnel, one campaign", () => reports.funnel(pool, campaign), () => reports.funnelFromEvents(pool, campaign)],
    ["daily series, all origins", () => reports.funnel(pool, base, ["day"]), () => reports.funnelFromEvents(pool, base, ["day"])],
    ["funnel by channel", () => reports.funnel(pool, base, ["channel"]), () => reports.funnelFromEvents(pool, base, ["channel"])],
    ["top origins", () => reports.topOrigins(pool, base, 20), null],
    ["top links", () => reports.links(pool, base, page), null],
    ["top links, one campaign", () => reports.links(pool, campaign, page), null],
    ["top failure reasons", () => reports.failures(pool, base, page), null],
    ["one delivery's timeline", () => reports.deliveryTimeline(pool, "syn12345"), null],
    ["one person's deliveries", () => reports.personDeliveries(pool, "customer_id", "4242", page), null],
  ];
  console.log("\n| report | p50 ms | p95 ms | from delivery_events, p50 ms | ratio |");
  console.log("|---|---|---|---|---|");
  for (const [name, served, reference] of rows) {
    const ours = await time(served, RUNS);
    const ref = reference ? await time(reference, Number(values["reference-runs"])) : null;
    console.log(`| ${name} | ${ours.p50.toFixed(1)} | ${ours.p95.toFixed(1)} | ${ref ? ref.p50.toFixed(0) : "(reads delivery_events/deliveries directly)"} | ${ref ? `${(ref.p50 / ours.p50).toFixed(0)}× faster` : "-"} |`);
  }
} finally {
  await pool.end();
  await database.close();
}
