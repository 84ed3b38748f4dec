// Thousands of malformed requests at every endpoint, written as raw bytes on a TCP socket (so broken
// headers and encodings really reach the server), from fixed seeds so a failure can be replayed: never a
// 5xx while the database is up, only 503 while the test holds it down, never a crash, memory bounded,
// and well-formed traffic keeps being served. Correctly signed JSON objects, whatever they contain, are
// always stored.
import assert from "node:assert/strict";
import net from "node:net";
import zlib from "node:zlib";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { deliveryId, messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY, type TestService } from "../helpers/service.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

let db: TestDatabase;
let svc: TestService;
let proxy: TcpProxy;
let port: number;

before(async () => {
  db = await createTestDatabase();
  // The service reaches PostgreSQL through a proxy the test can cut (the database "stopped").
  const proxied = await TcpProxy.forUrl(db.url);
  proxy = proxied.proxy;
  svc = await startTestService(proxied.url, { WEBHOOK_BODY_LIMIT: "64kb", RELAY_BODY_LIMIT: "16kb", WEBHOOK_TIMEOUT_MS: "1000", DB_CONNECT_TIMEOUT_MS: "300", UNSUBSCRIBE_RATE_LIMIT: "100000" });
  port = Number(new URL(svc.url).port);
});
after(async () => {
  await svc.stop();
  await proxy.close();
  await db.drop();
});

/**
 * Sends raw bytes and reads the answer's status line; resolves with the status code, 0 if the server
 * closed without answering. The socket stays open for
 * writing, as a client waiting for its answer does: Node's server drops a request whose client
 * half-closes before the answer is ready, which would hide slow answers (and 5xx) as 0. Only requests
 * that can never complete (a body shorter than its Content-Length) are half-closed (`end`).
 */
function raw(request: Buffer, options: { end?: boolean; timeoutMs?: number } = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let response = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(request.subarray(0, 200).toString("latin1"))}`));
    }, timeoutMs);
    const status = () => Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);
    socket.on("data", (d) => {
      response += d.toString("latin1");
      if (status() > 0) socket.destroy(); // the status line is all we need
    });
    socket.on("error", () => undefined); // the server may close mid-send on a bad request
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(status());
    });
    if (options.end) socket.end(request);
    else socket.write(request);
  });
}

function request(method: string, path: string, headers: Array<[string, string | Buffer]>, body: Buffer): Buffer {
  const head = Buffer.concat([
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`, "latin1"),
    ...headers.map(([k, v]) => Buffer.concat([Buffer.from(`${k}: `, "latin1"), Buffer.isBuffer(v) ? v : Buffer.from(v, "latin1"), Buffer.from("\r\n")])),
    Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "latin1"),
  ]);
  return Buffer.concat([head, body]);
}

const ENDPOINTS = [
  "/webhooks/customerio", "/api/v1/metrics", "/api/v1/push/events", "/push/events",
  "/unsubscribe/abc123", "/unsubscribe/unsent", "/unsubscribe/%00%ff", "/unsubscribe",
  "/reports", "/reports/api/funnel?from=0000-01-01&to=9999-12-31&group_by=day", "/reports/api/links?limit=-1&offset=x", "/reports/api/deliveries/x%27",
  "/reports/api/openapi.json", "/healthz", "/readyz", "/nope", "/webhooks/customerio/../x", "/%ff%00", "/api/v1/metrics?x=%zz",
];
const METHODS = ["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "SEARCH", "PROPFIND", "BREW"];
/** Runs per endpoint, and the seed of each endpoint's run: a failure names its seed, so it can be replayed. */
const RUNS_PER_ENDPOINT = 2000;
const SEED = 20261203;
const CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "", "\u00ff\u00fe", "application/json;;;"];

const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);

