// The App API client against the fake App API: the request it makes (Bearer, /v1/messages, the
// window, the cursor), the region it picks (CIO_REGION, CIO_APP_API_URL, or the Track API's lookup),
// what it retries (network, timeouts, 5xx, 429) and what it does not (400, 401), and the fake's own
// contract (the 6-month window, the page size, cursors of another listing).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { FakeAppApi, makeMessages } from "../../scripts/lib/fake-app-api.js";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { AppApiClient, AppApiError, createAppApiClient } from "../../src/backfill/app-api-client.js";
import { loadConfig } from "../../src/core/config.js";
import { createLogger } from "../../src/core/logger.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { TEST_KEY } from "../helpers/service.js";

const log = createLogger("silent");
const DAY = 86_400;
const START = Date.parse("2026-05-01T00:00:00Z") / 1000;
let fake: FakeAppApi;
let db: TestDatabase;
let pool: pg.Pool;

before(async () => {
  fake = await FakeAppApi.start({ region: "eu" });
  fake.add(makeMessages({ from: START, to: START + 3 * DAY, count: 2500, prefix: "c" }));
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
after(async () => {
  await pool.end();
  await fake.close();
  await db.drop();
});

/** A client as the service builds it from these variables, with the fake's hosts as the regions'. */
function client(env: Record<string, string>, trackBaseUrl?: string): AppApiClient {
  const config = loadConfig({ DATABASE_URL: db.url, CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY, CIO_APP_API_KEY: fake.apiKey, CIO_TIMEOUT_MS: "300", ...env });
  return createAppApiClient(config, pool, log, { hosts: fake.urls, trackBaseUrl })!;
}
const window = { startTs: START, endTs: START + 4 * DAY, limit: 1000 };

describe("App API client", () => {
  it("lists a window page by page under the cursor, with Bearer auth, newest first", async () => {
    const api = client({ CIO_REGION: "eu" });
    try {
      const seen = fake.log.length;
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await api.listMessages({ ...window, start: cursor });
        ids.push(...page.messages.map((m) => String(m["id"])));
        cursor = page.next;
      } while (cursor);
      assert.equal(ids.length, 2500);
      assert.equal(new Set(ids).size, 2500, "no message twice");
      const requests = fake.log.slice(seen);
      assert.deepEqual(requests.map((r) => [r.region, r.path, r.status, r.authorization]), Array(3).fill(["eu", "/v1/messages", 200, `Bearer ${fake.apiKey}`]));
      assert.deepEqual(requests[0]!.query, { start_ts: String(START), end_ts: String(START + 4 * DAY), limit: "1000" });
      const first = (await api.listMessages({ ...window, limit: 2 })).messages;
      assert.ok(Number(first[0]!["created"]) >= Number(first[1]!["created"]));
    } finally {
      await api.close();
    }
  });

  it("goes to the region's host: the other region's answers 401, which is not retried", async () => {
    const us = client({ CIO_REGION: "us" });
    try {
      const seen = fake.log.length;
      const err = (await us.listMessages(window).catch((e: unknown) => e)) as AppApiError;
      assert.ok(err instanceof AppApiError);
      assert.deepEqual([err.status, err.retryable], [401, false]);
      assert.match(err.message, /this workspace is in the EU region/);
      assert.deepEqual(fake.log.slice(seen).map((r) => r.region), ["us"], "one request, to the US host");
    } finally {
      await us.close();
    }
    const byUrl = client({ CIO_REGION: "us", CIO_APP_API_URL: `${fake.urls.eu}/` });
    try {
      assert.equal((await byUrl.listMessages({ ...window, limit: 1 })).messages.length, 1, "CIO_APP_API_URL wins over the region");
    } finally {
      await byUrl.close();
    }
  });

  it("asks the Track API which region the workspace is in with CIO_REGION=auto", async () => {
    const track = await FakeCustomerIo.start({ siteId: "site", apiKey: "key", region: "eu" });
    const api = client({ CIO_REGION: "auto", CIO_SITE_ID: "site", CIO_API_KEY: "key" }, track.url);
    try {
      assert.equal((await api.listMessages({ ...window, limit: 1 })).messages.length, 1);
      assert.equal(await api.baseUrl(), fake.urls.eu);
      assert.deepEqual(track.accepted.map((r) => r.path), ["/api/v1/accounts/region"]);
    } finally {
      await api.close();
      await track.close();
    }
  });

  it("retries resets, timeouts, 5xx and 429s, and gives up at once on a 400", async () => {
    const api = client({ CIO_REGION: "eu" });
    try {
      fake.fail({ reset: true });
      fake.fail({ hang: true });
      fake.fail({ status: 502 });
      fake.fail({ status: 429, retryAfter: 1 });
      const seen = fake.log.length;
      const page = await api.listMessages({ ...window, limit: 10 });
      assert.equal(page.messages.length, 10);
      const log = fake.log.slice(seen);
      assert.deepEqual(log.map((r) => r.status), [null, null, 502, 429, 200]);
      assert.ok(log[4]!.at - log[3]!.at >= 950, "waited for Retry-After");
      const bad = (await api.listMessages({ ...window, start: "not-a-cursor" }).catch((e: unknown) => e)) as AppApiError;
      assert.deepEqual([bad.status, bad.retryable], [400, false]);
      assert.match(bad.message, /start is not a cursor of this listing/);
    } finally {
      await api.close();
    }
  });
});

describe("the fake App API holds the documented contract", () => {
  it("refuses a window over 6 months, a page over 1000, a type it does not know, a cursor of another listing, no key", async () => {
    const api = client({ CIO_REGION: "eu" });
    try {
      const refused = async (q: Parameters<AppApiClient["listMessages"]>[0]) => ((await api.listMessages(q).catch((e: unknown) => e)) as AppApiError).message;
      assert.match(await refused({ ...window, endTs: START + 190 * DAY }), /HTTP 400 .*at most 6 months/);
      assert.ok((await api.listMessages({ ...window, endTs: START + 180 * DAY, limit: 1 })).messages.length === 1, "180 days is within 6 months");
      assert.match(await refused({ ...window, limit: 1001 }), /HTTP 400 .*limit must be from 1 to 1000/);
      assert.match(await refused({ ...window, type: "sms" }), /HTTP 400 .*type must be one of email, webhook, twilio/);
      const next = (await api.listMessages({ ...window, limit: 5 })).next!;
      assert.match(await refused({ ...window, limit: 5, type: "email", start: next }), /HTTP 400 .*not a cursor of this listing/);
      assert.equal((await fetch(`${fake.url}/messages`)).status, 401);
    } finally {
      await api.close();
    }
  });
});
