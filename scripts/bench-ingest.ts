// `npm run bench:ingest [-- --seconds 10 --connections 1,10,50 --variants baseline,naive,ours]`
// Runs three webhook receivers (scripts/bench-server.ts) back to back against a fresh embedded PostgreSQL
// (durable settings) and loads each with autocannon on loopback, at each concurrency: realistic signed Customer.io events of
// ~600 bytes (sent, delivered, opened, clicked for each delivery) and 5% `sent` events with ~20 KB of
// body content. Prints requests/s, p50/p99 latency, errors, the ratios against the baseline and naive,
// the rows verified in the database (every 2xx must be there), and each server's peak RSS.
import os from "node:os";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { queryOnce, runMatrix } from "./lib/bench-http.js";
import { webhookLoad } from "./lib/webhook-load.js";

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

const { nextRequest, eventIdOf } = webhookLoad(KEY);

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