// Values that have broken stores before: NUL, lone surrogates, huge numbers, wrong types, deep nesting.
const nastyValue = fc.oneof(
  fc.constantFrom("\u0000", "\ud800", "x\udfff", "𝄞", "", " ", "1e400", "-1", "NaN"),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, 0, -1),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 20 }).map((n) => "z".repeat(n * 1000)),
);
/** Bodies shaped like a relayed call or an unsubscribe, with nasty values in their fields. */
const shapedArb = fc
  .record(
    { delivery_id: nastyValue, metric: fc.oneof(fc.constantFrom("opened", "clicked", "delivered", "bounced"), nastyValue), event: fc.oneof(fc.constantFrom("opened", "converted"), nastyValue), device_id: nastyValue, timestamp: nastyValue, href: nastyValue, reason: nastyValue, recipient: nastyValue, unsubscribe: nastyValue },
    { requiredKeys: [] },
  )
  .map((o) => Buffer.from(JSON.stringify(o).replaceAll("\\\\u", "\\u")));

const bodyArb = fc.oneof(
  shapedArb,
  shapedArb,
  fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 500 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  fc.integer({ min: 1, max: 100_000 }).map((d) => Buffer.from(nested(d))),
  fc.integer({ min: 1, max: 20_000 }).map((d) => Buffer.from(`${'{"a":'.repeat(d)}1${"}".repeat(d)}`)),
  fc.constant(Buffer.alloc(200_000, "x")), // over every limit
  fc.constant(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), // BOM + {}
  fc.constant(Buffer.from('{"delivery_id":"\\ud800","metric":"opened","event":"opened","device_id":"\\u0000"}')),
);

const headerArb = fc.array(
  fc.tuple(
    fc.constantFrom("X-CIO-Signature", "X-CIO-Timestamp", "Content-Encoding", "Authorization", "X-Request-Id", "Transfer-Encoding", "Accept"),
    fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[0-9a-f]{64}$/), fc.constantFrom("gzip", "deflate", "br", "identity, gzip", "chunked", "Basic !!!", "Basic " + "A".repeat(5000)), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))),
  ),
  { maxLength: 4 },
);

