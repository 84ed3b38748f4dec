// `npm run bench:ingest [-- --seconds 10 --connections 1,10,50 --variants bare,baseline,naive,ours]`
// Runs the webhook receivers of scripts/bench-server.ts back to back against a fresh embedded PostgreSQL
// (durable settings) and loads each with autocannon on loopback, at each concurrency: realistic signed
// Customer.io events of ~600 bytes (sent, delivered, opened, clicked for each delivery) and 5% `sent`
// events with ~20 KB of body content. Prints requests/s, p50/p99 latency, errors, the ratios against the
// bare server, the Koa baseline and naive, the rows verified in the database (every 2xx must be there,
// and applied to its delivery once the projector has caught up), each server's peak RSS, and for ours
// the projection lag SQL users see during the load (the age of the oldest event not yet applied,
// sampled every 100 ms). Then a lone sender, timed to the microsecond: one request at a time on one
// connection to the bare server and to ours, and a plain single-row insert-and-commit straight to
// PostgreSQL, all in the same run.
import os from "node:os";
import pg from "pg";
import { Client } from "undici";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { normalizeEvent, type JsonObject } from "../src/events/event.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { percentile, queryOnce, runMatrix, startBenchServer, type BenchRequest } from "./lib/bench-http.js";
import { webhookLoad } from "./lib/webhook-load.js";

const TOOL: Tool = {
  name: "npm run bench:ingest --",
  usage: `Usage: npm run bench:ingest [-- options]

Loads webhook receivers (a bare node:http server and the Koa baseline without a database, naive, ours) with autocannon on loopback
against a fresh embedded PostgreSQL, and prints requests/s, latency, ratios and verified rows.

Options:
  --seconds N            load per run (default 10)       --warmup N        seconds before measuring (2)
  --connections A,B,...  concurrencies (1,10,50)         --variants LIST   bare,baseline,naive,ours
  --sequential N         requests of the lone sender (3000; 0 skips it)
  --pool-size N          database pool of ours (10)      --max-in-flight N, --max-batch N   group commit
  -h, --help             this help
`,
};

const { values } = parseCommandLine(TOOL, {
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "1,10,50" },
    variants: { type: "string", default: "bare,baseline,naive,ours" },
    sequential: { type: "string", default: "3000" },
    "pool-size": { type: "string", default: "10" },
    "max-in-flight": { type: "string", default: "" },
    "max-batch": { type: "string", default: "" },
});
const KEY = "bench-signing-key";
const SECONDS = Number(values.seconds);
const CONNECTIONS = values.connections.split(",").map(Number);
const VARIANTS = values.variants.split(",");
const SEQUENTIAL = Number(values.sequential);

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
    during: (url, variant) => (variant === "ours" ? sampleLag(url) : undefined),
    // Every acknowledged event must be stored, and every stored event applied to its delivery once.
    verify: async (url, acknowledged) => {
      const caughtUp = await untilApplied(url);
      const { found, stored, applied } = await queryOnce<{ found: number; stored: number; applied: number }>(
        url,
        `SELECT (SELECT count(*) FROM delivery_events WHERE event_id = ANY($1))::int AS found,
                (SELECT count(*) FROM delivery_events)::int AS stored,
                (SELECT coalesce(sum(event_count), 0) FROM deliveries)::int AS applied`,
        [acknowledged],
      );
      const ok = acknowledged.length;
      return found === ok && applied === stored ? `${ok}/${ok} ✓${caughtUp}` : `MISSING: ${found} of ${ok} acknowledged stored; ${applied} applied of ${stored}`;
    },
  });
  if (SEQUENTIAL > 0) await loneSender();
} finally {
  await db.stop();
}

