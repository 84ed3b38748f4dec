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
    const [port, pgPort] = [await freePort(), await freePort()];
    const env = { DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort) };
    const svc = spawnService(env);
    try {
      await svc.waitFor(/"msg":"listening/, 60_000);
      await svc.waitFor(/Trial mode: no CIO_WEBHOOK_SIGNING_KEYS set/, 5000); // may come in the next chunk of output
      // The start-up line names the dashboard's real address, on the admin listener (loopback).
      const dashboard = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/reports)/.exec(svc.output())?.[1];
      assert.ok(dashboard, `the dashboard's address is printed:\n${svc.output()}`);
      assert.equal((await fetch(dashboard)).status, 200, "and answers there");
      assert.equal((await fetch(`http://127.0.0.1:${port}/reports`)).status, 404, "not on the public port");
      const key = fs.readFileSync(path.join(dataDir, "trial-signing-key"), "utf8").trim();
      assert.ok(svc.output().includes(`Key: ${key}`), "the generated key is printed");

      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/send-sample.ts"], { cwd: PROJECT_ROOT, env: cleanEnv(env) });
      assert.match(stdout, /21\/21 events accepted/);

      const password = fs.readFileSync(path.join(dataDir, "postgres.password"), "utf8").trim();
      const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/cio` });
      await client.connect();
      const { rows } = await client.query("SELECT status, count(*)::int AS n FROM deliveries GROUP BY status ORDER BY status");
      await client.end();
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
    assert.equal(await svc.exited, 0);
    assert.match(svc.output(), /embedded PostgreSQL stopped/);
    assert.ok(!fs.existsSync(path.join(dataDir, "postgres", "postmaster.pid")), "the embedded server is down");
  });

  it("refuses production settings without a signing key, naming the variable", async () => {
    const svc = spawnService({ NODE_ENV: "production", DATA_DIR: dataDir });
    assert.equal(await svc.exited, 78);
    assert.match(svc.output(), /CIO_WEBHOOK_SIGNING_KEYS: required with NODE_ENV=production/);
  });
});