describe("bad input", () => {
  it("never answers 5xx, never crashes, and keeps serving well-formed traffic", async (t) => {
    const rssBefore = process.memoryUsage.rss();
    let requests = 0;
    const seen = new Map<number, number>();
    for (const [i, path] of ENDPOINTS.entries()) {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...METHODS),
          fc.constantFrom(...CONTENT_TYPES),
          headerArb,
          bodyArb,
          async (method, contentType, headers, body) => {
            requests++;
            const status = await raw(request(method, path, [...(contentType ? [["Content-Type", contentType] as [string, string]] : []), ...headers], body));
            seen.set(status, (seen.get(status) ?? 0) + 1);
            assert.ok(status === 0 || (status >= 200 && status < 500), `${method} ${path} answered ${status}`);
          },
        ),
        { numRuns: RUNS_PER_ENDPOINT, seed: SEED + i },
      );
    }

    // Garbage compressed bodies and lies about length.
    const gz = zlib.gzipSync(Buffer.alloc(10_000_000, "a")); // 10 MB of "a" compressed to ~10 KB: a zip bomb
    const extra: Buffer[] = [
      request("POST", "/webhooks/customerio", [["Content-Encoding", "gzip"]], gz),
      request("POST", "/webhooks/customerio", [["Content-Encoding", "gzip"]], Buffer.from("not gzip at all")),
      request("POST", "/webhooks/customerio", [["Content-Encoding", "deflate"]], Buffer.from([0x78, 0x9c, 0xff])),
      Buffer.from("POST /webhooks/customerio HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{}"), // short body: half-closed below
      Buffer.from("POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
      Buffer.from("GARBAGE\r\n\r\n"),
      Buffer.from(`POST /webhooks/customerio HTTP/1.1\r\nHost: x\r\n${"X-Long: y\r\n".repeat(2000)}\r\n`),
    ];
    for (const r of extra) {
      const status = await raw(r, { end: r.includes("Content-Length: 10\r\n") || r.includes("Content-Length: -1") });
      requests++;
      assert.ok(status === 0 || status < 500, `answered ${status} to ${r.subarray(0, 60).toString("latin1")}`);
    }

    // The fuzzer reached the application, not just the HTTP parser: the application's own refusals show.
    for (const status of [200, 400, 401, 404, 405, 413, 415]) assert.ok(seen.has(status), `saw ${status} among ${JSON.stringify([...seen])}`);
    assert.ok(requests >= RUNS_PER_ENDPOINT * ENDPOINTS.length);
    t.diagnostic(`${requests} requests, answers by status ${JSON.stringify(Object.fromEntries(seen))}`);

    const health = await fetch(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    const good = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
    assert.equal(good.status, 200, "well-formed traffic still served");
    const grown = process.memoryUsage.rss() - rssBefore;
    assert.ok(grown < 300 * 1024 * 1024, `memory bounded after ${requests} bad requests (grew ${(grown / 1048576).toFixed(0)} MB)`);
  });

  it("answers only 503 among 5xx while the database is down, and serves again once it is back", async () => {
    proxy.setMode("refuse");
    try {
      const seen = new Map<number, number>();
      for (const [i, path] of ENDPOINTS.entries()) {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...METHODS), fc.constantFrom(...CONTENT_TYPES), bodyArb, async (method, contentType, body) => {
            const status = await raw(request(method, path, contentType ? [["Content-Type", contentType]] : [], body));
            seen.set(status, (seen.get(status) ?? 0) + 1);
            assert.ok(status === 0 || status < 500 || status === 503, `${method} ${path} answered ${status} with the database down`);
          }),
          { numRuns: 200, seed: SEED + 100 + i },
        );
      }
      // Signed events and relayed calls do reach the store, and are refused as "retry later".
      const signed = JSON.stringify(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
      assert.equal(await raw(request("POST", "/webhooks/customerio", Object.entries(signedHeaders(TEST_KEY, signed)), Buffer.from(signed))), 503);
      const relayed = Buffer.from(JSON.stringify({ delivery_id: deliveryId(), metric: "opened", timestamp: 1_700_000_000 }));
      assert.equal(await raw(request("POST", "/api/v1/metrics", [["Content-Type", "application/json"]], relayed)), 503);
      assert.ok(seen.has(503), `saw 503 among ${JSON.stringify([...seen])}`);
    } finally {
      proxy.setMode("pass");
    }
    const back = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
    assert.equal(back.status, 200, "served again once the database is back");
  });

  it("stores every correctly signed JSON object, whatever it contains", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }), async (object) => {
        const body = JSON.stringify(object);
        const res = await svc.webhook(body);
        assert.equal(res.status, 200, `${body.slice(0, 200)} -> ${JSON.stringify(res.json)}`);
        const [row] = await db.query("SELECT 1 FROM delivery_events WHERE event_id = $1", [res.json["event_id"]]);
        assert.ok(row, "stored");
      }),
      { numRuns: 300 },
    );
  });

  it("stores a signed event nested deeper than PostgreSQL's jsonb allows, as quarantined text", async () => {
    const id = deliveryId();
    const deep = `{"event_id":"deep-${id}","object_type":"email","metric":"sent","timestamp":1700000000,"data":{"delivery_id":"${id}","x":${nested(20_000)}}}`;
    const res = await svc.webhook(deep, { headers: signedHeaders(TEST_KEY, deep) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const [row] = await db.query<{ payload: { quarantined: { raw: string; reason: string } }; metric: string }>("SELECT payload, metric FROM delivery_events WHERE event_id = $1", [`deep-${id}`]);
    assert.equal(row?.payload.quarantined.raw, deep, "the exact text is kept");
    assert.equal(row?.metric, "sent");
    const [delivery] = await db.query("SELECT status FROM deliveries WHERE delivery_id = $1", [id]);
    assert.equal(delivery?.["status"], "sent", "and it still counts");
  });
});
