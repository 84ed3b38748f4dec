// The hosted unsubscribe endpoint over HTTP: one-click, JSON (with the official client), the form,
// hostile ids, repeats, Customer.io down during the unsubscribe, custom attributes, rate limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { runWithOfficialClient } from "../helpers/official-clients.js";
import { resubscribeToken, validToken } from "../../src/unsubscribe/unsubscribe.routes.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;
let fake: FakeCustomerIo;
let svc: TestService;
const ENV = {
  REPORTER_SCHEDULE: "* * * * * *",
  REPORTER_BACKOFF_BASE_MS: "50",
  REPORTER_BACKOFF_MAX_MS: "300",
  CIO_SITE_ID: "site",
  CIO_API_KEY: "key",
  CIO_REGION: "us",
  UNSUBSCRIBE_ATTRIBUTES: '{"newsletter": false, "segment": "none"}',
  UNSUBSCRIBE_BRAND_NAME: "Acme <News>",
  UNSUBSCRIBE_SECRET: "unsubscribe-test-secret",
};

before(async () => {
  db = await createTestDatabase();
  fake = await FakeCustomerIo.start({ siteId: "site", apiKey: "key" });
  svc = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: fake.url });
});
after(async () => {
  await svc.stop();
  await fake.close();
  await db.drop();
});

