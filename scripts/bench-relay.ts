// `npm run bench:relay [-- --seconds 10 --connections 1,10,50 --variants baseline,naive,ours]`
// The relay under load, like a campaign's push landing on many devices: for each push delivery we know
// from its webhooks (100,000 seeded), the app reports `delivered` through /api/v1/metrics and `opened`
// through /push/events. Posted to scripts/bench-server.ts's three variants back to back, against a fresh
// embedded PostgreSQL (durable settings), with autocannon on loopback at each concurrency. baseline is
// the same bare server as bench:ingest's (the relay routes, parsing and validation, 200 without a
// database); naive is the relay as it was before group commit (a lookup and a transaction per call);
// ours is the service. Every 200 must have exactly one outbox row.
import os from "node:os";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { queryOnce, runMatrix, type BenchRequest } from "./lib/bench-http.js";

const TOOL: Tool = {
  name: "npm run bench:relay --",
  usage: `Usage: npm run bench:relay [-- options]

Loads the relay (/api/v1/metrics and /push/events) of three servers (baseline without a database,
naive, ours) with autocannon on loopback against a fresh embedded PostgreSQL, and checks that every
200 has exactly one outbox row.

Options:
  --seconds N            load per run (default 10)       --warmup N        seconds before measuring (2)
  --connections A,B,...  concurrencies (1,10,50)         --variants LIST   baseline,naive,ours
  -h, --help             this help
`,
};

const { values } = parseCommandLine(TOOL, {
  seconds: { type: "string", default: "10" },
  warmup: { type: "string", default: "2" },
  connections: { type: "string", default: "1,10,50" },
  variants: { type: "string", default: "baseline,naive,ours" },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = values.connections.split(",").map(Number);
const VARIANTS = values.variants.split(",");
let seq = 0;

/** More deliveries than a run reaches at 50 connections, so no call repeats an earlier one. */
const SEEDED = 100_000;
/** The deliveries were sent an hour ago: this month's partition exists. */
const START = Math.floor(Date.now() / 1000) - 3600;

/** Push deliveries as their webhooks left them: sent, channel known. */
const seed = async (url: string): Promise<void> => {
  await queryOnce(
    url,
    `INSERT INTO deliveries (delivery_id, channel, campaign_id, action_id, recipient, sent_at, event_count, first_event_at, last_event_at)
     SELECT 'push-' || i, 'push', 12, 42, 'device-' || i, to_timestamp($2), 1, to_timestamp($2), to_timestamp($2)
     FROM generate_series(0, $1 - 1) AS i`,
    [SEEDED, START],
  );
};

function nextRequest(): BenchRequest {
  const n = seq++;
  const deliveryId = `push-${Math.floor(n / 2) % SEEDED}`;
  const body = n % 2 === 0
    ? { delivery_id: deliveryId, metric: "delivered", timestamp: START + 1 + Math.floor(n / (2 * SEEDED)) }
    : { delivery_id: deliveryId, event: "opened", device_id: `device-${Math.floor(n / 2)}`, timestamp: START + 2 + Math.floor(n / (2 * SEEDED)) };
  return { path: n % 2 === 0 ? "/api/v1/metrics" : "/push/events", body: JSON.stringify(body), headers: { "content-type": "application/json" }, key: `${deliveryId}/${n % 2 === 0 ? "metric" : "push_event"}` };
}

const db = await startBenchDatabase("relay");
console.log(`bench:relay  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}, ${SECONDS} s per run after ${values.warmup} s warm-up`);
try {
  await runMatrix({
    db,
    name: "relay",
    variants: VARIANTS,
    connections: CONNECTIONS,
    seconds: SECONDS,
    warmupSeconds: Number(values.warmup),
    env: { CIO_WEBHOOK_SIGNING_KEYS: "bench-signing-key" },
    prepare: seed,
    next: nextRequest,
    // Every acknowledged call must have its event and exactly one outbox row.
    verify: async (url, acknowledged) => {
      const { queued, events, extra } = await queryOnce<{ queued: number; events: number; extra: number }>(
        url,
        `SELECT (SELECT count(*) FROM outbox WHERE delivery_id || '/' || kind = ANY($1))::int AS queued,
                (SELECT count(*) FROM delivery_events e JOIN outbox o USING (event_id) WHERE o.delivery_id || '/' || o.kind = ANY($1))::int AS events,
                (SELECT count(*) - count(DISTINCT (delivery_id, kind)) FROM outbox)::int AS extra`,
        [acknowledged],
      );
      const ok = acknowledged.length;
      return queued === ok && events === ok && extra === 0 ? `${ok}/${ok} ✓` : `MISMATCH: ${queued} queued, ${events} stored of ${ok} acknowledged; ${extra} queued twice`;
    },
  });
} finally {
  await db.stop();
}
