import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { replayProjections } from "../../src/events/replay.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
const ids = [deliveryId(), deliveryId(), deliveryId()];

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url);
  const t = 1_700_000_000;
  const events = [
    ...["sent", "delivered", "opened", "opened", "clicked"].map((metric, i) => messageEvent({ objectType: "email", metric, deliveryId: ids[0]!, timestamp: t + i })),
    ...["sent", "bounced"].map((metric, i) => messageEvent({ objectType: "email", metric, deliveryId: ids[1]!, timestamp: t + i })),
    ...["sent", "delivered"].map((metric, i) => messageEvent({ objectType: "sms", metric, deliveryId: ids[2]!, timestamp: t + i })),
    customerEvent("unsubscribed", { timestamp: t }),
    { object_type: "email", metric: "sent", timestamp: t, data: { delivery_id: ids[2] } }, // no event_id: derived
  ];
  for (const e of events) assert.equal((await svc.webhook(e)).status, 200);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

const snapshot = async () => ({
  deliveries: await db.query("SELECT * FROM deliveries ORDER BY delivery_id"),
  people: await db.query("SELECT * FROM person_subscriptions ORDER BY person_key"),
});
const withoutUpdatedAt = (s: Awaited<ReturnType<typeof snapshot>>) =>
  JSON.parse(JSON.stringify(s, (k, v: unknown) => (k === "updated_at" ? undefined : v))) as unknown;

describe("replay", () => {
  it("rebuilds exactly the rows ingestion built, and reports no change", async () => {
    const before = await snapshot();
    const report = await replayProjections(db.pool);
    assert.equal(report.events, 11);
    assert.deepEqual(report.deliveries, { before: 3, after: 3, added: 0, removed: 0, changed: 0, columns: {} });
    assert.deepEqual(report.people, { before: 1, after: 1, added: 0, removed: 0, changed: 0, columns: {} });
    assert.deepEqual(withoutUpdatedAt(await snapshot()), withoutUpdatedAt(before));
  });

  it("repairs damaged or missing rows and says which columns changed", async () => {
    const good = withoutUpdatedAt(await snapshot());
    await db.query("UPDATE deliveries SET webhook_opens_human = 99, opened_at = NULL WHERE delivery_id = $1", [ids[0]]);
    await db.query("DELETE FROM deliveries WHERE delivery_id = $1", [ids[1]]);
    await db.query("INSERT INTO deliveries (delivery_id, first_event_at, last_event_at) VALUES ('ghost', now(), now())");

    const dry = await replayProjections(db.pool, { dryRun: true });
    assert.equal(dry.deliveries.changed, 1);
    assert.equal((await db.query("SELECT opens_human FROM deliveries WHERE delivery_id = $1", [ids[0]]))[0]?.["opens_human"], 99, "a dry run commits nothing");

    const report = await replayProjections(db.pool, { chunkSize: 2 });
    assert.deepEqual(report.deliveries, {
      before: 3,
      after: 3,
      added: 1,
      removed: 1,
      changed: 1,
      columns: { opened_at: 1, opens_human: 1, webhook_opens_human: 1 },
    });
    assert.deepEqual(withoutUpdatedAt(await snapshot()), good);
  });

  it("runs as `npm run replay` against DATABASE_URL", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/replay.ts", "--dry-run"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.url },
    });
    assert.match(stdout, /Dry run \(nothing committed\): 11 events/);
    assert.match(stdout, /deliveries: 3 -> 3 rows; 0 added, 0 removed, 0 changed/);
  });
});