const form = (path: string, body: string) =>
  fetch(`${svc.url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body, redirect: "manual" });
const unsubscribeCalls = (id: string) => fake.acceptedOn(`/unsubscribe/${encodeURIComponent(id)}`);
const knownDelivery = async (objectType = "email") => {
  const id = deliveryId();
  assert.equal((await svc.webhook(messageEvent({ objectType, metric: "sent", deliveryId: id }))).status, 200);
  return id;
};

describe("POST /unsubscribe/:delivery_id", () => {
  it("takes an RFC 8058 one-click unsubscribe: 200, no redirect, no cookie; recorded and forwarded", async () => {
    const id = await knownDelivery();
    const res = await form(`/unsubscribe/${id}`, "List-Unsubscribe=One-Click");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("location"), null);
    assert.equal(res.headers.get("set-cookie"), null);
    const [row] = await db.query("SELECT unsubscribe, method, attributes_update, client_ip FROM unsubscribes WHERE delivery_id = $1", [id]);
    assert.deepEqual(row, { unsubscribe: true, method: "one_click", attributes_update: "queued", client_ip: null });
    const [delivery] = await db.query("SELECT status, unsubscribed_at IS NOT NULL AS unsubscribed FROM deliveries WHERE delivery_id = $1", [id]);
    assert.deepEqual(delivery, { status: "unsubscribed", unsubscribed: true });
    const [event] = await db.query("SELECT source, metric FROM delivery_events WHERE delivery_id = $1 AND source = 'unsubscribe_page'", [id]);
    assert.deepEqual(event, { source: "unsubscribe_page", metric: "unsubscribed" });

    await waitFor("forwarded to Customer.io", () => unsubscribeCalls(id).length === 1);
    assert.deepEqual(unsubscribeCalls(id)[0]!.body, { unsubscribe: true });
    assert.equal(unsubscribeCalls(id)[0]!.contentType, "application/json");
    await waitFor("custom attributes set", () => fake.acceptedOn("/api/v1/customers/42").length > 0);
    assert.deepEqual(fake.acceptedOn("/api/v1/customers/42").at(-1)!.body, { newsletter: false, segment: "none" });
  });

  it("treats repeats as no-ops: one record, one call to Customer.io", async () => {
    const id = await knownDelivery();
    for (let i = 0; i < 3; i++) assert.equal((await form(`/unsubscribe/${id}`, "List-Unsubscribe=One-Click")).status, 200);
    await Promise.all([form(`/unsubscribe/${id}`, "unsubscribe=true"), form(`/unsubscribe/${id}`, "List-Unsubscribe=One-Click")]);
    await waitFor("forwarded", () => unsubscribeCalls(id).length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await db.query("SELECT 1 FROM unsubscribes WHERE delivery_id = $1", [id])).length, 1);
    assert.equal(unsubscribeCalls(id).length, 1);
  });

  it("works with the official customerio-node client's unsubscribe(), both ways", async () => {
    const id = await knownDelivery();
    const script = `
      const { TrackClient } = require(CLIENT);
      const cio = new TrackClient("site", "key", { url: process.argv[1] + "/api/v1" });
      (async () => { await cio.unsubscribe(process.argv[2]); await cio.unsubscribe(process.argv[2], false); console.log("ok"); })()
        .catch((e) => { console.error(e); process.exit(1); });`;
    assert.equal((await runWithOfficialClient("customerio-node", script, [svc.url, id])).trim(), "ok");
    const rows = await db.query("SELECT unsubscribe, method FROM unsubscribes WHERE delivery_id = $1 ORDER BY id", [id]);
    assert.deepEqual(rows, [{ unsubscribe: true, method: "api" }, { unsubscribe: false, method: "api" }]);
    await waitFor("both forwarded", () => unsubscribeCalls(id).length === 2);
    assert.deepEqual(unsubscribeCalls(id).map((r) => r.body), [{ unsubscribe: true }, { unsubscribe: false }]);
    await waitFor("attributes restored on resubscribe", () => fake.acceptedOn("/api/v1/customers/42").some((r) => JSON.stringify(r.body) === '{"newsletter":true}'));
  });

  it("answers bad JSON like Customer.io", async () => {
    const res = await fetch(`${svc.url}/unsubscribe/abc`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"unsubscribe":"yes"}' });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(await res.json()), /unsubscribe must be true or false/);
  });

  it("keeps the unsubscribe while Customer.io is down and delivers it after it recovers", async () => {
    const id = await knownDelivery();
    fake.fail({ status: 503 }, 5, `/unsubscribe/${id}`);
    assert.equal((await form(`/unsubscribe/${id}`, "List-Unsubscribe=One-Click")).status, 200);
    const [item] = await waitFor("delivered after 5 failures", async () => {
      const rows = await db.query("SELECT status, attempts FROM outbox WHERE delivery_id = $1 AND kind = 'unsubscribe'", [id]);
      return rows[0]?.["status"] === "delivered" ? rows : null;
    }, 15_000);
    assert.equal(item?.["attempts"], 6);
    assert.equal(unsubscribeCalls(id).length, 1);
  });

  it("records that custom attributes were skipped when the person is unknown", async () => {
    const unknown = deliveryId();
    assert.equal((await form(`/unsubscribe/${unknown}`, "List-Unsubscribe=One-Click")).status, 200);
    const [row] = await db.query("SELECT attributes_update FROM unsubscribes WHERE delivery_id = $1", [unknown]);
    assert.match(String(row?.["attributes_update"]), /^skipped: no person known/);
  });

  it("refuses a form resubscribe without a token from our page (no cross-site resubscription)", async () => {
    const id = await knownDelivery();
    assert.equal((await form(`/unsubscribe/${id}`, "unsubscribe=true")).status, 200);
    const forged = await form(`/unsubscribe/${id}`, "unsubscribe=false");
    assert.equal(forged.status, 403);
    const wrong = await form(`/unsubscribe/${id}`, `unsubscribe=false&token=${resubscribeToken("another-secret", id)}`);
    assert.equal(wrong.status, 403);
    const otherDelivery = await form(`/unsubscribe/${id}`, `unsubscribe=false&token=${resubscribeToken(ENV.UNSUBSCRIBE_SECRET, "other")}`);
    assert.equal(otherDelivery.status, 403);
    assert.deepEqual(await db.query("SELECT unsubscribe FROM unsubscribes WHERE delivery_id = $1", [id]), [{ unsubscribe: true }]);
    const ok = await form(`/unsubscribe/${id}`, `unsubscribe=false&token=${resubscribeToken(ENV.UNSUBSCRIBE_SECRET, id)}`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /subscribed again/);
    // A JSON request from another site would need a CORS preflight, which we never grant.
    const preflight = await fetch(`${svc.url}/unsubscribe/${id}`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  });

  it("expires resubscribe tokens", () => {
    const token = resubscribeToken("s", "d", 1_000);
    assert.equal(validToken("s", "d", token, 1_000 + 3600), true);
    assert.equal(validToken("s", "d", token, 1_000 + 25 * 3600), false);
    assert.equal(validToken("s", "d", "123.abc", 100), false);
  });

  it("limits POSTs for unknown ids per client address with a clear 429", async () => {
    const local = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: fake.url, UNSUBSCRIBE_RATE_LIMIT: "3" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${local.url}/unsubscribe/${deliveryId()}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "unsubscribe=true" });
        statuses.push(res.status);
        if (res.status === 429) {
          assert.ok(Number(res.headers.get("retry-after")) > 0);
          assert.match(await res.text(), /Too many requests/);
        } else await res.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal((await fetch(`${local.url}/unsubscribe/${deliveryId()}`)).status, 200, "the page itself is still served");
    } finally {
      await local.stop();
    }
  });

  it("never refuses one-click POSTs for known deliveries for their address: 200 from one address in a minute, all 200", async () => {
    const local = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: fake.url, UNSUBSCRIBE_RATE_LIMIT: "20" });
    try {
      const ids = await Promise.all(Array.from({ length: 200 }, () => knownDelivery()));
      const statuses = await Promise.all(ids.map(async (id) => {
        const res = await fetch(`${local.url}/unsubscribe/${id}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
        await res.arrayBuffer();
        return res.status;
      }));
      assert.deepEqual([...new Set(statuses)], [200]);
      const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM unsubscribes WHERE delivery_id = ANY($1)", [ids])) as [{ n: number }];
      assert.equal(n, 200);
    } finally {
      await local.stop();
    }
  });

  it("takes the client address from the configured proxy hops, so a spoofed X-Forwarded-For does not escape the limit", async () => {
    const local = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: fake.url, UNSUBSCRIBE_RATE_LIMIT: "3", TRUST_PROXY: "1" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        // The client makes up an address each time; our proxy (one hop) appends the one it saw.
        const res = await fetch(`${local.url}/unsubscribe/${deliveryId()}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": `10.9.${i}.${i}, 203.0.113.7` },
          body: "List-Unsubscribe=One-Click",
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      // Another real client (another address seen by our proxy) is not limited by the first one.
      const other = await fetch(`${local.url}/unsubscribe/${deliveryId()}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": "203.0.113.8" }, body: "List-Unsubscribe=One-Click" });
      assert.equal(other.status, 200);
    } finally {
      await local.stop();
    }
  });

  it("takes an RFC 8058 one-click sent as multipart/form-data: 200, and forwarded once", async () => {
    const id = await knownDelivery();
    const body = new FormData();
    body.append("List-Unsubscribe", "One-Click");
    const res = await fetch(`${svc.url}/unsubscribe/${id}`, { method: "POST", body });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "Unsubscribed\n");
    await waitFor("forwarded", () => unsubscribeCalls(id).length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(unsubscribeCalls(id).map((r) => r.body), [{ unsubscribe: true }]);
    const withFile = new FormData();
    withFile.append("List-Unsubscribe", "One-Click");
    withFile.append("file", new Blob(["x".repeat(100)]), "a.txt");
    const refused = await fetch(`${svc.url}/unsubscribe/${id}`, { method: "POST", body: withFile });
    assert.ok([400, 413].includes(refused.status), `a file part is refused (${refused.status})`);
  });
});

