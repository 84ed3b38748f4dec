// What a newcomer does: start with no configuration at all (embedded PostgreSQL, generated key),
// send the samples, see rows, stop with Ctrl-C/SIGTERM. And production settings without keys refuse.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { DATA_DIR, PROJECT_ROOT } from "../../src/core/paths.js";
import { cleanEnv, freePort, spawnService } from "../helpers/process.js";

const dataDir = path.join(DATA_DIR, `trial-test-${process.pid}`);
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe("starting with no configuration", () => {
  it("comes up in trial mode on an embedded PostgreSQL, takes samples, and stops cleanly", async () => {
    const [port, pgPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const env = { DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), ADMIN_PORT: String(adminPort) };
    const svc = spawnService(env);
    try {
      await svc.waitFor(/"msg":"listening"/, 60_000);
      // The start-up line names the dashboard's real address, on the admin listener (loopback).
      const dashboard = /"dashboard":"(http:\/\/127\.0\.0\.1:\d+\/reports)"/.exec(svc.output())?.[1];
      assert.ok(dashboard, `the dashboard's address is printed:\n${svc.output()}`);
      assert.equal((await fetch(dashboard)).status, 200, "and answers there");
      assert.equal((await fetch(`http://127.0.0.1:${port}/reports`)).status, 404, "not on the public port");
      const key = fs.readFileSync(path.join(dataDir, "trial-signing-key"), "utf8").trim();
      const box = svc.output().slice(svc.output().indexOf("cio-companion is up (trial)"));
      assert.ok(box.includes(`Signing key     ${key}\n                  (generated now; kept in ${path.relative(PROJECT_ROOT, dataDir)}/trial-signing-key)`), box);
      assert.match(box, new RegExp(`Webhook URL +http://localhost:${port}/webhooks/customerio `));
      assert.match(box, /for Customer\.io it must be public, over HTTPS: https:\/\/<your host>\/webhooks\/customerio/);
      assert.ok(box.includes(`Dashboard       ${dashboard}  (the admin listener`), box);
      assert.match(box, /Relayed calls +kept in the outbox, not sent \(a trial without Track API settings\)\n +to send them: set CIO_SITE_ID and CIO_API_KEY/);
      assert.match(svc.output(), /"relayedCalls":"kept in the outbox, not sent/, "the log says where relayed calls go");

      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/send-sample.ts"], { cwd: PROJECT_ROOT, env: cleanEnv(env) });
      assert.match(stdout, /21\/21 events accepted/);

      // A relayed metric with no Track API settings: kept, and not retried against Customer.io.
      const relayed = await fetch(`http://127.0.0.1:${port}/api/v1/metrics`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ delivery_id: "trial-relay-1", metric: "opened" }) });
      assert.equal(relayed.status, 200);
      await new Promise((r) => setTimeout(r, 1500));

      const password = fs.readFileSync(path.join(dataDir, "postgres.password"), "utf8").trim();
      const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/cio` });
      await client.connect();
      const { rows } = await client.query("SELECT status, count(*)::int AS n FROM deliveries WHERE delivery_id <> 'trial-relay-1' GROUP BY status ORDER BY status");
      const outbox = await client.query("SELECT status, attempts FROM outbox WHERE delivery_id = 'trial-relay-1'");
      await client.end();
      assert.deepEqual(outbox.rows, [{ status: "pending", attempts: 0 }], "kept in the outbox, never attempted");
      assert.doesNotMatch(svc.output(), /customer\.io call failed|track\.customer\.io|"level":"warn"/i);
      assert.deepEqual(rows, [
        { status: "bounced", n: 1 },
        { status: "clicked", n: 1 },
        { status: "converted", n: 1 },
        { status: "opened", n: 2 },
        { status: "sent", n: 1 }, // Customer.io's official email and SMS "sent" examples: one event (same id, delivery and time)
      ]);
    } finally {
      svc.child.kill("SIGTERM");
    }
    assert.equal(await svc.exited, 0, `signal ${svc.child.signalCode}; output:\n${svc.output().slice(-3000)}`);
    assert.match(svc.output(), /embedded PostgreSQL stopped/);
    assert.ok(!fs.existsSync(path.join(dataDir, "postgres", "postmaster.pid")), "the embedded server is down");

    // The next start reuses the key, and says so.
    const again = spawnService(env);
    try {
      await again.waitFor(/"msg":"listening"/, 60_000);
      assert.match(again.output(), /\(reused from an earlier start; kept in /);
    } finally {
      again.child.kill("SIGTERM");
    }
    assert.equal(await again.exited, 0, `signal ${again.child.signalCode}; output:\n${again.output().slice(-3000)}`);
  });

  it("refuses production settings without a signing key, naming the variable", async () => {
    const svc = spawnService({ NODE_ENV: "production", DATA_DIR: dataDir });
    assert.equal(await svc.exited, 78);
    assert.match(svc.output(), /CIO_WEBHOOK_SIGNING_KEYS: required with NODE_ENV=production/);
  });
});
