// `npm run bench:reporter [-- --metrics 100000 --rate 100 --latency 20 --seconds 30]`
// Queues N push metrics in the outbox of a fresh embedded PostgreSQL, then drains them against the fake
// Customer.io (answering after --latency ms) once per push mode: one request per metric
// (/api/v1/metrics, /push/events) and /api/v2/batch. Prints the achieved request rate against the
// configured limit (must stay at or just under 1.0), metrics delivered per second, and peak memory.
// A mode that cannot finish in --seconds is measured over that window.
import pg from "pg";
import type { ReporterConfig } from "../src/core/config.js";
import { createLogger } from "../src/core/logger.js";
import { enqueue } from "../src/reporter/outbox.repository.js";
import { OutboxSender } from "../src/reporter/outbox-sender.js";
import { TrackClient } from "../src/reporter/track-client.js";
import { FakeCustomerIo } from "./lib/fake-customerio.js";
import { mb, rssSampler, startBenchDatabase } from "./lib/bench-db.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";

const TOOL: Tool = {
  name: "npm run bench:reporter --",
  usage: `Usage: npm run bench:reporter [-- options]

Queues N push metrics in a fresh embedded PostgreSQL and drains them against the fake Customer.io
once per push mode; prints the request rate against the limit and metrics delivered per second.

Options:
  --metrics N      metrics queued (default 100000)     --rate N          requests/s limit (100)
  --latency MS     the fake's answer time (20)          --seconds N       longest run per mode (30)
  --batch-size N   items per /api/v2/batch (100)        --concurrency N   requests in flight (10)
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
const log = createLogger("silent");

const db = await startBenchDatabase("reporter");
const fake = await FakeCustomerIo.start({ siteId: "site", apiKey: "key", latencyMs: Number(values.latency) });
const memory = rssSampler();
console.log(`bench:reporter  ${N} push metrics, rate limit ${RATE}/s, fake latency ${values.latency} ms, budget ${values.seconds} s per mode, node ${process.version}`);
console.log("mode          requests  req/s   req/s ÷ limit  metrics delivered  metrics/s  elapsed");

const results: Array<{ mode: string; metricsPerSecond: number }> = [];
try {
  for (const mode of ["metrics", "push_events", "batch"] as const) {
    const url = await db.fresh(`bench_${mode}`);
    const pool = new pg.Pool({ connectionString: url, max: 12 });
    for (let i = 0; i < N; i += 5000) {
      const items = Array.from({ length: Math.min(5000, N - i) }, (_, k) => {
        const id = `bench-${i + k}`;
        return { eventId: id, kind: "push_event" as const, deliveryId: id, payload: { delivery_id: id, event: "opened", device_id: `tok-${i + k}`, timestamp: 1_700_000_000 } };
      });
      await enqueue(pool, items);
    }
    const config: ReporterConfig = {
      enabled: true, schedule: "* * * * * *", rateLimit: RATE, concurrency: Number(values.concurrency), maxAttempts: 5,
      transport: "track", pipelinesRateLimit: RATE, pipelinesBatchSize: 100,
      pushMode: mode, batchSize: Number(values["batch-size"]), leaseSeconds: 120, backoffBaseMs: 1000, backoffMaxMs: 60_000,
    };
    const client = new TrackClient({ siteId: "site", apiKey: "key", region: "us", baseUrl: fake.url, timeoutMs: 10_000, connections: config.concurrency, log });
    const sender = new OutboxSender(pool, client, config, log);
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
    // Rate over the span of request arrivals (first to last), the window the limit governs.
    const times = fake.accepted.slice(requestsBefore).map((r) => r.at);
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    const reqRate = requests > 1 ? (requests - 1) / span : requests;
    results.push({ mode, metricsPerSecond: delivered / elapsed });
    console.log(
      `${mode.padEnd(13)} ${String(requests).padStart(8)}  ${reqRate.toFixed(1).padStart(6)}  ${(reqRate / RATE).toFixed(3).padStart(13)}  ${String(delivered).padStart(17)}  ${(delivered / elapsed).toFixed(0).padStart(9)}  ${elapsed.toFixed(1)} s`,
    );
    await client.close();
    await pool.end();
  }
  const [perRequest, batch] = [results[0]!, results[2]!];
  console.log(`batch ÷ one-per-request metrics/s: ${(batch.metricsPerSecond / perRequest.metricsPerSecond).toFixed(1)}x   peak RSS ${mb(memory.peak())}`);
} finally {
  memory.stop();
  await fake.close();
  await db.stop();
}