describe("links from test sends and previews", () => {
  it("explains /unsubscribe/unsent, and records, queues and creates nothing for any POST", async () => {
    const page = await fetch(`${svc.url}/unsubscribe/unsent`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /This link is from a test or preview message/);
    assert.doesNotMatch(html, /<form/, "no button that would seem to do something");
    const posts = [
      await form("/unsubscribe/unsent", "List-Unsubscribe=One-Click"),
      await form("/unsubscribe/unsent", "unsubscribe=true"),
      await fetch(`${svc.url}/unsubscribe/unsent`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"unsubscribe":true}' }),
      await fetch(`${svc.url}/unsubscribe/UNSENT`, { method: "POST", body: (() => { const f = new FormData(); f.append("List-Unsubscribe", "One-Click"); return f; })() }),
    ];
    for (const res of posts) {
      assert.equal(res.status, 200);
      assert.match(await res.text(), /test or preview message/);
    }
    for (const table of ["unsubscribes", "deliveries", "delivery_events", "outbox"]) {
      assert.deepEqual(await db.query(`SELECT 1 FROM ${table} WHERE lower(delivery_id) = 'unsent'`), [], `nothing in ${table}`);
    }
  });
});

describe("GET /unsubscribe/:delivery_id", () => {
  it("names the kind of message and masks the address, with strict security headers", async () => {
    const id = await knownDelivery("sms");
    const res = await fetch(`${svc.url}/unsubscribe/${id}`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /text message/);
    assert.match(html, /\*\*\* 4567/);
    assert.doesNotMatch(html, /5551234567/, "the full number never appears");
    assert.match(html, /Acme &#60;News&#62;/, "branding is escaped too");
    assert.match(html, /<html lang="en">/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /style-src 'nonce-[^']+'/);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.doesNotMatch(html, /<script/i);
  });

  it("shows the same page for an unknown id as for a known one, without details", async () => {
    const res = await fetch(`${svc.url}/unsubscribe/${deliveryId()}`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /the message that brought you here/);
    assert.doesNotMatch(html, /sent to/);
  });

  it("answers hostile and malformed ids with a helpful page, never reflecting them, never a stack trace", async () => {
    const hostile = ["<script>alert(1)</script>", "x".repeat(10_000), "ünïcödé", "%00", "a%00b", "../../etc/passwd", "a b", '"><img src=x onerror=alert(1)>', "%F0%9F%98%80", "a/b"];
    for (const id of hostile) {
      const path = `/unsubscribe/${id.startsWith("%") || id.includes("%") ? id : encodeURIComponent(id)}`;
      for (const method of ["GET", "POST"]) {
        const res = await fetch(`${svc.url}${path}`, { method, headers: { "content-type": "application/x-www-form-urlencoded" }, body: method === "POST" ? "List-Unsubscribe=One-Click" : undefined });
        const html = await res.text();
        assert.ok([400, 414].includes(res.status), `${method} ${id.slice(0, 30)}: ${res.status}`);
        if (res.status === 400) {
          assert.match(html, /doesn't look right/);
          assert.doesNotMatch(html, /<script>|onerror|etc\/passwd|at [\w.]+ \(/);
        }
      }
    }
    assert.equal((await db.query("SELECT 1 FROM unsubscribes WHERE delivery_id LIKE '%script%' OR length(delivery_id) > 200")).length, 0);
    for (const path of ["/unsubscribe", "/unsubscribe/"]) assert.equal((await fetch(`${svc.url}${path}`)).status, 400);
  });
});
