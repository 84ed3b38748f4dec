// A production install, for real: the project copied to a temporary folder, `npm ci --omit=dev`
// (no tsx, no test tools), then the commands the README gives operators, through npm, against a real
// PostgreSQL: migrate, outbox, report, replay, backfill (against the fake App API), start, send-sample.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { FakeAppApi, makeMessages } from "../../scripts/lib/fake-app-api.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { cleanEnv, freePort, isReady } from "../helpers/process.js";
import { waitFor } from "../helpers/wait.js";

const OPERATOR_SCRIPTS = ["start", "migrate", "replay", "outbox", "report", "send-sample", "backfill"];
// What a clone has (send-sample reads the official examples in test/fixtures); not node_modules, dist or .data.
const COPIED = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "ormconfig.ts", "src", "entities", "migrations", "scripts", "test"];

let dir: string;
let db: TestDatabase;

const npm = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)("npm", args, { cwd: dir, env: cleanEnv({ DATABASE_URL: db.url, ...env }), timeout: 180_000 });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-production-"));
  for (const entry of COPIED) fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  // From npm's cache (npm ci for the tests filled it): no download needed.
  await promisify(execFile)("npm", ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir, env: cleanEnv({}), timeout: 180_000 });
  db = await createTestDatabase({ empty: true });
});
after(async () => {
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a production install (npm ci --omit=dev)", () => {
  it("has no dev dependency, and no operator command needs one", () => {
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "tsx")), "tsx is not installed");
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "playwright-core")), "test tools are not installed");
    const scripts = (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    for (const name of OPERATOR_SCRIPTS) assert.doesNotMatch(scripts[name]!, /\btsx\b/, `npm run ${name}: ${scripts[name]}`);
  });

  it("runs migrate, outbox, report and replay through npm", async () => {
    assert.match((await npm(["run", "--silent", "migrate"])).stdout, /^applied: Initial\d+/m);
    assert.match((await npm(["run", "--silent", "migrate"])).stdout, /nothing to apply: the schema is up to date/);
    assert.match((await npm(["run", "--silent", "outbox", "--", "stats"])).stdout, /^Outbox: calls owed to Customer\.io\n {2}pending {5}0/);
    assert.match((await npm(["run", "--silent", "report", "--", "funnel", "--from", "2026-11-01", "--to", "2026-11-30"])).stdout, /^Funnel 2026-11-01 to 2026-11-30 \(days in UTC\)\ndeliveries +sent +delivered/);
    assert.match((await npm(["run", "--silent", "replay", "--", "--dry-run"])).stdout, /^Dry run \(nothing committed\): 0 events/);
  });

  it("backfills from the App API through npm", async () => {
    const fake = await FakeAppApi.start();
    fake.add(makeMessages({ from: Date.parse("2026-04-01T00:00:00Z") / 1000, to: Date.parse("2026-04-02T23:00:00Z") / 1000, count: 1500, prefix: "prod" }));
    try {
      const env = { CIO_WEBHOOK_SIGNING_KEYS: "production-install-key", CIO_APP_API_KEY: fake.apiKey, CIO_APP_API_URL: fake.url };
      const { stdout } = await npm(["run", "--silent", "backfill", "--", "--from", "2026-04-01", "--to", "2026-04-02"], env);
      assert.match(stdout, /^Backfilled: messages created 2026-04-01 to 2026-04-02, in \d+:\d\d \(run \d+\)\n {2}messages read +1,500\n {2}deliveries created +1,500\n/);
    } finally {
      await fake.close();
    }
  });

  it("starts with npm start, takes the samples from npm run send-sample, and stops on SIGTERM", async () => {
    const port = await freePort();
    const env = { CIO_WEBHOOK_SIGNING_KEYS: "production-install-key", PORT: String(port), HOST: "127.0.0.1" };
    const service = spawn("npm", ["start"], { cwd: dir, env: cleanEnv({ DATABASE_URL: db.url, ...env }), stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    service.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    service.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => service.on("exit", (code) => resolve(code)));
    try {
      await waitFor("ready", () => isReady(`http://127.0.0.1:${port}`), 60_000, 200).catch((err: Error) => {
        throw new Error(`${err.message}\n${output}`);
      });
      const sample = await npm(["run", "--silent", "send-sample", "--", "--url", `http://127.0.0.1:${port}`, "--key", "production-install-key"]);
      assert.match(sample.stdout, /^21\/21 events accepted/);
    } finally {
      process.kill(-service.pid!, "SIGTERM"); // npm, and the service under it
    }
    await exited;
    await waitFor("stopped", () => /"msg":"stopped"/.test(output), 15_000, 100);
  });
});
