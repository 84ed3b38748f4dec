import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/core/config.js";

describe("Data Pipelines configuration", () => {
  it("defaults to the Track API for our own calls, and any write key on /v1", () => {
    const config = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k" });
    assert.equal(config.reporter.transport, "track");
    assert.deepEqual(config.pipelines, { writeKeys: [], url: undefined, writeKey: undefined });
    assert.deepEqual([config.reporter.pipelinesRateLimit, config.reporter.pipelinesBatchSize], [100, 100]);
  });

  it("needs CIO_CDP_WRITE_KEY for REPORTER_TRANSPORT=pipelines, and names a bad CIO_CDP_URL", () => {
    assert.throws(
      () => loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", REPORTER_TRANSPORT: "pipelines" }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith("REPORTER_TRANSPORT: pipelines needs CIO_CDP_WRITE_KEY")),
    );
    assert.throws(
      () => loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", CIO_CDP_URL: "cdp.customer.io", REPORTER_TRANSPORT: "segment" }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
    const config = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", REPORTER_TRANSPORT: "pipelines", CIO_CDP_WRITE_KEY: "w", PIPELINES_WRITE_KEYS: "a, b" });
    assert.deepEqual([config.reporter.transport, config.pipelines.writeKey, config.pipelines.writeKeys], ["pipelines", "w", ["a", "b"]]);
  });

  it("sends the outbox in a trial once Data Pipelines settings are given", () => {
    assert.equal(loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", CIO_CDP_URL: "http://127.0.0.1:9/v1" }).reporter.enabled, true);
    assert.equal(loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", CIO_CDP_WRITE_KEY: "w" }).reporter.enabled, true);
  });
});
