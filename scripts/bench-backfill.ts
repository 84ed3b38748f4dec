// `npm run bench:backfill [-- --messages 100000 --rate 10 --latency 50 --days 28]`
// Messages per second of a backfill against the fake App API at its rate limit, on a fresh embedded
// PostgreSQL (durable settings). The ceiling is the limit itself: rate × 1,000 messages a request. In
// the same run it measures, each over the same messages:
// - read only: the App API client through the shared limit, pages read and dropped (no database);
// - backfill: the real pass (read, compare with deliveries, write the events), into empty tables, then
//   checks every delivery and event is there;
// - again: the same range a second time (everything present, nothing written).
// Each figure is a ratio to the ceiling; the backfill also to the read-only pass.
import pg from "pg";
import { AppApiClient, createAppApiClient } from "../src/backfill/app-api-client.js";
import { MessageFiller, windowsOf, type FillResult } from "../src/backfill/message-filler.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { loadConfig } from "../src/core/config.js";
import { createLogger } from "../src/core/logger.js";
import { ErasedPeople } from "../src/events/erasures.js";
import { messageMetrics } from "../src/events/backfill-event.js";
import type { JsonObject } from "../src/events/event.js";
import { mb, rssSampler, startBenchDatabase } from "./lib/bench-db.js";
import { FakeAppApi, makeMessages } from "./lib/fake-app-api.js";

const TOOL: Tool = {
  name: "npm run bench:backfill --",
  usage: `Usage: npm run bench:backfill [-- options]

A backfill against the fake App API at its rate limit, on a fresh embedded PostgreSQL: messages per
second read only, backfilled into empty tables, and read again with everything present, each as a
ratio to the ceiling (rate × 1,000 messages a request).

Options:
  --messages N    messages in the fake (default 100000)   --rate N      requests/s limit (10)
  --latency MS    the fake's answer time (50)              --days N      days they span (28)
  --readers N     windows read at once (4)                 --window N    days per window (7)
  -h, --help      this help
`,
};

const { values } = parseCommandLine(TOOL, {
  messages: { type: "string", default: "100000" },
  rate: { type: "string", default: "10" },
  latency: { type: "string", default: "50" },
  days: { type: "string", default: "28" },
  readers: { type: "string", default: "4" },
  window: { type: "string", default: "7" },
});
const N = Number(values.messages);
const RATE = Number(values.rate);
const DAYS = Number(values.days);
const CEILING = RATE * 1000;
const log = createLogger("warn");

const db = await startBenchDatabase("backfill");
const fake = await FakeAppApi.start({ rateLimit: RATE, latencyMs: Number(values.latency) });
const memory = rssSampler();
// Whole days, ending at the start of today (UTC).
const to = Math.floor(Date.now() / 86_400_000) * 86_400_000;
const from = to - DAYS * 86_400_000;
const messages = makeMessages({ from: from / 1000, to: to / 1000 - 1, count: N, prefix: "bench" });
fake.add(messages);
const expectedEvents = messages.reduce((sum, m) => sum + messageMetrics(m as unknown as JsonObject).length, 0);
const windows = windowsOf(from, to, Number(values.window)).length;
console.log(`bench:backfill  ${N} messages over ${DAYS} days (${windows} windows of ${values.window} days, ${values.readers} read at once), ${expectedEvents} metrics, limit ${RATE} requests/s, fake latency ${values.latency} ms, node ${process.version}`);
console.log(`ceiling: ${RATE} requests/s × 1,000 messages = ${CEILING.toLocaleString("en-US")} messages/s`);
console.log("pass                     requests  messages  seconds  messages/s  ÷ ceiling  ÷ read only  metrics added");

try {
  const url = await db.fresh("bench_backfill");
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const config = loadConfig({ DATABASE_URL: url, CIO_WEBHOOK_SIGNING_KEYS: "bench", CIO_APP_API_KEY: fake.apiKey, CIO_APP_API_URL: fake.url, CIO_APP_API_RATE_LIMIT: String(RATE) });
  const api = createAppApiClient(config, pool, log) as AppApiClient;
  const row = (name: string, requests: number, read: number, seconds: number, readOnly: number | null, added: string) => {
    const rate = read / seconds;
    console.log(`${name.padEnd(24)} ${String(requests).padStart(8)}  ${String(read).padStart(8)}  ${seconds.toFixed(2).padStart(7)}  ${rate.toFixed(0).padStart(10)}  ${(rate / CEILING).toFixed(3).padStart(9)}  ${(readOnly ? (rate / readOnly).toFixed(3) : "-").padStart(11)}  ${added.padStart(13)}`);
    return rate;
  };

  // Read only: the same windows, the same readers, no database but the limit's slots.
  const before = fake.pages().length;
  let started = performance.now();
  let read = 0;
  const todo = windowsOf(from, to, Number(values.window));
  await Promise.all(Array.from({ length: Number(values.readers) }, async () => {
    for (let w = todo.shift(); w; w = todo.shift()) {
      let cursor: string | null = null;
      do {
        const page = await api.listMessages({ startTs: w.start / 1000, endTs: w.end / 1000, limit: 1000, start: cursor });
        read += page.messages.length;
        cursor = page.next;
      } while (cursor);
    }
  }));
  const readOnly = row("read only (no database)", fake.pages().length - before, read, (performance.now() - started) / 1000, null, "-");

  const filler = new MessageFiller(pool, api, new ErasedPeople(pool, config.erasureSecret), log);
  const pass = async (name: string) => {
    const requests = fake.pages().length;
    started = performance.now();
    const result: FillResult = await filler.fill({ from, to, windowDays: Number(values.window), readers: Number(values.readers) });
    row(name, fake.pages().length - requests, result.counts.messagesRead, (performance.now() - started) / 1000, readOnly, String(result.counts.metricsAdded));
    return result;
  };
  const first = await pass("backfill (empty tables)");
  const { rows } = await pool.query<{ deliveries: number; events: number }>("SELECT (SELECT count(*)::int FROM deliveries) AS deliveries, (SELECT count(*)::int FROM delivery_events WHERE source = 'backfill') AS events");
  const ok = rows[0]!.deliveries === N && rows[0]!.events === expectedEvents;
  console.log(`  check: ${rows[0]!.deliveries}/${N} deliveries, ${rows[0]!.events}/${expectedEvents} events ${ok ? "✓" : "✗ MISMATCH"}`);
  const second = await pass("again (all present)");
  console.log(`  second pass added ${second.counts.metricsAdded} metrics, ${second.counts.deliveriesCreated} deliveries; ${second.counts.metricsPresent} already present ${second.counts.metricsAdded === 0 ? "✓" : "✗"}`);
  console.log(`peak RSS ${mb(memory.peak())} (fake, client, writer in one process)`);
  await api.close();
  await pool.end();
  if (!ok || first.counts.messagesRead !== N || second.counts.metricsAdded !== 0) process.exitCode = 1;
} finally {
  memory.stop();
  await fake.close();
  await db.stop();
}