/** Waits until the projector has applied every queued event (ours); says how long that took, if at all. */
async function untilApplied(url: string): Promise<string> {
  const started = Date.now();
  const queued = async () => (await queryOnce<{ n: number }>(url, "SELECT count(*)::int AS n FROM projection_queue", [])).n;
  // Every variant's database is migrated, so the queue is there (empty but for ours).
  for (;;) {
    if ((await queued()) === 0) break;
    if (Date.now() - started > 120_000) return ` (${await queued()} still queued after 2 min)`;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = Date.now() - started;
  return ms > 50 ? ` (applied ${ms} ms after the load)` : "";
}

/**
 * The projection lag SQL users see: every 100 ms, the age of the oldest event stored but not yet applied
 * to its delivery (0 when none is waiting).
 */
function sampleLag(url: string): { stop(): Promise<string> } {
  const client = new pg.Client({ connectionString: url });
  const samples: number[] = [];
  let stopped = false;
  const running = (async () => {
    await client.connect();
    while (!stopped) {
      const { rows } = await client.query<{ lag: number }>("SELECT coalesce(extract(epoch FROM clock_timestamp()) * 1000 - min(received_ms), 0)::float8 AS lag FROM projection_queue");
      samples.push(Math.max(0, rows[0]!.lag));
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.end();
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      const sorted = [...samples].sort((a, b) => a - b);
      return sorted.length ? `lag p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms (${sorted.length} samples)` : "";
    },
  };
}

interface Timing {
  what: string;
  p50: number;
  p99: number;
  perSecond: number;
}

function timing(what: string, micros: number[], totalMs: number): Timing {
  const sorted = [...micros].sort((a, b) => a - b);
  return { what, p50: percentile(sorted, 50), p99: percentile(sorted, 99), perSecond: (micros.length / totalMs) * 1000 };
}

/** One request at a time on one keep-alive connection, each timed with the monotonic clock. */
async function sequentialRequests(port: number, n: number): Promise<{ micros: number[]; totalMs: number; acknowledged: string[] }> {
  const client = new Client(`http://127.0.0.1:${port}`);
  const micros: number[] = [];
  const acknowledged: string[] = [];
  const send = async (r: BenchRequest) => {
    const res = await client.request({ method: "POST", path: r.path, headers: r.headers, body: r.body });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const id = eventIdOf(text);
    if (id) acknowledged.push(id);
  };
  try {
    for (let i = 0; i < Math.min(500, n); i++) await send(nextRequest()); // warm-up
    acknowledged.length = 0;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const r = nextRequest();
      const t = performance.now();
      await send(r);
      micros.push((performance.now() - t) * 1000);
    }
    return { micros, totalMs: performance.now() - started, acknowledged };
  } finally {
    await client.close();
  }
}

/** The same events' single-row INSERT … ON CONFLICT DO NOTHING, each its own commit, one at a time. */
async function plainInserts(url: string, n: number): Promise<{ micros: number[]; totalMs: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const micros: number[] = [];
  const insert = (body: string) => {
    const e = normalizeEvent(JSON.parse(body) as JsonObject, body, "webhook", Date.now());
    return client.query({
      name: "plain-insert",
      text: `INSERT INTO delivery_events (event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, source, person_key, payload)
             VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), to_timestamp($6 / 1000.0), $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT DO NOTHING`,
      values: [e.eventId, e.deliveryId ?? "", e.objectType, e.metric, e.occurredAt, e.receivedAt, e.customerId, e.identifiers, e.href, e.linkId, e.failureMessage, e.source, e.personKey, e.payload],
    });
  };
  try {
    for (let i = 0; i < Math.min(500, n); i++) await insert(nextRequest().body);
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const body = nextRequest().body; // built before the clock starts, like a request's body arriving
      const t = performance.now();
      await insert(body);
      micros.push((performance.now() - t) * 1000);
    }
    return { micros, totalMs: performance.now() - started };
  } finally {
    await client.end();
  }
}

/** A lone sender (Customer.io's stream is largely in order): latency to the microsecond, same run. */
async function loneSender(): Promise<void> {
  const url = await db.fresh("bench_ingest_lone");
  const rows: Timing[] = [];
  const plain = await plainInserts(url, SEQUENTIAL);
  rows.push(timing("plain insert-and-commit, straight to PostgreSQL", plain.micros, plain.totalMs));
  let acknowledged: string[] = [];
  for (const variant of ["bare", "ours"]) {
    const server = await startBenchServer(variant, url, { CIO_WEBHOOK_SIGNING_KEYS: KEY, DB_POOL_SIZE: values["pool-size"] });
    try {
      const run = await sequentialRequests(server.port, SEQUENTIAL);
      rows.push(timing(variant === "bare" ? "bare node:http server (no database)" : "ours (webhook answered after the commit)", run.micros, run.totalMs));
      if (variant === "ours") acknowledged = run.acknowledged;
    } finally {
      await server.stop();
    }
  }
  const { found } = await queryOnce<{ found: number }>(url, "SELECT count(*)::int AS found FROM delivery_events WHERE event_id = ANY($1)", [acknowledged]);
  const [p, bare, ours] = rows as [Timing, Timing, Timing];
  console.log(`\nA lone sender: ${SEQUENTIAL} requests one at a time on one connection (after 500 to warm up), timed one by one.\n`);
  console.log("| what | p50 ms | p99 ms | per second |");
  console.log("|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.what} | ${(r.p50 / 1000).toFixed(3)} | ${(r.p99 / 1000).toFixed(3)} | ${r.perSecond.toFixed(0)} |`);
  const ms = (micros: number) => (micros / 1000).toFixed(3);
  console.log(`\nours ÷ bare: ${(ours.perSecond / bare.perSecond).toFixed(2)} of the requests per second`);
  console.log(`ours p50 − plain insert p50: ${ms(ours.p50 - p.p50)} ms (HTTP, signature and parsing included)`);
  console.log(`ours p50 − bare p50 (what storing adds to a receiver that stores nothing): ${ms(ours.p50 - bare.p50)} ms, against ${ms(p.p50)} ms for the plain insert alone`);
  console.log(`acknowledged events stored: ${found}/${acknowledged.length}${found === acknowledged.length ? " ✓" : " MISSING"}`);
}
