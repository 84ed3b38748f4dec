// Thousands of malformed requests at every public endpoint, written as raw bytes on a TCP socket (so
// broken headers and encodings really reach the server): never a 5xx, never a crash, memory bounded,
// and well-formed traffic keeps being served. Correctly signed JSON objects, whatever they contain,
// are always stored.
import assert from "node:assert/strict";
import net from "node:net";
import zlib from "node:zlib";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { deliveryId, messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
let port: number;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { WEBHOOK_BODY_LIMIT: "64kb", RELAY_BODY_LIMIT: "16kb" });
  port = Number(new URL(svc.url).port);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

/** Sends raw bytes; resolves with the status code (0 if the server closed without answering). */
function raw(request: Buffer, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let response = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${request.subarray(0, 80).toString("latin1")}`));
    }, timeoutMs);
    socket.on("data", (d) => {
      response += d.toString("latin1");
    });
    socket.on("error", () => undefined); // the server may close mid-send on a bad request
    socket.on("close", () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
      resolve(m ? Number(m[1]) : 0);
    });
    socket.end(request);
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

const ENDPOINTS = ["/webhooks/customerio", "/api/v1/metrics", "/api/v1/push/events", "/push/events", "/healthz", "/readyz", "/nope", "/webhooks/customerio/../x", "/%ff%00", "/api/v1/metrics?x=%zz"];
const CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "", "\u00ff\u00fe", "application/json;;;"];

const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);

const bodyArb = fc.oneof(
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
  it("never answers 5xx, never crashes, and keeps serving well-formed traffic", async () => {
    const rssBefore = process.memoryUsage.rss();
    let requests = 0;
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"),
        fc.constantFrom(...ENDPOINTS),
        fc.constantFrom(...CONTENT_TYPES),
        headerArb,
        bodyArb,
        async (method, path, contentType, headers, body) => {
          requests++;
          const status = await raw(request(method, path, [...(contentType ? [["Content-Type", contentType] as [string, string]] : []), ...headers], body));
          seen.set(status, (seen.get(status) ?? 0) + 1);
          assert.ok(status === 0 || (status >= 200 && status < 500), `${method} ${path} answered ${status}`);
        },
      ),
      { numRuns: 1500 },
    );

    // Garbage compressed bodies and lies about length.
    const gz = zlib.gzipSync(Buffer.alloc(10_000_000, "a")); // 10 MB of "a" compressed to ~10 KB: a zip bomb
    const extra: Buffer[] = [
      request("POST", "/webhooks/customerio", [["Content-Encoding", "gzip"]], gz),
      request("POST", "/webhooks/customerio", [["Content-Encoding", "gzip"]], Buffer.from("not gzip at all")),
      request("POST", "/webhooks/customerio", [["Content-Encoding", "deflate"]], Buffer.from([0x78, 0x9c, 0xff])),
      Buffer.from("POST /webhooks/customerio HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{}"), // short body
      Buffer.from("POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
      Buffer.from("GARBAGE\r\n\r\n"),
      Buffer.from(`POST /webhooks/customerio HTTP/1.1\r\nHost: x\r\n${"X-Long: y\r\n".repeat(2000)}\r\n`),
    ];
    for (const r of extra) {
      const status = await raw(r);
      requests++;
      assert.ok(status === 0 || status < 500, `answered ${status} to ${r.subarray(0, 60).toString("latin1")}`);
    }

    // The fuzzer reached the application, not just the HTTP parser: the application's own refusals show.
    for (const status of [200, 400, 401, 404, 405, 413, 415]) assert.ok(seen.has(status), `saw ${status} among ${JSON.stringify([...seen])}`);

    const health = await fetch(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    const good = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
    assert.equal(good.status, 200, "well-formed traffic still served");
    const grown = process.memoryUsage.rss() - rssBefore;
    assert.ok(grown < 300 * 1024 * 1024, `memory bounded after ${requests} bad requests (grew ${(grown / 1048576).toFixed(0)} MB)`);
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
