// `npm run bench:metrics [-- --seconds 10 --rounds 4 --connections 50 --rows 1000000 --scrapes 200]`
// What metrics cost, in two parts, each against a baseline measured in the same run:
// (a) ingest overhead: the real service (scripts/bench-server.ts, variant "ours") loaded with
//     bench:ingest's webhook traffic at 50 connections, with METRICS_ENABLED=true (and /metrics scraped
//     every --scrape-every seconds, 5 by default: three times as often as the usual 15 s) and with
//     METRICS_ENABLED=false,
//     alternating on and off for several rounds, each run on a fresh database; prints requests/s, the
//     server's CPU time per request, and the ratios on ÷ off;
// (b) scrape time: GET /metrics on the admin listener, many times in a row, over an empty outbox (the
//     baseline), then over 1,000,000 outbox rows as they usually are (97% delivered, 1% each pending,
//     dead, superseded; vacuumed), then over a backlog of 1,000,000 pending rows not vacuumed since
//     they became pending (Customer.io unreachable for hours); prints p50 / p99 / max, and the server's
//     CPU time per scrape;
// (c) the recording a stored webhook does, timed in this process, as a share of (a)'s server CPU per
//     request with metrics off: the overhead without the noise of a shared machine.
import fs from "node:fs";
import os from "node:os";
import pg from "pg";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { metrics, setMetricsEnabled } from "../src/core/metrics.js";
import { freePort, mb, startBenchDatabase } from "./lib/bench-db.js";
import { load, percentile, startBenchServer } from "./lib/bench-http.js";
import { webhookLoad } from "./lib/webhook-load.js";

const TOOL: Tool = {
  name: "npm run bench:metrics --",
  usage: `Usage: npm run bench:metrics [-- options]

Measures what metrics cost: webhook throughput at 50 connections with metrics on and off (alternating,
same run), and the time of a /metrics scrape over 1,000,000 outbox rows against an empty outbox.

Options:
  --seconds N        load per run (default 10)         --warmup N   seconds before measuring (2)
  --rounds N         on/off pairs (default 4)          --connections N   (50)
  --rows N           outbox rows for the scrape (1000000)
  --scrapes N        scrapes per case (default 200)    --scrape-every S   during the load (5)
  --skip-load, --skip-scrape   one part only
  -h, --help         this help
`,
};

const { values } = parseCommandLine(TOOL, {
  seconds: { type: "string", default: "10" },
  warmup: { type: "string", default: "2" },
  rounds: { type: "string", default: "4" },
  connections: { type: "string", default: "50" },
  rows: { type: "string", default: "1000000" },
  scrapes: { type: "string", default: "200" },
  "scrape-every": { type: "string", default: "5" },
  "skip-load": { type: "boolean", default: false },
  "skip-scrape": { type: "boolean", default: false },
});
const KEY = "bench-signing-key";
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROWS = Number(values.rows);


