// Bounded resources and honest answers: what a client sees at each limit, a 405 with Allow for a method a
// path does not take, and errors in the client's terms (an HTML page for pages, JSON for APIs) with the
// same status.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

let db: TestDatabase;
let svc: TestService;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

describe("methods", () => {
  it("answers a method a path does not take with 405 and Allow, not 500 or 501", async () => {
    for (const [method, path, allow] of [
      ["TRACE", "/webhooks/customerio", "POST"],
      ["SEARCH", "/webhooks/customerio", "POST"],
      ["GET", "/webhooks/customerio", "POST"],
      ["PUT", "/api/v1/metrics", "POST"],
      ["DELETE", "/reports/api/funnel", "HEAD, GET"],
    ] as const) {
      // node:http, since fetch refuses TRACE.
      const res = await new Promise<{ status: number; allow: string | undefined; body: string }>((resolve, reject) => {
        const req = http.request(`${svc.url}${path}`, { method }, (r) => {
          let body = "";
          r.on("data", (d: Buffer) => (body += d.toString()));
          r.on("end", () => resolve({ status: r.statusCode!, allow: r.headers["allow"], body }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.allow, allow, `${method} ${path}`);
      assert.match((JSON.parse(res.body) as { message: string }).message, new RegExp(`${method} is not allowed here`));
    }
  });
});

describe("report ranges", () => {
  it("refuses a range of more than a year with a 400 that says so", async () => {
    const res = await fetch(`${svc.url}/reports/api/funnel?from=0000-01-01&to=9999-12-31`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; problems: string[] };
    assert.equal(body.error, "invalid_query");
    assert.match(body.problems.join(), /is 3652425 days; a report covers at most 366 days/);
    assert.equal((await fetch(`${svc.url}/reports/api/funnel?from=2025-01-01&to=2025-12-31`)).status, 200, "a year is fine");
  });
});

describe("when the database is down", () => {
  it("answers the dashboard with an HTML 503 page, and its API with JSON, and the unsubscribe form with its page", async () => {
    const own = await createTestDatabase();
    const { proxy, url } = await TcpProxy.forUrl(own.url);
    const local = await startTestService(url, { DB_CONNECT_TIMEOUT_MS: "300", UNSUBSCRIBE_BRAND_NAME: "Acme" });
    try {
      proxy.setMode("refuse");
      const page = await fetch(`${local.url}/reports`);
      assert.equal(page.status, 503);
      assert.match(page.headers.get("content-type")!, /text\/html/);
      assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
      const html = await page.text();
      assert.match(html, /<h1>The database is not answering<\/h1>/);
      assert.match(html, /HTTP 503/);

      const json = await fetch(`${local.url}/reports`, { headers: { accept: "application/json" } });
      assert.equal(json.status, 503);
      assert.equal(((await json.json()) as { error: string }).error, "unavailable");
      const api = await fetch(`${local.url}/reports/api/funnel`);
      assert.deepEqual([api.status, ((await api.json()) as { error: string }).error], [503, "unavailable"]);

      const form = await fetch(`${local.url}/unsubscribe/${deliveryId()}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "unsubscribe=true" });
      assert.equal(form.status, 503);
      assert.equal(form.headers.get("retry-after"), "30");
      assert.match(await form.text(), /Something went wrong on our side/);
    } finally {
      proxy.setMode("pass");
      await local.stop();
      await proxy.close();
      await own.drop();
    }
  });
});

describe("bounded queues", () => {
  it("refuses writes past INGEST_MAX_QUEUE at once with 503, and takes them again once the queue drains", async () => {
    const own = await createTestDatabase();
    const { proxy, url } = await TcpProxy.forUrl(own.url);
    const local = await startTestService(url, { INGEST_MAX_QUEUE: "5", WEBHOOK_TIMEOUT_MS: "2000", DB_STATEMENT_TIMEOUT_MS: "1500" });
    try {
      assert.equal((await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))).status, 200);
      proxy.setMode("blackhole"); // the database hangs: one batch in flight, the rest queue
      const waiting = Array.from({ length: 6 }, () => local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() })));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const refused = await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
      assert.equal(refused.status, 503);
      assert.match(String(refused.json["message"]), /could not be stored right now/);
      assert.ok(Date.now() - started < 500, `refused at once, in ${Date.now() - started} ms`);
      proxy.setMode("pass");
      await Promise.all(waiting);
      assert.equal((await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))).status, 200, "taken again");
    } finally {
      proxy.setMode("pass");
      await local.stop();
      await proxy.close();
      await own.drop();
    }
  });

  it("refuses a body that does not fit REQUEST_BODY_BUDGET at once with 503, before reading it", async () => {
    const local = await startTestService(db.url, { REQUEST_BODY_BUDGET: "100kb", WEBHOOK_BODY_LIMIT: "64kb" });
    const { port } = new URL(local.url);
    // Two uploads that declare 60 KB and send it slowly hold 120 KB... the second does not fit.
    const slow = (): net.Socket => {
      const socket = net.connect(Number(port), "127.0.0.1");
      socket.on("error", () => undefined);
      socket.write(`POST /webhooks/customerio HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${60 * 1024}\r\n\r\n{"a":`);
      return socket;
    };
    const first = slow();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const second = await new Promise<string>((resolve) => {
        const socket = slow();
        let data = "";
        socket.on("data", (d) => {
          data += d.toString();
          socket.destroy();
          resolve(data);
        });
      });
      assert.match(second, /^HTTP\/1\.1 503/);
      assert.match(second, /retry-after: 1/i);
      assert.match(second, /REQUEST_BODY_BUDGET/);
      first.destroy(); // the first upload gives its bytes back when its connection ends
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))).status, 200);
    } finally {
      first.destroy();
      await local.stop();
    }
  });
});
