// Erasing a person: afterwards no table holds their address or ids (a full-text search of every row of
// every table), the funnel and the rollup keep their numbers, other people are untouched, the erasure
// record holds only keyed hashes, and an event for the person that arrives later is stored without
// personal data.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { erasePerson, seedOf } from "../../src/privacy/erase.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
const SECRET = "erasure-test-secret";
const person = { id: "erase-me-4711", email: "Erase.Me@example.com", cioId: "cio-erase-me-4711" };
const other = { id: "keep-me-4712", email: "keep.me@example.com", cioId: "cio-keep-me-4712" };
const personDeliveries = [deliveryId(), deliveryId(), deliveryId()];
const otherDelivery = deliveryId();

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, {
    ERASURE_SECRET: SECRET,
    REPORTER_ENABLED: "false", // calls stay in the outbox, unsent
    UNSUBSCRIBE_ATTRIBUTES: '{"newsletter": false}',
    CIO_SITE_ID: "site",
    CIO_API_KEY: "key",
    CIO_REGION: "us",
  });
  const t = 1_780_000_000;
  for (const [i, id] of personDeliveries.entries()) {
    for (const [k, metric] of ["sent", "delivered", "opened", "clicked"].entries()) {
      const extra = metric === "clicked" ? { href: `https://example.com/welcome?email=${encodeURIComponent(person.email)}&uid=${person.id}` } : {};
      assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric, deliveryId: id, person, timestamp: t + i * 100 + k, extra }))).status, 200);
    }
  }
  assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "bounced", deliveryId: personDeliveries[2]!, person, timestamp: t + 300, extra: { failure_message: `550 5.1.1 <${person.email}>: user unknown` } }))).status, 200);
  assert.equal((await svc.webhook(customerEvent("unsubscribed", { person, timestamp: t }))).status, 200);
  assert.equal((await svc.post("/api/v1/metrics", { delivery_id: personDeliveries[0], metric: "clicked", recipient: person.email, timestamp: t + 5 })).status, 200);
  const oneClick = await fetch(`${svc.url}/unsubscribe/${personDeliveries[1]}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  assert.equal(oneClick.status, 200);
  for (const metric of ["sent", "delivered", "opened"]) {
    assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric, deliveryId: otherDelivery, person: other, timestamp: t }))).status, 200);
  }
});
after(async () => {
  await svc.stop();
  await db.drop();
});

/** Every row of every table (partitions included) whose text holds `needle`, by table. */
async function findEverywhere(needle: string): Promise<Record<string, number>> {
  const tables = await db.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()");
  const found: Record<string, number> = {};
  for (const { name } of tables) {
    const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name}" t WHERE t::text ILIKE '%' || $1 || '%'`, [needle])) as [{ n: number }];
    if (n > 0) found[name] = n;
  }
  return found;
}

const funnel = async () => (await fetch(`${svc.adminUrl}/reports/api/funnel?from=2026-05-01&to=2026-05-31&group_by=day,channel`)).json();
const rollup = () => db.query("SELECT * FROM delivery_stats_daily ORDER BY day, channel, origin_type, origin_id, action_id");

describe("erasure", () => {
  it("changes nothing in a dry run, and says what it would change", async () => {
    assert.ok(Object.keys(await findEverywhere(person.email)).length >= 4, "the person is everywhere before");
    const dry = await erasePerson(db.pool, SECRET, seedOf({ kind: "email", value: "erase.me@EXAMPLE.com" }), { dryRun: true });
    assert.equal(dry.deliveries, 3);
    assert.deepEqual(dry.found, { emails: [person.email.toLowerCase()], customerIds: [person.id], cioIds: [person.cioId] });
    assert.ok(dry.changes["delivery_events"]! >= 15 && dry.changes["deliveries"] === 3 && dry.changes["person_subscriptions"] === 1, JSON.stringify(dry.changes));
    assert.ok(Object.keys(await findEverywhere(person.email)).length >= 4, "still everywhere after a dry run");
    assert.deepEqual(await db.query("SELECT 1 FROM erasures"), []);
  });

  it("leaves no trace of the person in any table, while every count stays and other people are untouched", async () => {
    const [funnelBefore, rollupBefore] = [await funnel(), await rollup()];
    const otherBefore = await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [otherDelivery]);
    const result = await erasePerson(db.pool, SECRET, seedOf({ kind: "email", value: person.email }));
    assert.equal(result.changes["outbox"]! >= 2, true, `unsent calls dropped: ${JSON.stringify(result.changes)}`);
    for (const needle of [person.email, person.email.toLowerCase(), person.id, person.cioId, "Erase.Me%40example.com"]) {
      assert.deepEqual(await findEverywhere(needle), {}, `nothing holds ${needle}`);
    }
    assert.deepEqual(await funnel(), funnelBefore, "the funnel keeps its numbers");
    assert.deepEqual(await rollup(), rollupBefore, "the rollup keeps its numbers");
    assert.deepEqual(await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [otherDelivery]), otherBefore, "another person's delivery is untouched");
    const [row] = await db.query<{ status: string; event_count: number; failure_reason: string | null }>("SELECT status, event_count, failure_reason FROM deliveries WHERE delivery_id = $1", [personDeliveries[2]]);
    assert.deepEqual(row, { status: "bounced", event_count: 5, failure_reason: "550 5.1.1 <address>: user unknown" });
    const records = await db.query<{ subject_hash: string; identifier_kind: string }>("SELECT subject_hash, identifier_kind FROM erasures ORDER BY identifier_kind");
    assert.deepEqual(records.map((r) => r.identifier_kind), ["cio_id", "customer_id", "email"]);
    assert.ok(records.every((r) => /^[0-9a-f]{64}$/.test(r.subject_hash)), "keyed hashes only");
  });

  it("stores an event for the person that arrives later without personal data", async () => {
    await svc.service.erasures.refresh();
    const late = messageEvent({ objectType: "email", metric: "opened", deliveryId: personDeliveries[0]!, person, timestamp: 1_780_001_000 });
    assert.equal((await svc.webhook(late)).status, 200);
    const [stored] = await db.query<{ payload: { erased: boolean }; identifiers: unknown }>("SELECT payload, identifiers FROM delivery_events WHERE event_id = $1", [late["event_id"]]);
    assert.equal(stored?.payload.erased, true);
    assert.equal(stored?.identifiers, null);
    for (const needle of [person.email, person.id, person.cioId]) assert.deepEqual(await findEverywhere(needle), {}, `still nothing holds ${needle}`);
    assert.equal((await db.query("SELECT opens_human FROM deliveries WHERE delivery_id = $1", [personDeliveries[0]]))[0]?.["opens_human"], 2, "and it still counts");
  });

  it("runs as `npm run erase`, which explains itself and refuses a wrong call with exit 64", async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/erase.ts", ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url, CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY, ERASURE_SECRET: SECRET } });
    assert.match((await run("--help")).stdout, /Usage: npm run erase -- \(--email <address> \| --customer-id <id> \| --cio-id <id>\) \[--dry-run\]/);
    const dry = await run("--customer-id", other.id, "--dry-run");
    assert.match(dry.stdout, /Dry run \(nothing changed\): would erase a person with 1 email address\(es\), 1 customer id\(s\), 1 cio_id\(s\), 1 deliveries/);
    assert.match(dry.stdout, /deliveries\s+1 row\(s\)/);
    for (const args of [["--email", "a@b.c", "--cio-id", "x"], ["--nope"], []]) {
      await assert.rejects(run(...args), (e: { code: number; stderr: string }) => e.code === 64 && /Usage: npm run erase/.test(e.stderr), args.join(" "));
    }
  });
});
