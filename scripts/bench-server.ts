// One server of the ingest and relay benchmarks, started by scripts/lib/bench-http.ts in its own process:
//   bare      a bare node:http server that reads the body, checks the HMAC and parses the JSON, then
//             answers 200: the ceiling of any webhook receiver in Node on this machine
//   baseline  the same Koa app, body reading, signature check or relay validation, and parsing,
//             answering 200 without a database (the webhook and the relay routes)
//   naive     the same routes, one transaction per request: BEGIN; insert the event; apply it (and, for
//             the relay, look up the delivery and queue the outbox row); COMMIT
//   ours      the real service (startService): group commit, 2xx after the commit
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { startService } from "../src/app.js";
import { loadConfig } from "../src/core/config.js";
import { inTransaction } from "../src/core/database.js";
import { createHttpApp } from "../src/core/http.js";
import { createLogger } from "../src/core/logger.js";
import { DeliveryLookup } from "../src/events/delivery-lookup.js";
import { writeBatch, type EventSink, type Write } from "../src/events/event-store.js";
import { batchParams, deliveryProjectionSql } from "../src/events/projection.sql.js";
import { relayRoutes } from "../src/reporter/relay.routes.js";
import { RelayService } from "../src/reporter/relay.service.js";
import { webhookRoutes } from "../src/webhooks/webhook.routes.js";
import { verifySignature } from "../src/webhooks/signature.js";

const variant = process.env["BENCH_VARIANT"];
const config = loadConfig(process.env);
const log = createLogger(config.logLevel);

/** The straightforward receiver: a transaction per request, the event then its delivery. */
class NaiveSink implements EventSink {
  constructor(private readonly pool: pg.Pool) {}
  async store(write: Write) {
    const { event } = write;
    if (write.outbox?.length) {
      // The relay as it was before group commit: a lookup of the delivery, then a transaction of its own.
      await new DeliveryLookup(this.pool).get(event.deliveryId ?? "");
      const { inserted } = await inTransaction(this.pool, (client) => writeBatch(client, [write]));
      return { status: inserted.size > 0 ? "stored" : "duplicate" } as const;
    }
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // Named (prepared) statements, so the reference is not slowed by planning on every request.
      const inserted = await client.query({
        name: "naive-insert-event",
        text: `INSERT INTO delivery_events (event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, source, payload)
         VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), to_timestamp($6 / 1000.0), $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
        values: [event.eventId, event.deliveryId, event.objectType, event.metric, event.occurredAt, event.receivedAt, event.customerId, event.identifiers, event.href, event.linkId, event.failureMessage, event.source, event.payload],
      });
      if (inserted.rowCount === 1) await client.query({ name: "naive-upsert-delivery", text: deliveryProjectionSql("deliveries"), values: batchParams([event]) });
      await client.query("COMMIT");
      return { status: inserted.rowCount === 1 ? "stored" : "duplicate" } as const;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** The webhook and relay routes over a sink. */
function routesOver(sink: EventSink) {
  const relay = new RelayService(sink, () => undefined);
  return createHttpApp(log, [webhookRoutes(config.webhooks, sink), relayRoutes(config.relay, relay, config.webhooks.timeoutMs)]).callback();
}

let port: number;
if (variant === "ours") {
  const service = await startService(config, log);
  port = Number(new URL(service.url).port);
} else if (variant === "bare") {
  const options = { keys: config.webhooks.signingKeys, toleranceSeconds: 0 };
  port = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const check = verifySignature(req.headers["x-cio-signature"] as string | undefined, req.headers["x-cio-timestamp"] as string | undefined, body, options);
      let status = check.ok ? 200 : 401;
      let answer = "{}";
      if (check.ok) {
        try {
          answer = JSON.stringify({ event_id: (JSON.parse(body.toString("utf8")) as { event_id?: unknown }).event_id });
        } catch {
          status = 400;
        }
      }
      res.writeHead(status, { "content-type": "application/json" }).end(answer);
    });
  });
} else if (variant === "baseline") {
  port = await listen(routesOver({ store: async () => ({ status: "stored" }) }));
} else if (variant === "naive") {
  const pool = new pg.Pool({ connectionString: config.database.url, max: config.database.poolSize });
  port = await listen(routesOver(new NaiveSink(pool)));
} else {
  throw new Error(`BENCH_VARIANT must be bare, baseline, naive or ours, got ${variant}`);
}
process.stdout.write(`READY ${port}\n`);
// A clean exit on SIGINT lets `--cpu-prof` write its profile (BENCH_CPU_PROF=1 npm run bench:ingest).
process.on("SIGINT", () => process.exit(0));
