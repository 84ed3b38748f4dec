// How an App API message becomes events: which names map to which metric (and machine flag), the ids
// and times, and that replay (normalizeBackfill on the stored payload) gives the same event again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backfillPayload, channelOfType, messageMetrics, normalizeBackfill } from "../../src/events/backfill-event.js";
import type { JsonObject } from "../../src/events/event.js";

const T = 1_767_268_800;
const message = (metrics: Record<string, number>, extra: JsonObject = {}): JsonObject => ({
  id: "RPILAgABcRhIBqSp7kiPekGBIeVh",
  type: "email",
  created: T,
  customer_id: "42",
  customer_identifiers: { id: "42", email: "ada@example.com", cio_id: "d9c106000001" },
  recipient: "ada@example.com",
  subject: "Welcome",
  campaign_id: 12,
  action_id: 120,
  failure_message: null,
  metrics,
  ...extra,
});
const byName = (m: JsonObject) => Object.fromEntries(messageMetrics(m).map((x) => [x.appMetric, x]));

describe("App API metrics as events", () => {
  it("maps webhook names one to one, at their own times", () => {
    const found = byName(message({ sent: T, delivered: T + 5, converted: T + 90, bounced: T + 7 }));
    assert.deepEqual(Object.keys(found).sort(), ["bounced", "converted", "delivered", "sent"]);
    assert.deepEqual(found["delivered"], { appMetric: "delivered", metric: "delivered", machine: false, at: T + 5 });
  });

  it("human_opened is an open that is not a machine one; an opened at the same instant is that open", () => {
    const same = messageMetrics(message({ opened: T + 60, human_opened: T + 60 }));
    assert.deepEqual(same, [{ appMetric: "human_opened", metric: "opened", machine: false, at: T + 60 }]);
  });

  it("an opened before the first human open was a machine open; prefetch_opened stays in the payload", () => {
    const found = byName(message({ opened: T + 10, prefetch_opened: T + 10, human_opened: T + 60 }));
    assert.deepEqual(Object.keys(found).sort(), ["human_opened", "opened"]);
    assert.equal(found["opened"]!.machine, true);
    assert.equal(found["human_opened"]!.machine, false);
  });

  it("an opened that was the prefetch is a machine open; one Customer.io does not qualify is a human one", () => {
    assert.equal(byName(message({ opened: T + 10, prefetch_opened: T + 10 }))["opened"]!.machine, true);
    assert.equal(byName(message({ opened: T + 10 }, { type: "push" }))["opened"]!.machine, false);
  });

  it("clicks follow the same rule with human_clicked", () => {
    assert.equal(byName(message({ clicked: T + 5, human_clicked: T + 50 }))["clicked"]!.machine, true);
    assert.deepEqual(messageMetrics(message({ clicked: T + 5, human_clicked: T + 5 })).map((m) => m.appMetric), ["human_clicked"]);
  });

  it("a message with no metric we map still makes its delivery row, from one event at its created time", () => {
    assert.deepEqual(messageMetrics(message({ mystery_metric: T })), [{ appMetric: "message", metric: null, machine: false, at: T }]);
    assert.deepEqual(messageMetrics(message({})), [{ appMetric: "message", metric: null, machine: false, at: T }]);
  });

  it("ignores times that are not positive numbers", () => {
    assert.deepEqual(messageMetrics(message({ sent: 0, delivered: "soon" as unknown as number })).map((m) => m.appMetric), ["message"]);
  });

  it("twilio is SMS", () => {
    assert.equal(channelOfType("twilio"), "sms");
    assert.equal(channelOfType("in_app"), "in_app");
  });
});

describe("normalizeBackfill", () => {
  it("builds the event with our id, the metric's time and the message's attributes", () => {
    const m = message({ sent: T, bounced: T + 7, human_opened: T + 30 }, { failure_message: "550 5.1.1 no such user" });
    const e = normalizeBackfill(backfillPayload(m, "bounced"), 1_800_000_000_000);
    assert.equal(e.eventId, "backfill:RPILAgABcRhIBqSp7kiPekGBIeVh:bounced");
    assert.equal(e.source, "backfill");
    assert.equal(e.deliveryId, "RPILAgABcRhIBqSp7kiPekGBIeVh");
    assert.equal(e.metric, "bounced");
    assert.equal(e.occurredAt, (T + 7) * 1000);
    assert.equal(e.channel, "email");
    assert.equal(e.recipient, "ada@example.com");
    assert.equal(e.subject, "Welcome");
    assert.equal(e.customerId, "42");
    assert.equal(e.origin.campaignId, "12");
    assert.equal(e.origin.actionId, "120");
    assert.equal(e.failureMessage, "550 5.1.1 no such user");
    assert.equal(JSON.parse(e.identifiers!).email, "ada@example.com");
    assert.deepEqual(JSON.parse(e.payload), { app_metric: "bounced", message: m });

    const sent = normalizeBackfill(backfillPayload(m, "sent"));
    assert.equal(sent.failureMessage, null, "the failure message goes with failures only");
    const open = normalizeBackfill(backfillPayload(m, "human_opened"));
    assert.equal(open.metric, "opened");
    assert.equal(open.machine, false);
  });

  it("is a function of the payload: the same event on replay, whenever it runs", () => {
    const m = message({ sent: T, opened: T + 3, prefetch_opened: T + 3 }, { type: "twilio" });
    const [a, b] = [normalizeBackfill(backfillPayload(m, "opened"), 1), normalizeBackfill(JSON.parse(JSON.stringify(backfillPayload(m, "opened"))) as JsonObject, 2)];
    assert.deepEqual({ ...a, receivedAt: 0 }, { ...b, receivedAt: 0 });
    assert.equal(a.machine, true);
    assert.equal(a.channel, "sms");
  });

  it("bounds a long delivery id as every key is bounded", () => {
    const long = "x".repeat(300);
    const e = normalizeBackfill(backfillPayload(message({ sent: T }, { id: long }), "sent"));
    assert.match(e.deliveryId!, /^sha256:[0-9a-f]{64}$/);
    assert.match(e.eventId, /^sha256:[0-9a-f]{64}$/);
  });
});
