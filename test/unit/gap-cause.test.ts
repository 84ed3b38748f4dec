// What reconciliation says a gap most likely comes from, by the gap's shape.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { likelyCause, type GapFacts } from "../../src/backfill/gap-cause.js";

const H = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 0, 0);

/** 48 hours of 100 messages each; `missing(hour)` of them without a delivery row. */
function facts(missing: (hour: number) => number, metrics: { missing?: Record<string, number>; present?: Record<string, number> } = {}, lastWebhookAt: number | null = T0 - H): GapFacts {
  const hours = new Map<number, { messages: number; missing: number }>();
  let deliveriesMissing = 0;
  for (let h = 0; h < 48; h++) {
    hours.set(T0 + h * H, { messages: 100, missing: missing(h) });
    deliveriesMissing += missing(h);
  }
  return { messagesRead: 4800, deliveriesMissing, hours, missingInKnown: metrics.missing ?? {}, presentInKnown: metrics.present ?? { sent: 4800 - deliveriesMissing }, lastWebhookAt };
}

describe("the likely cause of a gap", () => {
  it("nearly every delivery missing: the webhook is off or points elsewhere", () => {
    const cause = likelyCause(facts(() => 97));
    assert.match(cause, /^no webhook arrived for nearly any of these messages: the reporting webhook is most likely off, disabled, or pointing at another URL/);
    assert.match(cause, /the last reporting webhook arrived 2026-11-30 23:00 UTC$/);
    assert.match(likelyCause(facts(() => 100, {}, null)), /no reporting webhook has arrived yet$/);
  });

  it("deliveries missing in some hours only: an outage, with its hours", () => {
    const cause = likelyCause(facts((h) => (h >= 10 && h < 16 ? 100 : h === 30 ? 1 : 0)));
    assert.match(cause, /^an outage: no webhooks arrived for messages sent from 2026-12-01 10:00 to 2026-12-01 16:00 UTC, while those before and after arrived/);
  });

  it("one metric missing for every known delivery while others arrive: events not ticked", () => {
    const cause = likelyCause(facts(() => 0, { missing: { opened: 1500, clicked: 3 }, present: { sent: 4800, delivered: 4700, clicked: 300 } }));
    assert.match(cause, /^some events are not ticked in the reporting webhook's settings: opened never arrive while clicked, delivered, sent do/);
  });

  it("an outage and unticked events together are both named", () => {
    const cause = likelyCause(facts((h) => (h < 4 ? 100 : 0), { missing: { opened: 1400 }, present: { sent: 4400, delivered: 4300 } }));
    assert.match(cause, /^an outage: .*; some events are not ticked.*: opened never arrive/);
  });

  it("a few of everything: lost here and there, with where to look", () => {
    const cause = likelyCause(facts((h) => (h % 7 === 0 ? 2 : 0), { missing: { opened: 20 }, present: { sent: 4700, opened: 1500 } }));
    assert.match(cause, /^webhooks were lost here and there, with no pattern in time or by metric: look for answers other than 200/);
  });
});
