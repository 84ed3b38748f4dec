import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  customerEvent,
  deliveryId,
  eventId,
  messageEvent,
  METRICS_BY_OBJECT_TYPE,
  officialSamples,
  signedHeaders,
} from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { WEBHOOK_BODY_LIMIT: "256kb" });
});
after(async () => {
  await svc.stop();
  await db.drop();
});

const eventRow = async (id: string) => (await db.query("SELECT * FROM delivery_events WHERE event_id = $1", [id]))[0];
const deliveryRow = async (id: string) => (await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [id]))[0];

describe("POST /webhooks/customerio", () => {
  it("stores Customer.io's official examples byte for byte, and each event once", async () => {
    const samples = officialSamples(); // customer-subscribed, email-sent, sms-sent
    const first = await Promise.all(samples.map(async (s) => (await svc.webhook(s.raw)).json["duplicate"]));
    // All three carry event_id 01E4C4CT6YDC7Y5M7FE1GWWPQJ and the same timestamp. An event is its id,
    // its delivery and its time together: the email and SMS examples (same delivery too) are one
    // event; the customer example (no delivery) is another.
    assert.deepEqual(first.sort(), [false, false, true]);
    for (const s of samples) assert.equal((await svc.webhook(s.raw)).json["duplicate"], true, `a retry of ${s.name} is a duplicate`);
    const rows = await db.query<{ delivery_id: string; payload: unknown; occurred_at: Date }>(
      "SELECT delivery_id, payload, occurred_at FROM delivery_events WHERE event_id = '01E4C4CT6YDC7Y5M7FE1GWWPQJ' ORDER BY delivery_id",
    );
    assert.deepEqual(rows.map((r) => r.delivery_id), ["", "RPILAgUBcRhIBqSfeiIwdIYJKxTY"]);
    assert.deepEqual(rows[0]!.payload, JSON.parse(samples[0]!.raw));
    assert.equal(rows[0]!.occurred_at.toISOString(), "2021-02-11T17:04:49.000Z");
  });

  it("accepts every documented object type and metric and projects each delivery", async () => {
    for (const [objectType, metrics] of Object.entries(METRICS_BY_OBJECT_TYPE)) {
      if (objectType === "customer") continue;
      for (const metric of metrics) {
        const id = deliveryId();
        const event = messageEvent({ objectType, metric, deliveryId: id, timestamp: 1_700_000_000 });
        const res = await svc.webhook(event);
        assert.equal(res.status, 200, `${objectType}/${metric}: ${JSON.stringify(res.json)}`);
        assert.deepEqual(res.json, { ok: true, event_id: event["event_id"], duplicate: false });
        const row = await deliveryRow(id);
        assert.equal(row?.["channel"], objectType);
        assert.equal(row?.["status"], metric, `${objectType}/${metric} status`);
        assert.equal((row?.[`${metric}_at`] as Date).toISOString(), "2023-11-14T22:13:20.000Z");
        assert.equal(row?.["campaign_id"], "12");
        const stored = await eventRow(event["event_id"] as string);
        assert.equal(stored?.["source"], "webhook");
        assert.equal(stored?.["delivery_id"], id);
      }
    }
  });

  it("stores person-level subscription events and reflects them in person_subscriptions", async () => {
    const cioId = `cio-${eventId()}`;
    const events = [
      customerEvent("subscribed", { timestamp: 1_700_000_000, cioId }),
      customerEvent("cio_subscription_preferences_changed", { timestamp: 1_700_000_100, cioId, content: '{"newsletter":false,"product":true}' }),
      customerEvent("unsubscribed", { timestamp: 1_700_000_200, cioId }),
    ];
    for (const e of events) assert.equal((await svc.webhook(e)).status, 200);
    const [person] = await db.query("SELECT * FROM person_subscriptions WHERE cio_id = $1", [cioId]);
    assert.equal(person?.["person_key"], `cio_id:${cioId}`);
    assert.equal(person?.["subscribed"], false);
    assert.equal(person?.["subscription_event_id"], events[2]!["event_id"]);
    assert.deepEqual(person?.["preferences"], { newsletter: false, product: true });
    const stored = await eventRow(events[0]!["event_id"] as string);
    assert.equal(stored?.["delivery_id"], "", "person-level events belong to no delivery");
  });

  it("answers a duplicate with 2xx and stores it once", async () => {
    const id = deliveryId();
    const event = messageEvent({ objectType: "email", metric: "opened", deliveryId: id });
    const first = await svc.webhook(event);
    const second = await svc.webhook(event);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.json["duplicate"], true);
    const row = await deliveryRow(id);
    assert.equal(row?.["opens_human"], 1);
    assert.equal(row?.["event_count"], 1);
  });

  it("stores unknown object types and metrics as they are", async () => {
    const id = deliveryId();
    const event = { event_id: eventId(), object_type: "carrier_pigeon", metric: "landed", timestamp: 1_700_000_000, data: { delivery_id: id, wings: 2 } };
    assert.equal((await svc.webhook(event)).status, 200);
    const stored = await eventRow(event.event_id);
    assert.equal(stored?.["object_type"], "carrier_pigeon");
    assert.deepEqual(stored?.["payload"], event);
    const row = await deliveryRow(id);
    assert.equal(row?.["status"], "unknown");
    assert.equal(row?.["channel"], null);
  });

  it("gives an event without event_id a stable id derived from its bytes", async () => {
    const body = JSON.stringify({ object_type: "email", metric: "sent", timestamp: 1_700_000_000, data: { delivery_id: deliveryId() } });
    const a = await svc.webhook(body);
    const b = await svc.webhook(body);
    assert.match(String(a.json["event_id"]), /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.json["event_id"], b.json["event_id"]);
    assert.equal(b.json["duplicate"], true);
  });

  it("keeps content PostgreSQL could not store as is (NUL, lone surrogates, odd types)", async () => {
    const id = deliveryId();
    const raw = `{"event_id":"${eventId()}","object_type":"email","metric":"sent","timestamp":"x","data":{"delivery_id":"${id}","subject":"a\\u0000b\\udc00","campaign_id":"not-a-number","identifiers":[1]}}`;
    const res = await svc.webhook(raw);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const row = await deliveryRow(id);
    assert.equal(row?.["subject"], "a\uFFFDb\uFFFD");
    assert.equal(row?.["campaign_id"], null);
  });

  it("rejects bad signatures with 401 and a JSON reason", async () => {
    const body = JSON.stringify(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
    const cases: Array<[string, Record<string, string>, string]> = [
      ["wrong key", signedHeaders("not-the-key", body), "signature_mismatch"],
      ["no headers", { "content-type": "application/json" }, "missing_signature"],
      ["no timestamp", { "x-cio-signature": signedHeaders(TEST_KEY, body)["x-cio-signature"]! }, "missing_timestamp"],
    ];
    for (const [name, headers, reason] of cases) {
      const res = await svc.webhook(body, { headers });
      assert.equal(res.status, 401, name);
      assert.equal(res.json["error"], reason, name);
      assert.equal(typeof res.json["message"], "string");
    }
    assert.equal((await db.query("SELECT 1 FROM delivery_events WHERE payload = $1::jsonb", [body])).length, 0);
  });

  it("answers 400 saying why for malformed JSON and non-object JSON", async () => {
    const cases: Array<[string, string]> = [
      ["{not json", "invalid_json"],
      ["[1,2]", "not_an_object"],
      ['"text"', "not_an_object"],
      ["null", "not_an_object"],
      ["", "invalid_json"],
    ];
    for (const [body, error] of cases) {
      const res = await svc.webhook(body);
      assert.equal(res.status, 400, body);
      assert.equal(res.json["error"], error, body);
      assert.ok(String(res.json["message"]).length > 10);
    }
  });

  it("accepts a sent event with large body content and answers 413 above the limit", async () => {
    const id = deliveryId();
    const content = "<p>hello</p>".repeat(15_000); // ~180 KB, under this test's 256 KB limit
    const big = messageEvent({ objectType: "email", metric: "sent", deliveryId: id, extra: { content, headers: { "X-Test": ["1"] } } });
    assert.equal((await svc.webhook(big)).status, 200);
    const tooBig = messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId(), extra: { content: content.repeat(2) } });
    const res = await svc.webhook(tooBig);
    assert.equal(res.status, 413);
    assert.equal(res.json["error"], "payload_too_large");
  });

  it("accepts a body whatever its content type (the signature covers the bytes)", async () => {
    const event = messageEvent({ objectType: "sms", metric: "delivered", deliveryId: deliveryId() });
    const body = JSON.stringify(event);
    const res = await svc.webhook(body, { headers: { ...signedHeaders(TEST_KEY, body), "content-type": "text/plain" } });
    assert.equal(res.status, 200);
  });

  it("answers unknown routes and wrong methods with JSON errors", async () => {
    const notFound = await fetch(`${svc.url}/nope`);
    assert.equal(notFound.status, 404);
    assert.equal(((await notFound.json()) as { error: string }).error, "not_found");
    const wrongMethod = await fetch(`${svc.url}/webhooks/customerio`);
    assert.equal(wrongMethod.status, 405);
  });
});

describe("signature options", () => {
  it("accepts any configured key during rotation and rejects stale timestamps when enabled", async () => {
    const local = await startTestService(db.url, { CIO_WEBHOOK_SIGNING_KEYS: "old-key,new-key", CIO_WEBHOOK_TOLERANCE_SECONDS: "300" });
    try {
      for (const key of ["old-key", "new-key"]) {
        const res = await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }), { key });
        assert.equal(res.status, 200, key);
      }
      const body = JSON.stringify(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
      const stale = await local.webhook(body, { headers: signedHeaders("new-key", body, Math.floor(Date.now() / 1000) - 301) });
      assert.equal(stale.status, 401);
      assert.equal(stale.json["error"], "stale_timestamp");
    } finally {
      await local.stop();
    }
  });
});
