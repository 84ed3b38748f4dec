// `npm run bench:ingest [-- --seconds 10 --connections 1,10,50 --variants baseline,naive,ours]`
// Runs three webhook receivers (scripts/bench-server.ts) back to back against a fresh embedded PostgreSQL
// (durable settings) and loads each with autocannon on loopback, at each concurrency: realistic signed Customer.io events of
// ~600 bytes (sent, delivered, opened, clicked for each delivery) and 5% `sent` events with ~20 KB of
// body content. Prints requests/s, p50/p99 latency, errors, the ratios against the baseline and naive,
// the rows verified in the database (every 2xx must be there), and each server's peak RSS.
import os from "node:os";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { sign } from "../src/webhooks/signature.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { queryOnce, runMatrix, type BenchRequest } from "./lib/bench-http.js";

const TOOL: Tool = {
  name: "npm run bench:ingest --",
  usage: `Usage: npm run bench:ingest [-- options]

Loads three webhook receivers (baseline without a database, naive, ours) with autocannon on loopback
against a fresh embedded PostgreSQL, and prints requests/s, latency, ratios and verified rows.

Options:
  --seconds N            load per run (default 10)       --warmup N        seconds before measuring (2)
  --connections A,B,...  concurrencies (1,10,50)         --variants LIST   baseline,naive,ours
  --pool-size N          database pool of ours (10)      --max-in-flight N, --max-batch N   group commit
  -h, --help             this help
`,
};

const { values } = parseCommandLine(TOOL, {
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "1,10,50" },
    variants: { type: "string", default: "baseline,naive,ours" },
    "pool-size": { type: "string", default: "10" },
    "max-in-flight": { type: "string", default: "" },
    "max-batch": { type: "string", default: "" },
});
const KEY = "bench-signing-key";
const SECONDS = Number(values.seconds);
const CONNECTIONS = values.connections.split(",").map(Number);
const VARIANTS = values.variants.split(",");

const CONTENT = `<html><body>${"<p>Hello {{customer.first_name}}, here is this week's news.</p>".repeat(330)}</body></html>`; // ~20 KB
const METRICS = ["sent", "delivered", "opened", "clicked"];
let seq = 0;
const runId = Date.now().toString(36);

const WAVE = 2000;
/**
 * The next event. Like a campaign: a wave of 2,000 `sent`, then their `delivered`, `opened`, `clicked`,
 * then the next 2,000 deliveries; 5% of `sent` carry ~20 KB of body content.
 */
function nextBody(): string {
  const n = seq++;
  const wave = Math.floor(n / WAVE);
  const metric = METRICS[wave % 4]!;
  const deliveryIndex = Math.floor(wave / 4) * WAVE + (n % WAVE);
  const delivery = `${runId}-${deliveryIndex}`;
  const data: Record<string, unknown> = {
    action_id: 42,
    campaign_id: 12 + (n % 7),
    customer_id: String(1000 + (n % 5000)),
    delivery_id: delivery,
    identifiers: { id: String(1000 + (n % 5000)), email: `person${n % 5000}@example.com`, cio_id: `cio${n % 5000}` },
    journey_id: "01HZX4Y7Q8W9E0R1T2Y3U4I5O6",
    recipient: `person${n % 5000}@example.com`,
  };
  if (metric === "sent") {
    data["subject"] = "Your weekly digest";
    if (deliveryIndex % 20 === 0) data["content"] = CONTENT;
  }
  if (metric === "opened") Object.assign(data, { proxied: false, prefetched: n % 10 === 2, synthetic: false });
  if (metric === "clicked") Object.assign(data, { href: "https://example.com/articles/42?utm_source=cio", link_id: 3, machine: false });
  return JSON.stringify({ event_id: `01${runId.toUpperCase()}${String(n).padStart(10, "0")}`, object_type: "email", metric, timestamp: 1_700_000_000 + n, data });
}

function nextRequest(): BenchRequest {
  const body = nextBody();
  const ts = String(Math.floor(Date.now() / 1000));
  return { path: "/webhooks/customerio", body, headers: { "content-type": "application/json", "x-cio-timestamp": ts, "x-cio-signature": sign(KEY, ts, body) }, key: "" };
}
/** Our answer names the stored event: `{"ok":true,"event_id":"…"}`. */
const eventIdOf = (body: string) => /"event_id":"([^"]+)"/.exec(body)?.[1];

const db = await startBenchDatabase("ingest");
console.log(`bench:ingest  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}, ${SECONDS} s per run after ${values.warmup} s warm-up, DB_POOL_SIZE=${values["pool-size"]}`);
try {
  await runMatrix({
    db,
    name: "ingest",
    variants: VARIANTS,
    connections: CONNECTIONS,
    seconds: SECONDS,
    warmupSeconds: Number(values.warmup),
    env: {
      CIO_WEBHOOK_SIGNING_KEYS: KEY,
      DB_POOL_SIZE: values["pool-size"],
      ...(values["max-in-flight"] ? { INGEST_MAX_IN_FLIGHT: values["max-in-flight"] } : {}),
      ...(values["max-batch"] ? { INGEST_MAX_BATCH: values["max-batch"] } : {}),
    },
    next: nextRequest,
    keyOf: eventIdOf,
    // Every acknowledged event must be stored, and every stored event applied to its delivery once.
    verify: async (url, acknowledged) => {
      const { found, stored, applied } = await queryOnce<{ found: number; stored: number; applied: number }>(
        url,
        `SELECT (SELECT count(*) FROM delivery_events WHERE event_id = ANY($1))::int AS found,
                (SELECT count(*) FROM delivery_events)::int AS stored,
                (SELECT coalesce(sum(event_count), 0) FROM deliveries)::int AS applied`,
        [acknowledged],
      );
      const ok = acknowledged.length;
      return found === ok && applied === stored ? `${ok}/${ok} ✓` : `MISSING: ${found} of ${ok} acknowledged stored; ${applied} applied of ${stored}`;
    },
  });
} finally {
  await db.stop();
}
