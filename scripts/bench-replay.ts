// `npm run bench:replay [-- --deliveries 50000 --senders 6]`: what a replay costs the webhooks that keep
// arriving meanwhile. Seeds a fresh embedded PostgreSQL (durable settings) with 4 events per delivery
// (200,000 events by default), starts the service in its own process, and loads it with signed
// webhooks from --senders concurrent senders: first for as long as the replay will take, without a
// replay (the baseline), then during `replayProjections` over the whole history. Prints the webhooks'
// latency in both phases, their ratio, and the replay's rate. Every webhook must answer 200.
import os from "node:os";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import pg from "pg";
import { replayProjections } from "../src/events/replay.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { startBenchServer } from "./lib/bench-http.js";
import { deliveryId, messageEvent, signedHeaders } from "./lib/sample-events.js";
import { seedWebhookEvents } from "./lib/seed-events.js";

const TOOL: Tool = {
  name: "npm run bench:replay --",
  usage: `Usage: npm run bench:replay [-- --deliveries 50000 --senders 6]

What a replay costs the webhooks that keep arriving meanwhile: webhook latency from --senders
concurrent senders without a replay, then during one over --deliveries deliveries (4 events each).

Options:
  --deliveries N   deliveries seeded (default 50000)
  --senders N      concurrent webhook senders (6)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, { deliveries: { type: "string", default: "50000" }, senders: { type: "string", default: "6" } });
const KEY = "bench-signing-key";

const db = await startBenchDatabase("replay");
try {
  const url = await db.fresh("bench_replay");
  const seedPool = new pg.Pool({ connectionString: url, max: 1 });
  const seedStarted = Date.now();
  const events = await seedWebhookEvents(seedPool, { deliveries: Number(values.deliveries), prefix: "history", days: 90 });
  await seedPool.end();
  console.log(`bench:replay  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}; ${events} events seeded in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s`);
  const server = await startBenchServer("ours", url, { CIO_WEBHOOK_SIGNING_KEYS: KEY });
  try {
    const load = async (until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      const times: number[] = [];
      let failed = 0;
      await Promise.all(Array.from({ length: Number(values.senders) }, async () => {
        while (!done) {
          const body = JSON.stringify(messageEvent({ objectType: "email", metric: "delivered", deliveryId: deliveryId() }));
          const started = performance.now();
          const res = await fetch(`http://127.0.0.1:${server.port}/webhooks/customerio`, { method: "POST", headers: signedHeaders(KEY, body), body }).catch(() => null);
          await res?.arrayBuffer();
          if (res?.status === 200) times.push(performance.now() - started);
          else failed++;
        }
      }));
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!;
      return { count: times.length, failed, p50: at(0.5), p99: at(0.99), max: times[times.length - 1]! };
    };
    // The replay first, alone, to learn how long the baseline phase should last; then both phases.
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const warm = Date.now();
    await replayProjections(pool);
    const replayMs = Date.now() - warm;
    const baseline = await load(new Promise((r) => setTimeout(r, replayMs)));
    const started = Date.now();
    const replay = replayProjections(pool);
    const during = await load(replay);
    const report = await replay;
    const tookS = (Date.now() - started) / 1000;
    await pool.end();
    const row = (name: string, r: typeof baseline) => `| ${name} | ${r.count} | ${r.failed} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`;
    console.log(`\nreplay of ${report.events} events (${report.deliveries.after} deliveries) in ${tookS.toFixed(1)} s under load (${(report.events / tookS).toFixed(0)} events/s); ${report.deliveries.changed} rows needed repair`);
    console.log("\n| webhooks | answered 200 | other | p50 ms | p99 ms | slowest ms |");
    console.log("|---|---|---|---|---|---|");
    console.log(row("without a replay", baseline));
    console.log(row("during the replay", during));
    console.log(`\np99 during ÷ without: ${(during.p99 / baseline.p99).toFixed(2)}; slowest during: ${during.max.toFixed(0)} ms (WEBHOOK_TIMEOUT_MS is 3000)`);
  } finally {
    await server.stop();
  }
} finally {
  await db.stop();
}
