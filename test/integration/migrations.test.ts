// Migrations that compute in SQL what ingestion computes in TypeScript must agree with it on the rows
// that existed before them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PERSON_KEY_SQL } from "../../migrations/1796288232807-EventPersonKey.js";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

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

describe("EventPersonKey migration", () => {
  it("gives events stored before it the person_key that ingestion gives them", async () => {
    const long = "x".repeat(300);
    const shapes: Array<Record<string, unknown>> = [
      customerEvent("subscribed"),
      customerEvent("unsubscribed", { person: { id: "7", email: "a@example.com", cioId: "" } }),
      customerEvent("unsubscribed", { person: { id: long, email: "b@example.com", cioId: "" } }),
      customerEvent("cio_subscription_preferences_changed", { person: { id: "", email: `${long}@example.com`, cioId: "" } }),
      { ...customerEvent("subscribed"), data: { customer_id: 1234, identifiers: { cio_id: 99 } } },
      { ...customerEvent("subscribed"), data: { email_address: "only@example.com" } },
      { ...customerEvent("subscribed"), data: { identifiers: { email: "ids@example.com", id: null } } },
      { ...customerEvent("subscribed"), data: { customer_id: "", identifiers: { cio_id: { nested: true }, id: "8" } } },
      { ...customerEvent("subscribed"), data: {} },
      messageEvent({ objectType: "email", metric: "unsubscribed", deliveryId: deliveryId() }),
      messageEvent({ objectType: "email", metric: "opened", deliveryId: deliveryId() }),
    ];
    for (const e of shapes) assert.equal((await svc.webhook(e)).status, 200);
    const ingested = await db.query<{ event_id: string; person_key: string | null }>("SELECT event_id, person_key FROM delivery_events ORDER BY event_id");
    assert.ok(ingested.filter((r) => r.person_key !== null).length >= 8, "most shapes have a person");

    await db.query("UPDATE delivery_events SET person_key = NULL");
    await db.query(`UPDATE delivery_events SET person_key = ${PERSON_KEY_SQL} WHERE metric IN ('subscribed', 'unsubscribed', 'cio_subscription_preferences_changed') AND NOT payload ? 'quarantined'`);
    assert.deepEqual(await db.query("SELECT event_id, person_key FROM delivery_events ORDER BY event_id"), ingested);
  });
});
