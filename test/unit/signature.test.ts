import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { timingSafeEqual } from "node:crypto";
import { constantTimeEqual, sign, verifySignature } from "../../src/webhooks/signature.js";

const vector = { key: "abcd", timestamp: "1536353830", body: '{"hello": "world"}' };
const expected = "2380722c30fe151144a151cbbf6b5a207291314d78582594cb18bcdb66098d5c";
const opts = (keys: string[], toleranceSeconds = 0, nowSeconds?: number) => ({ keys, toleranceSeconds, nowSeconds });

describe("webhook signature", () => {
  it("matches Customer.io's official test vector", () => {
    assert.equal(sign(vector.key, vector.timestamp, Buffer.from(vector.body)), expected);
    assert.deepEqual(verifySignature(expected, vector.timestamp, Buffer.from(vector.body), opts(["abcd"])), { ok: true });
  });

  it("accepts the signature in uppercase hex too", () => {
    assert.equal(verifySignature(expected.toUpperCase(), vector.timestamp, Buffer.from(vector.body), opts(["abcd"])).ok, true);
  });

  it("rejects a wrong key, a changed body, and a changed timestamp", () => {
    const check = (sig: string, ts: string, body: string) => verifySignature(sig, ts, Buffer.from(body), opts(["wrong"]));
    assert.deepEqual(check(expected, vector.timestamp, vector.body), {
      ok: false,
      reason: "signature_mismatch",
      message: "X-CIO-Signature does not match any configured signing key",
    });
    const right = opts(["abcd"]);
    assert.equal(verifySignature(expected, vector.timestamp, Buffer.from('{"hello":"world"}'), right).ok, false);
    assert.equal(verifySignature(expected, "1536353831", Buffer.from(vector.body), right).ok, false);
  });

  it("accepts any one of several keys (rotation)", () => {
    assert.equal(verifySignature(expected, vector.timestamp, Buffer.from(vector.body), opts(["old-key", "abcd"])).ok, true);
    assert.equal(verifySignature(expected, vector.timestamp, Buffer.from(vector.body), opts(["abcd", "new-key"])).ok, true);
  });

  it("names what is missing or malformed", () => {
    const body = Buffer.from(vector.body);
    const reason = (sig?: string, ts?: string) => {
      const r = verifySignature(sig, ts, body, opts(["abcd"]));
      return r.ok ? "ok" : r.reason;
    };
    assert.equal(reason(undefined, vector.timestamp), "missing_signature");
    assert.equal(reason(expected, undefined), "missing_timestamp");
    assert.equal(reason(expected, "12a"), "malformed_timestamp");
    assert.equal(reason("zz", vector.timestamp), "malformed_signature");
    assert.equal(reason(expected.slice(2), vector.timestamp), "malformed_signature");
  });

  it("compares in constant time: fixed-length buffers, every key, no early exit", () => {
    assert.equal(constantTimeEqual, timingSafeEqual, "the default comparison is crypto.timingSafeEqual");
    const calls: Array<[number, number]> = [];
    const equal = (a: Buffer, b: Buffer) => {
      calls.push([a.length, b.length]);
      return timingSafeEqual(a, b);
    };
    const body = Buffer.from(vector.body);
    const result = verifySignature(expected, vector.timestamp, body, { keys: ["abcd", "k2", "k3"], toleranceSeconds: 0, equal });
    assert.equal(result.ok, true);
    assert.deepEqual(calls, [[32, 32], [32, 32], [32, 32]], "all three keys compared although the first matched");
    calls.length = 0;
    verifySignature("ab".repeat(31), vector.timestamp, body, { keys: ["abcd"], toleranceSeconds: 0, equal });
    assert.deepEqual(calls, [], "a wrong-length signature is refused before any comparison");
  });

  it("rejects a stale timestamp only when the tolerance is on", () => {
    const body = Buffer.from(vector.body);
    const now = 1536353830 + 3600;
    assert.equal(verifySignature(expected, vector.timestamp, body, opts(["abcd"], 0, now)).ok, true);
    assert.equal(verifySignature(expected, vector.timestamp, body, opts(["abcd"], 3600, now)).ok, true);
    const stale = verifySignature(expected, vector.timestamp, body, opts(["abcd"], 3599, now));
    assert.equal(stale.ok ? "ok" : stale.reason, "stale_timestamp");
  });
});
