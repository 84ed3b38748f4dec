import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prepareCalls } from "../../src/reporter/pipelines-body.js";

const AT = Date.parse("2026-11-14T12:00:00.000Z");

describe("Data Pipelines request bodies", () => {
  it("folds a batch's shared context, integrations and sentAt into each call, the call's own keys winning", () => {
    const prepared = prepareCalls(
      "batch",
      {
        batch: [
          { type: "track", event: "A", userId: "p", messageId: "m1", context: { ip: "1.2.3.4" } },
          { type: "identify", userId: "p", messageId: "m2", integrations: { All: false } },
        ],
        context: { ip: "9.9.9.9", locale: "fr-FR" },
        integrations: { All: true },
        sentAt: "2026-11-14T11:59:59.000Z",
        writeKey: "secret",
      },
      "wk_x",
      AT,
    );
    assert.ok(prepared.ok);
    assert.deepEqual(prepared.calls.map((c) => c.call), [
      { type: "track", event: "A", userId: "p", messageId: "m1", context: { ip: "1.2.3.4", locale: "fr-FR" }, integrations: { All: true }, sentAt: "2026-11-14T11:59:59.000Z", timestamp: "2026-11-14T12:00:00.000Z" },
      { type: "identify", userId: "p", messageId: "m2", context: { ip: "9.9.9.9", locale: "fr-FR" }, integrations: { All: false }, sentAt: "2026-11-14T11:59:59.000Z", timestamp: "2026-11-14T12:00:00.000Z" },
    ]);
  });

  it("gives a dated call without messageId the same id each time, per write key, and an undated one a new id", () => {
    const call = { userId: "p", event: "E", timestamp: "2026-11-01T00:00:00Z" };
    const id = (source: string, body: object) => {
      const p = prepareCalls("track", body, source, AT);
      assert.ok(p.ok);
      return p.calls[0]!.messageId;
    };
    assert.equal(id("wk_a", call), id("wk_a", { ...call }));
    assert.notEqual(id("wk_a", call), id("wk_b", call));
    assert.notEqual(id("wk_a", { userId: "p", event: "E" }), id("wk_a", { userId: "p", event: "E" }));
  });

  it("drops a writeKey from a single call and marks a Report Delivery Event as a delivery metric", () => {
    const p = prepareCalls("track", { writeKey: "secret", anonymousId: "d", event: "Report Delivery Event", properties: { deliveryId: "x", metric: "opened" } }, "wk_a", AT);
    assert.ok(p.ok);
    assert.equal(p.calls[0]!.delivery, true);
    assert.equal(JSON.stringify(p.calls[0]!.call).includes("secret"), false);
  });

  it("refuses a body nested deeper than 32 levels without walking it all", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const p = prepareCalls("track", { userId: "p", event: "E", properties: deep }, "wk_a", AT);
    assert.deepEqual(p, { ok: false, status: 400, errors: ["body is nested deeper than 32 levels"] });
  });
});
