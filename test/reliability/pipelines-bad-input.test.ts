// Bad input on the Data Pipelines relay, with a valid write key, so that every body reaches validation
// and storage: calls shaped like the SDKs' with nasty values in every field (NUL, lone surrogates, huge
// numbers, wrong types, deep nesting, long strings), and odd write keys. Never a 5xx: a 200 (stored), a
// 4xx naming the problem; and the relay keeps serving.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
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

const AUTH = `Basic ${Buffer.from("wk-fuzz:").toString("base64")}`;
const nasty = fc.oneof(
  fc.constantFrom("\u0000", "\ud800", "x\udfff", "𝄞", "", " ", "1e400", "NaN", "2026-13-45T99:00:00Z", "2026-11-14T09:30:00Z", "Report Delivery Event", "track", "opened"),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, 2 ** 63, -1, 0, null, true),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 40 }).map((n) => "z".repeat(n * 1000)),
);
/** Mostly a valid value (strings holding NUL, lone surrogates, astral characters included), sometimes a nasty one. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 30 }, { arbitrary: nasty, weight: 1 });
const text = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom("a\u0000b", "x\ud800y", "\udfff", "𝄞", "=+/_-", "é".repeat(200)));
const iso = fc.date({ min: new Date("1970-01-02T00:00:00Z"), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
const call = fc.record(
  {
    type: mostly(fc.constantFrom("track", "identify", "page", "screen", "group", "alias")),
    event: mostly(fc.oneof(fc.constant("Report Delivery Event"), text)),
    userId: mostly(text),
    anonymousId: mostly(text),
    previousId: mostly(text),
    groupId: mostly(text),
    messageId: mostly(text),
    timestamp: mostly(iso),
    sentAt: mostly(iso),
    properties: mostly(fc.record({ deliveryId: mostly(text), metric: mostly(fc.oneof(fc.constantFrom("delivered", "opened", "clicked", "converted"), text)), recipient: mostly(text), extra: fc.jsonValue({ maxDepth: 4 }) }, { requiredKeys: [] })),
    traits: mostly(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 })),
    context: mostly(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 })),
    integrations: mostly(fc.dictionary(text, fc.boolean(), { maxKeys: 3 })),
    writeKey: nasty,
  },
  { requiredKeys: ["type"] },
);
const body = fc.oneof(
  { arbitrary: call, weight: 2 },
  { arbitrary: fc.record({ batch: mostly(fc.array(call, { minLength: 1, maxLength: 4 })), context: mostly(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 })), sentAt: mostly(iso) }, { requiredKeys: ["batch"] }), weight: 5 },
  { arbitrary: nasty, weight: 1 },
);
// JSON.stringify escapes lone surrogates; undo it, so they reach the server as the raw escapes a client could send.
const toBytes = (v: unknown) => (JSON.stringify(v) ?? "null").replaceAll("\\\\u", "\\u");

describe("bad input on the Data Pipelines relay", () => {
  it("never answers 5xx, whatever the calls hold, and keeps serving", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/v1/batch", "/v1/batch", "/v1/batch", "/v1/track", "/v1/identify", "/v1/alias"), body, async (path, b) => {
        const res = await fetch(`${svc.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: AUTH }, body: toBytes(b) });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        assert.ok([200, 400, 413].includes(res.status), `${res.status} for ${path} ${toBytes(b).slice(0, 300)}: ${text.slice(0, 300)}`);
      }),
      { numRuns: 1000, seed: 20261203 },
    );
    assert.ok((seen.get(200) ?? 0) > 20, `some calls were stored: ${JSON.stringify([...seen])}`);
    assert.ok((seen.get(400) ?? 0) > 20, `some were refused: ${JSON.stringify([...seen])}`);

    const keys = ["\u0000", "a b", "é", "k".repeat(300), "Basic"];
    for (const key of keys) {
      const res = await fetch(`${svc.url}/v1/track`, { method: "POST", headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` }, body: '{"userId":"p","event":"E"}' });
      await res.arrayBuffer();
      assert.equal(res.status, key === "Basic" ? 200 : 401, JSON.stringify(key));
    }
    const ok = await fetch(`${svc.url}/v1/track`, { method: "POST", headers: { authorization: AUTH }, body: '{"userId":"p","event":"Still here"}' });
    assert.equal(ok.status, 200);
  });
});
