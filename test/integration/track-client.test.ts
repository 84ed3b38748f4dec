// The Track API client against the fake Customer.io: every call's path, method, auth and body, and
// how failures are classified.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { createLogger } from "../../src/core/logger.js";
import { TrackClient, TrackError, parseRetryAfter } from "../../src/reporter/track-client.js";

let fake: FakeCustomerIo;
let client: TrackClient;
const log = createLogger("silent");

before(async () => {
  fake = await FakeCustomerIo.start({ siteId: "site", apiKey: "key" });
  client = new TrackClient({ siteId: "site", apiKey: "key", region: "us", baseUrl: fake.url, timeoutMs: 500, connections: 4, log });
});
after(async () => {
  await client.close();
  await fake.close();
});

const last = () => fake.accepted[fake.accepted.length - 1]!;

describe("Track API client", () => {
  it("makes every documented call the way the fake (the documented contract) accepts", async () => {
    const calls: Array<[() => Promise<unknown>, string, string, boolean]> = [
      [() => client.getRegion(), "GET", "/api/v1/accounts/region", true],
      [() => client.reportMetric({ delivery_id: "d1", metric: "clicked", timestamp: 1700000000, href: "https://x" }), "POST", "/api/v1/metrics", false],
      [() => client.trackPush({ delivery_id: "d1", event: "opened", device_id: "tok", timestamp: 1700000000 }), "POST", "/push/events", false],
      [() => client.trackPush({ delivery_id: "d1", event: "opened", device_id: "tok" }, "/api/v1/push/events"), "POST", "/api/v1/push/events", false],
      [() => client.unsubscribe("d/1=", true), "POST", "/unsubscribe/d%2F1%3D", false],
      [() => client.entity({ type: "delivery", action: "event", identifiers: { id: "d1" }, name: "opened" }), "POST", "/api/v2/entity", true],
      [() => client.batch([{ type: "delivery", action: "event", identifiers: { id: "d1" }, name: "delivered" }]), "POST", "/api/v2/batch", true],
      [() => client.identify("42", { newsletter: false }), "PUT", "/api/v1/customers/42", true],
      [() => client.deleteCustomer("42"), "DELETE", "/api/v1/customers/42", true],
      [() => client.trackEvent("42", { name: "purchase", data: { price: 1 } }), "POST", "/api/v1/customers/42/events", true],
      [() => client.trackAnonymousEvent({ name: "visit", anonymous_id: "a1" }), "POST", "/api/v1/events", true],
      [() => client.addDevice("42", { id: "tok", platform: "ios" }), "PUT", "/api/v1/customers/42/devices", true],
      [() => client.deleteDevice("42", "tok"), "DELETE", "/api/v1/customers/42/devices/tok", true],
      [() => client.suppress("42"), "POST", "/api/v1/customers/42/suppress", true],
      [() => client.unsuppress("42"), "POST", "/api/v1/customers/42/unsuppress", true],
      [() => client.addToSegment(7, ["42"], "id"), "POST", "/api/v1/segments/7/add_customers", true],
      [() => client.removeFromSegment(7, ["42"]), "POST", "/api/v1/segments/7/remove_customers", true],
      [() => client.submitForm("signup", { email: "a@b.c" }), "POST", "/api/v1/forms/signup/submit", true],
      [() => client.mergeCustomers({ id: "1" }, { email: "a@b.c" }), "POST", "/api/v1/merge_customers", true],
    ];
    for (const [call, method, path, basic] of calls) {
      const before = fake.accepted.length;
      await call();
      assert.equal(fake.accepted.length, before + 1, `${method} ${path} accepted`);
      assert.equal(last().method, method);
      assert.equal(last().path, path);
      assert.deepEqual(last().auth, basic ? { user: "site", password: "key" } : null, `${path} auth`);
    }
    assert.deepEqual(fake.acceptedOn("/api/v1/metrics")[0]!.body, { delivery_id: "d1", metric: "clicked", timestamp: 1700000000, href: "https://x" });
    assert.deepEqual(fake.acceptedOn(/^\/unsubscribe\//)[0]!.body, { unsubscribe: true });
    assert.equal(fake.acceptedOn(/^\/unsubscribe\//)[0]!.contentType, "application/json");
  });

  it("returns the per-item errors of a 207 batch", async () => {
    const errors = await client.batch([
      { type: "delivery", action: "event", identifiers: { id: "d1" }, name: "opened" },
      { type: "delivery", action: "event", identifiers: { id: "d2" }, name: "bounced" },
    ]);
    assert.deepEqual(errors.map((e) => e.batch_index), [1]);
  });

  it("classifies failures: 408/429/5xx/network/timeout retryable, 400/401/404 permanent", async () => {
    const outcome = async () => {
      try {
        await client.reportMetric({ delivery_id: "d1", metric: "opened" });
        return "ok";
      } catch (err) {
        assert.ok(err instanceof TrackError);
        return `${err.retryable ? "retry" : "permanent"}:${err.status ?? "-"}${err.retryAfterMs !== undefined ? `:${err.retryAfterMs}` : ""}`;
      }
    };
    const cases: Array<[Parameters<FakeCustomerIo["fail"]>[0], string]> = [
      [{ status: 400 }, "permanent:400"],
      [{ status: 401 }, "permanent:401"],
      [{ status: 404 }, "permanent:404"],
      [{ status: 408 }, "retry:408"],
      [{ status: 429 }, "retry:429"],
      [{ status: 429, retryAfter: 2 }, "retry:429:2000"],
      [{ status: 500 }, "retry:500"],
      [{ status: 503, retryAfter: 9999 }, "retry:503:300000"],
      [{ reset: true }, "retry:-"],
      [{ hang: true }, "retry:-"],
    ];
    for (const [fault, expected] of cases) {
      fake.fail(fault);
      assert.equal(await outcome(), expected, JSON.stringify(fault));
    }
    assert.equal(await outcome(), "ok", "recovers after the faults");
  });

  it("refuses calls that need credentials when none are configured", async () => {
    const anonymous = new TrackClient({ region: "us", baseUrl: fake.url, timeoutMs: 500, connections: 1, log });
    await assert.rejects(anonymous.identify("42", {}), (err: TrackError) => !err.retryable && /CIO_SITE_ID/.test(err.message));
    await anonymous.reportMetric({ delivery_id: "d1", metric: "opened" });
    await anonymous.close();
  });

  it("asks for the region again after a failed lookup, instead of guessing the US host for good", async () => {
    const us = await FakeCustomerIo.start({ siteId: "site", apiKey: "key", region: "eu" });
    const eu = await FakeCustomerIo.start({ siteId: "site", apiKey: "key", region: "eu" });
    const auto = new TrackClient({ siteId: "site", apiKey: "key", region: "auto", regionHosts: { us: us.url, eu: eu.url }, timeoutMs: 500, connections: 1, log });
    try {
      us.fail({ status: 503 }, 1, "/api/v1/accounts/region");
      await assert.rejects(auto.reportMetric({ delivery_id: "d1", metric: "opened" }), (e: TrackError) => e.retryable && /region lookup failed/.test(e.message));
      assert.equal(us.acceptedOn("/api/v1/metrics").length + eu.acceptedOn("/api/v1/metrics").length, 0, "nothing sent to a guessed region");
      await auto.reportMetric({ delivery_id: "d1", metric: "opened" }); // looks up again: EU
      await auto.reportMetric({ delivery_id: "d2", metric: "opened" }); // the region is kept now
      assert.deepEqual(eu.acceptedOn("/api/v1/metrics").map((r) => (r.body as { delivery_id: string }).delivery_id), ["d1", "d2"]);
      assert.equal(us.log.filter((r) => r.path === "/api/v1/accounts/region").length, 2, "one failed lookup, one that worked, then none");
    } finally {
      await auto.close();
      await us.close();
      await eu.close();
    }
  });

  it("parses Retry-After as seconds or a date, capped at 300 s", () => {
    assert.equal(parseRetryAfter("3"), 3000);
    assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(parseRetryAfter("100000"), 300_000);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
