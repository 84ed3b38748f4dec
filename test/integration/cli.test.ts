// The command-line tools as an operator meets them: every one answers --help with its usage; an
// unknown flag or command prints the usage and exits 64; `outbox` shows what needs attention in a
// readable form; report tables fit 120 columns with rates as percentages; mistakes are one line.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService } from "../helpers/service.js";

let db: TestDatabase;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs scripts/<script>.ts (src/main.ts for "main") as `npm run` would, against the test database. */
async function run(script: string, ...args: string[]): Promise<Run> {
  const file = script === "main" ? "src/main.ts" : `scripts/${script}.ts`;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", file, ...args], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env["PATH"], HOME: process.env["HOME"], DATABASE_URL: db?.url ?? "postgres://nobody@127.0.0.1:1/none" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const LONG_HREF = `https://example.com/${"very-long-path-segment/".repeat(8)}?utm_source=customerio&utm_campaign=winter`;
const LONG_FAILURE = `550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in virtual mailbox table ${"x".repeat(80)}`;

before(async () => {
  db = await createTestDatabase();
  const svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
  try {
    const t = Date.parse("2026-11-10T09:00:00Z") / 1000;
    const steps: Array<[string, string, Record<string, unknown>]> = [
      ["cli-1", "sent", {}], ["cli-1", "delivered", {}], ["cli-1", "opened", { prefetched: false }], ["cli-1", "clicked", { href: LONG_HREF, machine: false }],
      ["cli-2", "sent", {}], ["cli-2", "delivered", {}],
      ["cli-3", "sent", {}], ["cli-3", "bounced", { failure_message: LONG_FAILURE }],
    ];
    for (const [i, [id, metric, extra]] of steps.entries()) {
      const event = messageEvent({ objectType: "email", metric, deliveryId: id, timestamp: t + i * 60, origin: { campaign_id: 31, action_id: 310 } });
      Object.assign(event["data"] as object, extra);
      assert.equal((await svc.webhook(event)).status, 200);
    }
    // The reporter is off: these stay pending; one becomes a dead letter.
    for (const id of ["cli-1", "cli-2", "cli-3"]) assert.equal((await svc.post("/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: t })).status, 200);
    await db.query(`UPDATE outbox SET status = 'dead', attempts = 1, last_status = 400, last_error = '{"meta":{"errors":["not found"]}}' WHERE delivery_id = 'cli-3'`);
    await db.query("UPDATE outbox SET status = 'delivered', delivered_at = now() WHERE delivery_id = 'cli-2'");
  } finally {
    await svc.stop();
  }
});
after(async () => {
  await db.drop();
});

const TOOLS: Array<[script: string, usage: RegExp]> = [
  ["main", /^Usage: npm start/],
  ["migrate", /^Usage: npm run migrate/],
  ["replay", /^Usage: npm run replay/],
  ["outbox", /^Usage: npm run outbox -- <command>/],
  ["report", /^Usage: npm run report -- <report>/],
  ["send-sample", /^Usage: npm run send-sample/],
  ["seed-synthetic", /^Usage: npm run seed:synthetic/],
  ["bench-ingest", /^Usage: npm run bench:ingest/],
  ["bench-reporter", /^Usage: npm run bench:reporter/],
  ["bench-pipelines", /^Usage: npm run bench:pipelines/],
  ["bench-reports", /^Usage: npm run bench:reports/],
  ["bench-relay", /^Usage: npm run bench:relay/],
  ["bench-replay", /^Usage: npm run bench:replay/],
  ["sql-snapshot", /^Usage: npm run sql:snapshot/],
  ["erase", /^Usage: npm run erase/],
  ["backfill", /^Usage: npm run backfill/],
  ["bench-backfill", /^Usage: npm run bench:backfill/],
  ["bench-retention", /^Usage: npm run bench:retention/],
  ["bench-migration", /^Usage: npm run bench:migration/],
  ["run-tests", /^Usage: npm test/],
];

describe("every command's usage", () => {
  it("--help prints the usage and exits 0; an unknown flag prints the problem and the usage and exits 64", async () => {
    // Two at a time: a burst of 28 processes would starve the timing-sensitive test file running beside this one.
    const results: Array<{ script: string; usage: RegExp; help: Run; bad: Run }> = [];
    for (let i = 0; i < TOOLS.length; i += 2) {
      results.push(...(await Promise.all(TOOLS.slice(i, i + 2).map(async ([script, usage]) => ({ script, usage, help: await run(script, "--help"), bad: await run(script, "--no-such-flag") })))));
    }
    for (const { script, usage, help, bad } of results) {
      assert.equal(help.code, 0, `${script} --help: ${help.stderr}`);
      assert.match(help.stdout, usage, script);
      assert.equal(bad.code, 64, `${script} --no-such-flag exits 64`);
      assert.match(bad.stderr, /Unknown option '--no-such-flag'/, script);
      assert.match(bad.stderr, new RegExp(usage.source, "m"), `${script} prints the usage`);
      assert.doesNotMatch(bad.stderr, /\n\s+at /, `${script}: no stack trace`);
    }
  });
});

describe("npm run report", () => {
  it("with no report, or an unknown one, prints the usage and exits 64", async () => {
    for (const args of [[], ["nope"]]) {
      const r = await run("report", ...args);
      assert.equal(r.code, 64);
      assert.match(r.stderr, args.length === 0 ? /which report\?/ : /unknown report "nope"/);
      assert.match(r.stderr, /Usage: npm run report -- <report>/);
    }
  });

  it("fits tables in 120 columns, with rates as percentages; --wide shows every column", async () => {
    const range = ["--from", "2026-11-10", "--to", "2026-11-10"];
    for (const args of [["funnel", "--group-by", "day,channel,origin,action"], ["links"], ["failures"], ["person", "--customer-id", "0200000001"]]) {
      const r = await run("report", ...args, ...(args[0] === "person" ? [] : range));
      assert.equal(r.code, 0, r.stderr);
      const widest = Math.max(...r.stdout.split("\n").filter((l) => !l.startsWith("(")).map((l) => l.length));
      assert.ok(widest <= 120, `${args[0]}: lines of at most 120 characters, got ${widest}:\n${r.stdout}`);
    }
    const funnel = await run("report", "funnel", ...range);
    assert.match(funnel.stdout, /delivery_rate/);
    assert.match(funnel.stdout, / 66\.7% /, "2 of 3 sent were delivered, as a percentage");
    assert.match(funnel.stdout, /\(\d+ more columns: .*; --wide shows every column/);
    const wide = await run("report", "funnel", ...range, "--wide");
    assert.ok(Math.max(...wide.stdout.split("\n").map((l) => l.length)) > 120, "--wide is wider");
    assert.match(wide.stdout, /spam_rate/);
    assert.doesNotMatch(wide.stdout, /more columns/);
    const csv = await run("report", "funnel", ...range, "--format", "csv");
    assert.match(csv.stdout, /,0\.6667,/, "CSV keeps the fraction");
    const failures = await run("report", "failures", ...range);
    assert.match(failures.stdout, /550 5\.1\.1 <address>: recipient address rejected.*…/, "long text is cut, not left out");
  });

  it("says in one line that a time zone is unknown, and changes nothing", async () => {
    const r = await run("report", "timezone", "Mars/Olympus_Mons");
    assert.equal(r.code, 64);
    assert.equal(r.stderr.trim().split("\n")[0], 'npm run report: unknown time zone "Mars/Olympus_Mons": use an IANA name such as Europe/Paris or America/New_York');
    assert.ok(r.stderr.trim().split("\n").length <= 2, r.stderr);
    assert.equal((await run("report", "timezone")).stdout.trim(), "UTC");
  });
});

describe("npm run outbox", () => {
  it("with no command, or an unknown one, prints the usage and exits 64", async () => {
    for (const args of [[], ["flush"]]) {
      const r = await run("outbox", ...args);
      assert.equal(r.code, 64);
      assert.match(r.stderr, /Usage: npm run outbox -- <command>/);
    }
  });

  it("list shows what needs attention, pending and dead, under a header", async () => {
    const r = await run("outbox", "list");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "Outbox rows that need attention (pending and dead; --status to choose): 2");
    assert.match(lines[1]!, /^id\s+kind\s+delivery_id\s+status\s+attempts\s+next_attempt\s+last_status\s+last_error$/);
    assert.match(lines[3]!, /^\s*\d+\s+metric\s+cli-3\s+dead\s+1\s+400\s+\{"meta":\{"errors":\["not found"\]\}\}$/, "dead letters first");
    assert.match(lines[4]!, /^\s*\d+\s+metric\s+cli-1\s+pending\s+0\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z/);
    assert.equal(lines.length, 5, "the delivered row is not listed");
    const delivered = await run("outbox", "list", "--status", "delivered");
    assert.match(delivered.stdout, /^Outbox rows \(delivered\): 1\n/);
    assert.match(delivered.stdout, /cli-2\s+delivered/);
  });

  it("refuses an unknown --status with exit 64", async () => {
    const r = await run("outbox", "list", "--status", "bogus");
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--status takes pending, dead, delivered, superseded, all; not "bogus"/);
  });

  it("stats is readable, and --json is for scripts", async () => {
    const r = await run("outbox", "stats");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Outbox: calls owed to Customer\.io\n {2}pending {5}1 {2}\(1 due now; oldest waiting \d+ (s|min)\)\n {2}delivered {3}1\n {2}dead {8}1 {2}\(npm run outbox -- list --status dead.*\n {2}superseded {2}0\n$/);
    const json = await run("outbox", "stats", "--json");
    assert.deepEqual({ ...(JSON.parse(json.stdout) as Record<string, unknown>), oldest_pending_seconds: "…" }, { pending: 1, delivered: 1, dead: 1, superseded: 0, due: 1, oldest_pending_seconds: "…" });
  });
});

describe("a tool that cannot reach its database", () => {
  it("says so in one line, naming the fix", async () => {
    const saved = db;
    db = { ...saved, url: "postgres://app:pw@127.0.0.1:1/cio" };
    try {
      const r = await run("outbox", "stats");
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), "npm run outbox: Nothing accepts connections at 127.0.0.1:1: start PostgreSQL there, or fix the host and port in DATABASE_URL.");
    } finally {
      db = saved;
    }
  });
});
