// Label values stay few whatever the traffic: ids in Customer.io paths become placeholders, and values
// from outside (object types, metrics) are kept to short tokens.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpointLabel } from "../../src/core/metrics.js";

describe("metric labels", () => {
  it("replace the ids in Customer.io paths, and drop the query string", () => {
    assert.equal(endpointLabel("POST", "/unsubscribe/dGhlIGRlbGl2ZXJ5"), "POST /unsubscribe/{id}");
    assert.equal(endpointLabel("PUT", "/api/v1/customers/person%2042"), "PUT /api/v1/customers/{id}");
    assert.equal(endpointLabel("DELETE", "/api/v1/customers/42/devices/tok"), "DELETE /api/v1/customers/{id}/devices/{id}");
    assert.equal(endpointLabel("POST", "/api/v1/segments/7/add_customers?id_type=email"), "POST /api/v1/segments/{id}/add_customers");
    assert.equal(endpointLabel("GET", "/v1/messages"), "GET /v1/messages");
    assert.equal(endpointLabel("POST", "/api/v1/metrics"), "POST /api/v1/metrics");
  });
});