const db = await startBenchDatabase("metrics");
console.log(`bench:metrics  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}`);
try {
  const cpuPerRequestUs = values["skip-load"] ? undefined : await ingestOverhead();
  if (!values["skip-scrape"]) await scrapeTime();
  instrumentationCost(cpuPerRequestUs);
} finally {
  await db.stop();
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function ms(n: number): string {
  return n.toFixed(1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * (a) Throughput with metrics on and off, alternating, each run on a fresh database. Throughput on a
 * shared machine swings more than the overhead sought, so the server's own CPU time per request is
 * reported too: it counts what metrics add to each request whatever else the machine does.
 */
async function ingestOverhead(): Promise<number> {
  console.log(`\n(a) webhooks at ${CONNECTIONS} connections, ${SECONDS} s per run after ${values.warmup} s of warm-up; metrics on = /metrics scraped every ${values["scrape-every"]} s`);
  const { nextRequest, eventIdOf } = webhookLoad(KEY);
  const results: Record<"on" | "off", Array<{ rps: number; cpuUs: number }>> = { on: [], off: [] };
  let run = 0;
  for (let round = 0; round < Number(values.rounds); round++) {
    // Alternate which goes first, so a machine that drifts (other work, a warmer cache) favours neither.
    const order: Array<"on" | "off"> = round % 2 === 0 ? ["on", "off"] : ["off", "on"];
    for (const mode of order) {
      const url = await db.fresh(`bench_metrics_${run++}`);
      const adminPort = await freePort();
      const server = await startBenchServer("ours", url, { CIO_WEBHOOK_SIGNING_KEYS: KEY, METRICS_ENABLED: mode === "on" ? "true" : "false", ADMIN_PORT: String(adminPort) });
      let scraper: NodeJS.Timeout | undefined;
      let scrapes = 0;
      try {
        const acknowledged: string[] = [];
        await load(server.port, CONNECTIONS, Number(values.warmup), nextRequest, acknowledged, eventIdOf);
        if (mode === "on") {
          scraper = setInterval(() => {
            // A scrape still in flight when the server is stopped fails: not a result.
            void fetch(`http://127.0.0.1:${adminPort}/metrics`)
              .then(async (r) => {
                await r.text();
                if (r.ok) scrapes++;
              })
              .catch(() => undefined);
          }, Number(values["scrape-every"]) * 1000);
        }
        const cpuBefore = cpuSeconds(server.child.pid!);
        const result = await load(server.port, CONNECTIONS, SECONDS, nextRequest, acknowledged, eventIdOf);
        const cpuUs = ((cpuSeconds(server.child.pid!) - cpuBefore) * 1e6) / result.requests.total;
        const errors = result.errors + result.timeouts + result.non2xx;
        results[mode].push({ rps: result.requests.average, cpuUs });
        console.log(`  round ${round + 1} metrics ${mode.padEnd(3)} ${result.requests.average.toFixed(0).padStart(6)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  server CPU ${cpuUs.toFixed(0)} µs/request  errors ${errors}${mode === "on" ? `  scrapes ${scrapes}` : ""}`);
      } finally {
        if (scraper) clearInterval(scraper);
        await server.stop();
      }
    }
  }
  const rps = (m: "on" | "off") => results[m].map((r) => r.rps);
  const cpu = (m: "on" | "off") => results[m].map((r) => r.cpuUs);
  const ratios = results.on.map((on, i) => on.rps / results.off[i]!.rps);
  console.log(`\n| round | off req/s | on req/s | on ÷ off | off server CPU µs/req | on server CPU µs/req | on ÷ off |`);
  console.log(`|---|---|---|---|---|---|---|`);
  results.on.forEach((on, i) => {
    const off = results.off[i]!;
    console.log(`| ${i + 1} | ${off.rps.toFixed(0)} | ${on.rps.toFixed(0)} | ${(on.rps / off.rps).toFixed(3)} | ${off.cpuUs.toFixed(0)} | ${on.cpuUs.toFixed(0)} | ${(on.cpuUs / off.cpuUs).toFixed(3)} |`);
  });
  console.log(`| median | ${median(rps("off")).toFixed(0)} | ${median(rps("on")).toFixed(0)} | ${median(ratios).toFixed(3)} | ${median(cpu("off")).toFixed(0)} | ${median(cpu("on")).toFixed(0)} | ${(median(cpu("on")) / median(cpu("off"))).toFixed(3)} |`);
  console.log(`throughput overhead (median of the rounds' ratios): ${((1 - median(ratios)) * 100).toFixed(1)}%; server CPU per request: ${((median(cpu("on")) / median(cpu("off")) - 1) * 100).toFixed(1)}% more (target < 3%)`);
  return median(cpu("off"));
}

/**
 * (c) What a stored webhook records (its answer, its lag, its event, a batch of its own: more than it
 * pays at 50 connections, where a batch holds ~25), timed in this process with recording on and off,
 * and set against the server's CPU time per request with metrics off measured in (a). Unlike (a)'s
 * throughput, it does not move with what else the machine runs.
 */
function instrumentationCost(cpuPerRequestUs: number | undefined): void {
  const event = { source: "webhook", objectType: "email", metric: "opened" };
  const record = () => {
    const now = Date.now();
    metrics.webhookAnswered("stored");
    metrics.webhookEventLag(now - 5000, now);
    metrics.eventStored(event);
    metrics.batchStarted(1)();
  };
  const nsPerWebhook = (on: boolean) => {
    setMetricsEnabled(on);
    for (let i = 0; i < 50_000; i++) record();
    const n = 500_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) record();
    return Number(process.hrtime.bigint() - started) / n;
  };
  const rounds = [0, 1, 2].map(() => ({ on: nsPerWebhook(true), off: nsPerWebhook(false) }));
  const on = median(rounds.map((r) => r.on));
  const off = median(rounds.map((r) => r.off));
  console.log(`\n(c) recording one stored webhook, in process: ${(on / 1000).toFixed(2)} µs with metrics on, ${(off / 1000).toFixed(2)} µs off (median of 3 × 500,000)`);
  if (cpuPerRequestUs !== undefined) {
    console.log(`    ${(((on - off) / 1000 / cpuPerRequestUs) * 100).toFixed(2)}% of the server's CPU per webhook with metrics off (${cpuPerRequestUs.toFixed(0)} µs, from (a))`);
  }
}

/** (b) Scrape time over an empty outbox (the baseline) and over ROWS rows, typical and backlogged. */
async function scrapeTime(): Promise<void> {
  console.log(`\n(b) GET /metrics on the admin listener, ${values.scrapes} scrapes in a row per case`);
  const url = await db.fresh("bench_metrics_scrape");
  const adminPort = await freePort();
  const server = await startBenchServer("ours", url, { CIO_WEBHOOK_SIGNING_KEYS: KEY, ADMIN_PORT: String(adminPort) });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows: Array<{ label: string; p50: number; p99: number; max: number; db: number; cpuMs: number }> = [];
  try {
    const measure = async (label: string) => {
      for (let i = 0; i < 10; i++) await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(); // warm: prepared statement, connection
      const times: number[] = [];
      const dbTimes: number[] = [];
      const cpuBefore = cpuSeconds(server.child.pid!);
      for (let i = 0; i < Number(values.scrapes); i++) {
        const started = performance.now();
        const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
        const text = await res.text();
        times.push(performance.now() - started);
        if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
        const read = /^ciocompanion_metrics_database_read_seconds (\S+)$/m.exec(text);
        if (!read) throw new Error("the scrape has no database read time: the database gauges failed");
        dbTimes.push(Number(read[1]) * 1000);
      }
      const cpuMs = ((cpuSeconds(server.child.pid!) - cpuBefore) * 1000) / Number(values.scrapes);
      times.sort((a, b) => a - b);
      dbTimes.sort((a, b) => a - b);
      const row = { label, p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1]!, db: percentile(dbTimes, 50), cpuMs };
      rows.push(row);
      console.log(`  ${label.padEnd(48)} p50 ${ms(row.p50)} ms  p99 ${ms(row.p99)} ms  max ${ms(row.max)} ms  (database read p50 ${ms(row.db)} ms; server CPU ${ms(cpuMs)} ms per scrape)`);
    };
    await measure("empty outbox (baseline)");

    console.log(`  seeding ${ROWS} outbox rows ...`);
    const seeded = performance.now();
    await client.query(
      `INSERT INTO outbox (event_id, kind, delivery_id, payload, status, created_at, updated_at, delivered_at, last_status)
       SELECT 'bench-' || g, (ARRAY['metric', 'push_event', 'unsubscribe', 'identify', 'cdp_call'])[1 + g % 5], 'd' || g,
              jsonb_build_object('delivery_id', 'd' || g, 'metric', 'opened', 'timestamp', 1700000000 + g),
              CASE WHEN g % 100 < 97 THEN 'delivered' WHEN g % 100 = 97 THEN 'superseded' WHEN g % 100 = 98 THEN 'dead' ELSE 'pending' END,
              now() - make_interval(secs => ($1 - g) / 10.0), now() - make_interval(secs => ($1 - g) / 10.0), now(), 200
       FROM generate_series(1, $1) AS g`,
      [ROWS],
    );
    await client.query("VACUUM ANALYZE outbox");
    console.log(`  seeded in ${((performance.now() - seeded) / 1000).toFixed(0)} s`);
    await measure(`${ROWS} rows, 97% delivered, 1% pending (vacuumed)`);

    await client.query("UPDATE outbox SET status = 'pending', delivered_at = NULL");
    await client.query("ANALYZE outbox");
    await measure(`${ROWS} rows all pending, not vacuumed since`);
  } finally {
    await client.end();
    await server.stop();
  }
  const base = rows[0]!;
  console.log(`\n| outbox | scrape p50 ms | p99 ms | max ms | database read p50 ms | server CPU ms per scrape | p50 ÷ empty |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.label} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.db)} | ${ms(r.cpuMs)} | ${(r.p50 / base.p50).toFixed(2)} |`);
}
