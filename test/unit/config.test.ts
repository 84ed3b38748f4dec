import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/core/config.js";

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail("expected a ConfigError");
};

describe("configuration", () => {
  it("comes up for a trial with no variables, using the generated key", () => {
    const config = loadConfig({}, { trialSigningKey: (dir) => `generated in ${dir}` });
    assert.equal(config.port, 3000);
    assert.equal(config.database.url, undefined);
    assert.deepEqual(config.webhooks.signingKeys, [`generated in ${config.dataDir}`]);
    assert.equal(config.database.embeddedDir, `${config.dataDir}/postgres`);
    assert.equal(config.webhooks.keySource, "generated");
    assert.equal(config.webhooks.toleranceSeconds, 8 * 24 * 3600, "longer than Customer.io's 7 days of retries");
    assert.equal(config.webhooks.bodyLimitBytes, 5 * 1024 * 1024);
  });

  it("names every bad variable at once", () => {
    const problems = problemsOf(() =>
      loadConfig({ PORT: "http", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x", WEBHOOK_BODY_LIMIT: "big", CIO_WEBHOOK_TOLERANCE_SECONDS: "-1" }),
    );
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_URL", "WEBHOOK_BODY_LIMIT", "CIO_WEBHOOK_TOLERANCE_SECONDS"]) {
      assert.ok(problems.some((p) => p.startsWith(name)), `${name} is named in ${JSON.stringify(problems)}`);
    }
  });

  it("refuses production settings without signing keys, even with a trial key available", () => {
    for (const env of [{ NODE_ENV: "production" }, { DATABASE_URL: "postgres://db/cio" }]) {
      const problems = problemsOf(() => loadConfig(env, { trialSigningKey: () => "generated" }));
      assert.ok(problems.some((p) => p.startsWith("CIO_WEBHOOK_SIGNING_KEYS")), JSON.stringify(problems));
    }
  });

  it("allows the insecure switch in development only", () => {
    assert.equal(loadConfig({ INSECURE_SKIP_SIGNATURE: "true" }).webhooks.skipSignature, true);
    const problems = problemsOf(() => loadConfig({ NODE_ENV: "production", INSECURE_SKIP_SIGNATURE: "true", CIO_WEBHOOK_SIGNING_KEYS: "k" }));
    assert.ok(problems.some((p) => p.startsWith("INSECURE_SKIP_SIGNATURE")));
  });

  it("puts the admin listener (reports, dashboard) on loopback port 3001 unless told otherwise, apart from PORT", () => {
    const config = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k" });
    assert.deepEqual(config.admin, { host: "127.0.0.1", port: 3001 });
    assert.equal(config.host, "0.0.0.0", "the public listener takes every interface");
    assert.deepEqual(loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", ADMIN_HOST: "10.0.0.5", ADMIN_PORT: "9001" }).admin, { host: "10.0.0.5", port: 9001 });
    assert.ok(problemsOf(() => loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", PORT: "4000", ADMIN_PORT: "4000" })).some((p) => p.startsWith("ADMIN_PORT: must differ from PORT")));
    assert.ok(problemsOf(() => loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", ADMIN_PORT: "port" })).some((p) => p.startsWith("ADMIN_PORT")));
    assert.equal(loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", PORT: "0", ADMIN_PORT: "0" }).admin.port, 0, "both on free ports (tests)");
  });

  it("keeps the outbox unsent in a trial without Track API settings, and sends it otherwise", () => {
    const reporter = (env: Record<string, string>) => {
      const { enabled, held } = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: "k", ...env }).reporter;
      return { enabled, held };
    };
    assert.deepEqual(reporter({}), { enabled: false, held: "trial-without-track-settings" });
    assert.deepEqual(reporter({ CIO_SITE_ID: "s", CIO_API_KEY: "k" }), { enabled: true, held: null });
    assert.deepEqual(reporter({ CIO_TRACK_URL: "http://127.0.0.1:9" }), { enabled: true, held: null });
    assert.deepEqual(reporter({ CIO_REGION: "eu" }), { enabled: true, held: null });
    assert.deepEqual(reporter({ REPORTER_ENABLED: "true" }), { enabled: true, held: null }, "asked for explicitly");
    assert.deepEqual(reporter({ DATABASE_URL: "postgres://db/cio" }), { enabled: true, held: null }, "production: the metric endpoints need no credentials");
    assert.deepEqual(reporter({ DATABASE_URL: "postgres://db/cio", REPORTER_ENABLED: "false" }), { enabled: false, held: "disabled" });
  });

  it("splits comma-separated signing keys for rotation and parses sizes", () => {
    const config = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: " old , new ,", WEBHOOK_BODY_LIMIT: "512kb" });
    assert.deepEqual(config.webhooks.signingKeys, ["old", "new"]);
    assert.equal(config.webhooks.keySource, "env");
    assert.equal(config.webhooks.bodyLimitBytes, 512 * 1024);
  });
  it("turns reconciliation on with an App API key, with its defaults, and names what is wrong with its settings", () => {
    const base = { CIO_WEBHOOK_SIGNING_KEYS: "k" };
    const off = loadConfig(base);
    assert.deepEqual([off.appApi.apiKey, off.reconcile.enabled, off.webhookSilenceMinutes], [undefined, false, 60]);
    const on = loadConfig({ ...base, CIO_APP_API_KEY: "app", CIO_REGION: "eu" });
    assert.deepEqual(on.appApi, { apiKey: "app", baseUrl: undefined, region: "eu", rateLimit: 10, timeoutMs: 10_000 });
    assert.deepEqual(on.reconcile, { enabled: true, schedule: "0 47 * * * *", windowHours: 48, delayMinutes: 60, alertPercent: 1 });
    assert.equal(loadConfig({ ...base, CIO_APP_API_KEY: "app", RECONCILE_ENABLED: "false" }).reconcile.enabled, false);
    const problems = problemsOf(() =>
      loadConfig({ ...base, RECONCILE_ENABLED: "true", RECONCILE_SCHEDULE: "hourly", RECONCILE_ALERT_PERCENT: "150", CIO_APP_API_URL: "api.customer.io", WEBHOOK_SILENCE_MINUTES: "-5" }),
    );
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems.join("\n"), /RECONCILE_ALERT_PERCENT: must be a percentage from 0 to 100, got "150"/);
    assert.match(problems.join("\n"), /CIO_APP_API_URL: must be an http\(s\) URL/);
    assert.match(problems.join("\n"), /WEBHOOK_SILENCE_MINUTES: must be an integer from 0/);
    const later = problemsOf(() => loadConfig({ ...base, RECONCILE_ENABLED: "true", RECONCILE_SCHEDULE: "hourly" }));
    assert.deepEqual(later, ["RECONCILE_ENABLED: reconciliation needs CIO_APP_API_KEY (Customer.io: Account Settings > API Credentials > App API Keys)", 'RECONCILE_SCHEDULE: not a valid cron expression: "hourly"']);
  });

  it("serves metrics by default, on the admin listener only, and names bad metrics settings", () => {
    const base = { CIO_WEBHOOK_SIGNING_KEYS: "k" };
    assert.deepEqual(loadConfig(base).metrics, { enabled: true, credentials: [] });
    assert.deepEqual(loadConfig({ ...base, METRICS_CREDENTIALS: "prom:a:b, other:c" }).metrics, { enabled: true, credentials: ["prom:a:b", "other:c"] });
    assert.equal(loadConfig({ ...base, METRICS_ENABLED: "false" }).metrics.enabled, false);
    const problems = problemsOf(() => loadConfig({ ...base, METRICS_ENABLED: "maybe", METRICS_CREDENTIALS: "no-password", REPORTS_CREDENTIALS: "x" }));
    assert.deepEqual(problems.map((p) => p.split(":")[0]).sort(), ["METRICS_CREDENTIALS", "METRICS_ENABLED", "REPORTS_CREDENTIALS"]);
    assert.ok(!problems.join("\n").includes("no-password"), "a credential is not repeated in the error");
    assert.deepEqual(problemsOf(() => loadConfig({ ...base, METRICS_ENABLED: "false", METRICS_CREDENTIALS: "prom:secret" })), [
      "METRICS_CREDENTIALS: set, but METRICS_ENABLED=false serves no metrics; unset one of them",
    ]);
  });
});
