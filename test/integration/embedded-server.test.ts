// The embedded PostgreSQL of a trial install, shared by real processes in one folder: a second service
// is refused and leaves the first serving; command-line tools use the running server and leave it up;
// a server left by a killed service is taken over; and, as root, a folder the postgres user cannot
// enter still works, with the data kept where that user can reach it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { SHARED_ROOT } from "../../src/core/embedded-postgres.js";
import { DATA_DIR, PROJECT_ROOT } from "../../src/core/paths.js";
import { cleanEnv, exitCodeWithin, freePort, isReady, spawnService } from "../helpers/process.js";
import { waitFor } from "../helpers/wait.js";

const cleanup: Array<() => void> = [];
after(() => {
  for (const c of cleanup) c();
});

const ready = (port: number) => isReady(`http://127.0.0.1:${port}`);

async function trialEnv(dataDir: string): Promise<Record<string, string>> {
  return { DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) };
}

async function startTrial(env: Record<string, string>) {
  const svc = spawnService(env);
  await waitFor("ready", () => ready(Number(env["PORT"])), 60_000, 100).catch((err: Error) => {
    throw new Error(`${err.message}\n${svc.output()}`);
  });
  return svc;
}

const outboxStats = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/outbox.ts", "stats", "--json"], { cwd: PROJECT_ROOT, env: cleanEnv(env) });

describe("one embedded PostgreSQL, several processes in one folder", () => {
  const dataDir = path.join(DATA_DIR, `shared-test-${process.pid}`);
  cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("a second service is refused at once with a clear message, a tool uses the server quietly, and the first keeps serving", async () => {
    const env = await trialEnv(dataDir);
    const first = await startTrial(env);
    try {
      const second = spawnService({ ...env, PORT: String(await freePort()) });
      assert.equal(await exitCodeWithin(second, 30_000), 1, `refused at once, not still running after 30 s:\n${second.output()}`);
      assert.match(second.output(), new RegExp(`Another cio-companion service \\(pid ${first.child.pid}\\) is already running on the embedded PostgreSQL`));
      assert.match(second.output(), /Stop it first .* or start this one with its own DATA_DIR and EMBEDDED_PG_PORT/);
      assert.equal(second.output().trim().split("\n").length, 1, "one line");

      const tool = await outboxStats(env);
      assert.deepEqual(JSON.parse(tool.stdout), { pending: 0, delivered: 0, dead: 0, superseded: 0, due: 0, oldest_pending_seconds: null });
      assert.doesNotMatch(tool.stderr, /left by an earlier run/);

      assert.ok(await ready(Number(env["PORT"])), "the first service still serves");
    } finally {
      first.child.kill("SIGTERM");
    }
    assert.equal(await first.exited, 0);
    assert.match(first.output(), /embedded PostgreSQL stopped/);
  });

  it("a service killed with -9 leaves its server up; the next one takes it over and stops it on shutdown", async () => {
    const env = await trialEnv(dataDir);
    const killed = await startTrial(env);
    killed.child.kill("SIGKILL");
    await killed.exited;
    const next = await startTrial(env);
    next.child.kill("SIGTERM");
    assert.equal(await next.exited, 0);
    assert.match(next.output(), /left by an earlier run\); this service takes it over and stops it on shutdown/);
    assert.match(next.output(), /embedded PostgreSQL stopped/);
    assert.ok(!fs.existsSync(path.join(dataDir, "postgres", "postmaster.pid")), "the server is down");
  });
});

describe("as root, a project in a folder other users cannot enter", () => {
  it("starts, keeps the data where the postgres user can reach it, and finds it again after a restart", { skip: process.getuid?.() !== 0 && "only as root (the server then runs as the postgres user)" }, async () => {
    const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-private-"));
    fs.chmodSync(privateDir, 0o700);
    cleanup.push(() => fs.rmSync(privateDir, { recursive: true, force: true }));
    const env = await trialEnv(path.join(privateDir, "data"));

    let svc = await startTrial(env);
    const shared = /keeps its data in ([^\s"]+)/.exec(svc.output())?.[1];
    assert.ok(shared, svc.output());
    assert.ok(shared.startsWith(`${SHARED_ROOT}/clusters/`));
    assert.match(svc.output(), new RegExp(`cannot enter ${privateDir} \\(mode 700\\)`));
    cleanup.push(() => {
      fs.rmSync(shared, { recursive: true, force: true });
      for (const f of [".password", ".owner"]) fs.rmSync(`${shared}${f}`, { force: true });
    });
    const key = fs.readFileSync(path.join(privateDir, "data", "trial-signing-key"), "utf8").trim();
    const body = JSON.stringify(messageEvent({ objectType: "email", metric: "sent", deliveryId: "private-folder-1" }));
    const res = await fetch(`http://127.0.0.1:${env["PORT"]}/webhooks/customerio`, { method: "POST", headers: signedHeaders(key, body), body });
    assert.equal(res.status, 200);
    svc.child.kill("SIGTERM");
    assert.equal(await svc.exited, 0);

    svc = await startTrial(env);
    try {
      const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(fs.readFileSync(`${shared}.password`, "utf8").trim())}@127.0.0.1:${env["EMBEDDED_PG_PORT"]}/cio` });
      await client.connect();
      const { rows } = await client.query("SELECT status FROM deliveries WHERE delivery_id = 'private-folder-1'");
      await client.end();
      assert.deepEqual(rows, [{ status: "sent" }], "the row stored before the restart is there");
    } finally {
      svc.child.kill("SIGTERM");
    }
    assert.equal(await svc.exited, 0);
  });
});
