// Values of any length, through real HTTP: a correctly signed event is stored and acknowledged whatever
// the length of its link, failure message, ids or identifiers (a btree entry over ~2.7 KB used to make
// the insert fail for good, stalling Customer.io's whole webhook stream), and the next event flows.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;
let fake: FakeCustomerIo;
let svc: TestService;

before(async () => {
  db = await createTestDatabase();
  fake = await FakeCustomerIo.start();
  svc = await startTestService(db.url, { CIO_TRACK_URL: fake.url, REPORTER_SCHEDULE: "* * * * * *", RELAY_BODY_LIMIT: "64kb" });
});
after(async () => {
  await svc.stop();
  await fake.close();
  await db.drop();
});

/** Random URL-safe text: incompressible, so PostgreSQL cannot squeeze it into an index entry. */
const random = (bytes: number) => randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64url").slice(0, bytes);
const longLink = (bytes: number) => `https://example.com/track?u=${random(bytes - 28)}`;

async function nextEventFlows(): Promise<void> {
  const res = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
  assert.equal(res.status, 200, "the next event still flows");
}

describe("values of any length", () => {
  it("stores a click whose link is 12 KB, keeps it whole in the payload, and reports it", async () => {
    const id = deliveryId();
    const href = longLink(12 * 1024);
    const event = messageEvent({ objectType: "email", metric: "clicked", deliveryId: id, timestamp: 1_700_000_000, extra: { href, link_id: 7 } });
    const res = await svc.webhook(event);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const [row] = await db.query<{ href: string; payload: { data: { href: string } } }>("SELECT href, payload FROM delivery_events WHERE event_id = $1", [event["event_id"]]);
    assert.equal(row!.payload.data.href, href, "the payload keeps the whole link");
    assert.ok(row!.href.startsWith(href.slice(0, 500)) && row!.href.length < 1000, "the indexed column keeps its start and hash");
    const [delivery] = await db.query("SELECT status, clicks_human FROM deliveries WHERE delivery_id = $1", [id]);
    assert.deepEqual(delivery, { status: "clicked", clicks_human: 1 });
    const links = (await (await fetch(`${svc.url}/reports/api/links?from=2023-01-01&to=2023-12-31`)).json()) as { rows: Array<{ href: string }> };
    assert.ok(links.rows.some((r) => r.href === row!.href), "the links report lists it");
    await nextEventFlows();
  });

  it("stores a bounce whose message is 10 KB, whole, with a bounded failure reason", async () => {
    const id = deliveryId();
    const message = `550 5.1.1 mailbox unavailable ${random(10 * 1024)}`;
    const res = await svc.webhook(messageEvent({ objectType: "email", metric: "bounced", deliveryId: id, extra: { failure_message: message } }));
    assert.equal(res.status, 200);
    const [delivery] = await db.query<{ failure_message: string; failure_reason: string; status: string }>("SELECT failure_message, failure_reason, status FROM deliveries WHERE delivery_id = $1", [id]);
    assert.equal(delivery!.failure_message, message);
    assert.equal(delivery!.status, "bounced");
    assert.ok(delivery!.failure_reason.length <= 300);
    await nextEventFlows();
  });

  it("keeps a 3 KB delivery_id as its hash, so the delivery's events still meet on one row", async () => {
    const id = random(3 * 1024);
    for (const metric of ["sent", "delivered"]) {
      const res = await svc.webhook(messageEvent({ objectType: "sms", metric, deliveryId: id }));
      assert.equal(res.status, 200, JSON.stringify(res.json));
    }
    const rows = await db.query<{ delivery_id: string; event_count: number; status: string }>(
      "SELECT d.delivery_id, d.event_count, d.status FROM deliveries d JOIN delivery_events e USING (delivery_id) WHERE e.payload #>> '{data,delivery_id}' = $1 GROUP BY 1, 2, 3",
      [id],
    );
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.delivery_id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual([rows[0]!.event_count, rows[0]!.status], [2, "delivered"]);
    await nextEventFlows();
  });

  it("stores a person whose ids and address are kilobytes long", async () => {
    const person = { id: random(4000), email: `${random(5000)}@example.com`, cioId: random(4000) };
    const res = await svc.webhook(customerEvent("unsubscribed", { person }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const message = messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId(), person });
    assert.equal((await svc.webhook(message)).status, 200);
    const [row] = await db.query<{ subscribed: boolean; email: string }>("SELECT subscribed, email FROM person_subscriptions WHERE person_key LIKE 'cio_id:sha256:%'");
    assert.deepEqual(row, { subscribed: false, email: person.email });
    const found = (await (await fetch(`${svc.url}/reports/api/people/email/${encodeURIComponent(person.email)}/deliveries`)).json()) as { rows: unknown[] };
    assert.equal(found.rows.length, 1, "found by its whole address");
    await nextEventFlows();
  });

  it("relays a click whose link is 12 KB: stored, and sent to Customer.io whole", async () => {
    const id = deliveryId();
    const href = longLink(12 * 1024);
    const res = await svc.post("/api/v1/metrics", { delivery_id: id, metric: "clicked", href, timestamp: 1_700_000_000 });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    await waitFor("forwarded", () => fake.acceptedOn("/api/v1/metrics").find((r) => (r.body as { delivery_id: string }).delivery_id === id));
    const sent = fake.acceptedOn("/api/v1/metrics").find((r) => (r.body as { delivery_id: string }).delivery_id === id)!;
    assert.equal((sent.body as { href: string }).href, href);
    await nextEventFlows();
  });
});
