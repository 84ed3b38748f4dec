// `npm test` (after typecheck and lint): starts a real PostgreSQL for the run (embedded, or the server
// in TEST_DATABASE_URL), builds a migrated template database, fails if entities and migrations drift
// apart, then runs every test file with node:test. Each test file clones the template into a database
// of its own, so files run in parallel without sharing rows.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { exitWithUsage, parseCommandLine, type Tool } from "../src/core/cli.js";
import { migrate } from "../src/core/database.js";
import { EmbeddedPostgres } from "../src/core/embedded-postgres.js";
import { DATA_DIR, PROJECT_ROOT } from "../src/core/paths.js";
import { findChromium } from "../test/helpers/browser.js";
import { freePort } from "./lib/free-port.js";

const TEMPLATE = "cio_template";


function testFiles(roots: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
    else if (p.endsWith(".test.ts")) out.push(p);
  };
  for (const r of roots) walk(path.resolve(PROJECT_ROOT, r));
  return out;
}

const TOOL: Tool = {
  name: "npm test --",
  usage: `Usage: npm test [-- <test file or folder> ...]

Type-checks, lints, then starts a throwaway embedded PostgreSQL (or uses TEST_DATABASE_URL), migrates a
template database, checks entities and migrations agree, and runs the test files (all of test/ by
default) with node:test, each on its own copy of the template. \`npm run test:unit\` runs test/unit only.

Environment:
  TEST_DATABASE_URL   a PostgreSQL server to use instead of the embedded one (a superuser URL)
  TEST_CONCURRENCY    test files run at once (default 2)
  CHROMIUM_PATH       the browser for test/e2e (default: a system chromium, else @sparticuz/chromium's)

Options:
  -h, --help   this help
`,
};
const { positionals } = parseCommandLine(TOOL, {}, { positionals: true });
const roots = positionals.length > 0 ? positionals : ["test"];
for (const root of roots) if (!fs.existsSync(path.resolve(PROJECT_ROOT, root))) exitWithUsage(TOOL, `no test file or folder "${root}"`, false);
let embedded: EmbeddedPostgres | undefined;
let adminUrl = process.env["TEST_DATABASE_URL"];
if (!adminUrl) {
  embedded = new EmbeddedPostgres({
    dir: path.join(DATA_DIR, "test-postgres"),
    port: await freePort(),
    database: "postgres",
    // Durable, like a user's server: commits wait for the disk, so a test of bursts and deadlines sees
    // real commit latency (measured: the suite takes the same time as with fsync off).
    settings: { max_connections: "300" },
  });
  embedded.removeData(); // a throwaway cluster: never reuse one left by an interrupted run
  adminUrl = await embedded.start();
}

let status = 1;
try {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const templateUrl = Object.assign(new URL(adminUrl), { pathname: `/${TEMPLATE}` }).toString();
  await migrate(templateUrl);

  // Drift check: the entities must describe exactly what the migrations built.
  const drift = spawnSync(
    process.execPath,
    ["--import", "tsx", "node_modules/typeorm/cli.js", "migration:generate", "--check", "-d", "ormconfig.ts", "migrations/Drift"],
    { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: templateUrl }, encoding: "utf8" },
  );
  if (drift.status !== 0) {
    console.error(`Entities and migrations have drifted apart; generate a migration (npm run typeorm -- migration:generate migrations/Name).\n${drift.stdout}${drift.stderr}`);
    process.exit(1);
  }
  console.log("schema drift check: entities and migrations agree");

  const files = testFiles(roots);
  // Pick (and, for the packaged build, unpack) the browser once, before test files run in parallel.
  const browserEnv: Record<string, string> = {};
  if (files.some((f) => f.endsWith(".e2e.test.ts"))) {
    const browser = await findChromium();
    browserEnv["CHROMIUM_PATH"] = browser.executablePath;
    console.log(`browser tests: Chromium at ${browser.executablePath} (${browser.source === "packaged" ? "packaged by @sparticuz/chromium" : browser.source})`);
  }
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", `--test-concurrency=${process.env["TEST_CONCURRENCY"] ?? 2}`, ...files],
    { cwd: PROJECT_ROOT, stdio: "inherit", env: { ...process.env, ...browserEnv, TEST_PG_ADMIN_URL: adminUrl, TEST_PG_TEMPLATE: TEMPLATE } },
  );
  status = result.status ?? 1;
} finally {
  await embedded?.stop(); // its data (and server.log) stay until the next run, for a look after a failure
}
process.exit(status);
