import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { derivedEventId, jsonbSafe, normalizeEvent, type JsonObject } from "../../src/events/event.js";

const norm = (event: unknown, raw = JSON.stringify(event)) => normalizeEvent(event as JsonObject, raw, "webhook", 1_700_000_000_000);

describe("normalizing an event", () => {
  it("maps the documented fields of a message event", () => {
    const e = norm({
      event_id: "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
      object_type: "email",
      metric: "clicked",
      timestamp: 1613063089,
      data: { delivery_id: "RPIL=_-", campaign_id: 12, action_id: "42", journey_id: 77, identifiers: { id: "42" }, customer_id: "", href: "https://x", link_id: 3, machine: true, recipient: "a@b.c" },
    });
    assert.equal(e.eventId, "01E4C4CT6YDC7Y5M7FE1GWWPQJ");
    assert.equal(e.deliveryId, "RPIL=_-");
    assert.equal(e.occurredAt, 1613063089000);
    assert.equal(e.channel, "email");
    assert.equal(e.origin.campaignId, "12");
    assert.equal(e.origin.actionId, "42");
    assert.equal(e.origin.journeyId, "77", "a numeric journey_id (one official example) is kept as text");
    assert.equal(e.customerId, null, "a blank customer_id (deleted person) is null");
    assert.equal(e.linkId, "3");
    assert.equal(e.machine, true);
    assert.equal(e.identifiers, '{"id":"42"}');
  });

  it("derives a stable id from the bytes when event_id is missing", () => {
    const raw = '{"metric":"sent","data":{}}';
    const a = normalizeEvent(JSON.parse(raw), raw, "webhook");
    const b = normalizeEvent(JSON.parse(raw), raw, "webhook");
    assert.equal(a.eventId, b.eventId);
    assert.equal(a.eventId, derivedEventId(raw));
    assert.notEqual(a.eventId, normalizeEvent(JSON.parse(raw), `${raw} `, "webhook").eventId);
  });

  it("never throws on odd shapes and keeps what it cannot map in the payload", () => {
    for (const odd of [{}, { data: [] }, { data: "x" }, { metric: 5, object_type: null, timestamp: "soon", data: { identifiers: "x", recipients: "y", campaign_id: "abc", delivery_id: { a: 1 } } }]) {
      const e = norm(odd);
      assert.equal(e.payload, JSON.stringify(odd));
      assert.equal(e.occurredAt, 1_700_000_000_000, "no usable timestamp: the receive time");
      assert.equal(e.origin.campaignId, null);
      assert.equal(e.deliveryId, null);
    }
  });

  it("keeps ids too long to index as their hash, the same for the same id", () => {
    const e = norm({ event_id: "x".repeat(300), data: { delivery_id: "d".repeat(3000), customer_id: "c".repeat(400) }, metric: "subscribed" });
    assert.match(e.eventId, /^sha256:[0-9a-f]{64}$/);
    assert.match(e.deliveryId!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(norm({ event_id: "y", data: { delivery_id: "d".repeat(3000) } }).deliveryId, e.deliveryId, "events of one long delivery id meet on one row");
    assert.match(e.personKey!, /^id:sha256:/);
    assert.equal(e.customerId, "c".repeat(400), "columns without a btree index keep the value");
    assert.equal(norm({ event_id: "short", data: { delivery_id: "d".repeat(256) } }).deliveryId, "d".repeat(256));
  });

  it("keeps a link too long to index as its start and hash; the payload keeps it whole", () => {
    const long = `https://example.com/track?${"q=é&".repeat(3000)}`;
    const e = norm({ event_id: "c", metric: "clicked", data: { href: long } });
    assert.ok(Buffer.byteLength(e.href!) < 1000, `bounded: ${Buffer.byteLength(e.href!)} bytes`);
    assert.match(e.href!, /^https:\/\/example\.com\/track\?q=é&.*…\[sha256:[0-9a-f]{64}\]$/);
    assert.notEqual(norm({ event_id: "d", metric: "clicked", data: { href: `${long}x` } }).href, e.href, "two long links never share a key");
    assert.equal((JSON.parse(e.payload) as { data: { href: string } }).data.href, long);
    const short = "https://example.com/a?b=c";
    assert.equal(norm({ event_id: "e", metric: "clicked", data: { href: short } }).href, short);
  });

  it("makes NUL characters and lone surrogates safe for jsonb and text", () => {
    const raw = '{"event_id":"a","metric":"sent\\u0000","data":{"subject":"x\\ud800y"}}';
    const e = normalizeEvent(JSON.parse(raw) as JsonObject, raw, "webhook");
    assert.equal(e.metric, "sent\uFFFD");
    assert.doesNotMatch(e.payload, /\\u0000|\\ud800/i);
    assert.equal((JSON.parse(e.payload) as { data: { subject: string } }).data.subject, "x\uFFFDy");
    assert.equal(jsonbSafe('{"a":"plain"}', { a: "plain" }), '{"a":"plain"}', "clean JSON is stored byte for byte");
  });

  it("joins push recipients' device ids and reads subscription preferences", () => {
    assert.equal(norm({ object_type: "push", data: { recipients: [{ device_id: "d1" }, { device_id: "d2" }] } }).recipient, "d1,d2");
    const pref = norm({ object_type: "customer", metric: "cio_subscription_preferences_changed", data: { identifiers: { cio_id: "c1" }, content: '{"news":false}' } });
    assert.equal(pref.preferences, '{"news":false}');
    assert.equal(pref.personKey, "cio_id:c1");
    assert.equal(norm({ object_type: "email", metric: "opened", data: { prefetched: true } }).machine, true);
    assert.equal(norm({ object_type: "email", metric: "opened", data: { proxied: true } }).machine, false, "a proxied open is a human open");
  });
});
