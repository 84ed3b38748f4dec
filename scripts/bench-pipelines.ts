// `npm run bench:pipelines [-- --metrics 100000 --rate 100 --latency 20 --seconds 30]`
// Queues N push metrics in the outbox of a fresh embedded PostgreSQL, then drains them with
// REPORTER_TRANSPORT=pipelines against the fake Data Pipelines API (answering after --latency ms): one
// "Report Delivery Event" per /v1/batch request (the baseline), then --batch-size per request. The
// same N relayed Data Pipelines calls (cdp_call rows of one write key) are drained the same way. Prints
// the request rate against the limit (must stay at or just under 1.0), calls delivered per second, and
// the batched ÷ one-per-request ratio of each, measured in the same run.
import pg from "pg";
import type { ReporterConfig } from "../src/core/config.js";
import { createLogger } from "../src/core/logger.js";
import { enqueue, type NewOutboxItem } from "../src/reporter/outbox.repository.js";
import { OutboxSender } from "../src/reporter/outbox-sender.js";
import { PipelinesClient } from "../src/reporter/pipelines-client.js";
import { PipelinesKeys } from "../src/reporter/pipelines-keys.repository.js";
import { TrackClient } from "../src/reporter/track-client.js";
import { FakePipelines } from "./lib/fake-pipelines.js";
import { mb, rssSampler, startBenchDatabase } from "./lib/bench-db.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";

const TOOL: Tool = {
  name: "npm run bench:pipelines --",
  usage: `Usage: npm run bench:pipelines [-- options]

Queues N push metrics (sent as "Report Delivery Event" tracks, REPORTER_TRANSPORT=pipelines) and N
relayed Data Pipelines calls in a fresh embedded PostgreSQL, and drains each against the fake Data
Pipelines API with one call per /v1/batch request, then --batch-size calls per request; prints the
request rate against the limit and calls delivered per second.

Options:
  --metrics N      calls queued per run (default 100000)  --rate N          requests/s limit (100)
  --latency MS     the fake's answer time (20)             --seconds N       longest run (30)
  --batch-size N   calls per /v1/batch (100)               --concurrency N   requests in flight (10)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, {
  metrics: { type: "string", default: "100000" },
  rate: { type: "string", default: "100" },
  latency: { type: "string", default: "20" },
  seconds: { type: "string", default: "30" },
  "batch-size": { type: "string", default: "100" },
  concurrency: { type: "string", default: "10" },
});
const N = Number(values.metrics);
const RATE = Number(values.rate);
const BUDGET_MS = Number(values.seconds) * 1000;
const WRITE_KEY = "bench-write-key";
const log = createLogger("silent");

const db = await startBenchDatabase("pipelines");
const fake = await FakePipelines.start({ writeKeys: [WRITE_KEY], latencyMs: Number(values.latency) });
const memory = rssSampler();
console.log(`bench:pipelines  ${N} calls per run, rate limit ${RATE}/s, fake latency ${values.latency} ms, budget ${values.seconds} s per run, node ${process.version}`);
console.log("calls                batch  requests  req/s   req/s ÷ limit  calls delivered  calls/s  elapsed");

function items(kind: "own" | "relayed", source: string): NewOutboxItem[] {
  return Array.from({ length: N }, (_, k) => {
    const id = `bench-${kind}-${k}`;
    if (kind === "own") return { eventId: id, kind: "push_event" as const, deliveryId: id, payload: { delivery_id: id, event: "opened", device_id: `tok-${k}`, timestamp: 1_700_000_000 } };
    const call = { type: "track", event: "Report Delivery Event", anonymousId: `device-${k}`, properties: { deliveryId: id, metric: "opened", recipient: `tok-${k}` }, messageId: id, timestamp: "2026-11-14T09:30:00.000Z" };
    return { eventId: `cdp:${id}`, kind: "cdp_call" as const, deliveryId: null, payload: { source, call } };
  });
}

const results = new Map<string, number>();
try {
  for (const kind of ["own", "relayed"] as const) {
    for (const batchSize of [1, Number(values["batch-size"])]) {
      const url = await db.fresh(`bench_${kind}_${batchSize}`);
      const pool = new pg.Pool({ connectionString: url, max: 12 });
      const keys = new PipelinesKeys(pool);
      const source = await keys.remember(WRITE_KEY);
      const all = items(kind, source);
      for (let i = 0; i < all.length; i += 5000) await enqueue(pool, all.slice(i, i + 5000));
      const config: ReporterConfig = {
        enabled: true, schedule: "* * * * * *", rateLimit: RATE, concurrency: Number(values.concurrency), maxAttempts: 5,
        transport: "pipelines", pipelinesRateLimit: RATE, pipelinesBatchSize: batchSize,
        pushMode: "metrics", batchSize: 100, leaseSeconds: 120, backoffBaseMs: 1000, backoffMaxMs: 60_000,
      };
      const track = new TrackClient({ region: "us", baseUrl: "http://127.0.0.1:9", timeoutMs: 10_000, connections: 1, log });
      const client = new PipelinesClient({ baseUrl: () => Promise.resolve(fake.apiUrl), timeoutMs: 10_000, connections: config.concurrency, log });
      const sender = new OutboxSender(pool, track, config, log, { client, keys, ownWriteKey: WRITE_KEY });
      const requestsBefore = fake.accepted.length;
      const started = performance.now();
      const drained = sender.drain();
      const timeout = setTimeout(() => void sender.stop(), BUDGET_MS);
      await drained;
      clearTimeout(timeout);
      await sender.stop();
      const elapsed = (performance.now() - started) / 1000;
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'delivered'");
      const delivered = rows[0]!.n;
      const requests = fake.accepted.length - requestsBefore;
      const times = fake.accepted.slice(requestsBefore).map((r) => r.at);
      const span = (Math.max(...times) - Math.min(...times)) / 1000;
      const reqRate = requests > 1 ? (requests - 1) / span : requests;
      results.set(`${kind}:${batchSize}`, delivered / elapsed);
      const label = kind === "own" ? "own metrics" : "relayed calls";
      console.log(
        `${label.padEnd(20)} ${String(batchSize).padStart(5)}  ${String(requests).padStart(8)}  ${reqRate.toFixed(1).padStart(6)}  ${(reqRate / RATE).toFixed(3).padStart(13)}  ${String(delivered).padStart(15)}  ${(delivered / elapsed).toFixed(0).padStart(7)}  ${elapsed.toFixed(1)} s`,
      );
      await client.close();
      await track.close();
      await pool.end();
    }
  }
  const size = Number(values["batch-size"]);
  for (const kind of ["own", "relayed"] as const) {
    console.log(`${kind === "own" ? "own metrics" : "relayed calls"}: batch of ${size} ÷ one per request, calls/s: ${(results.get(`${kind}:${size}`)! / results.get(`${kind}:1`)!).toFixed(1)}x`);
  }
  console.log(`peak RSS ${mb(memory.peak())}`);
} finally {
  memory.stop();
  await fake.close();
  await db.stop();
}
