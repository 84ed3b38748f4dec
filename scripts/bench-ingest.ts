// `npm run bench:ingest [-- --seconds 10 --connections 1,10,50 --variants baseline,naive,ours]`
// Runs three webhook receivers back to back against a fresh embedded PostgreSQL (durable settings) and
// loads each with autocannon on loopback, at each concurrency: realistic signed Customer.io events of
// ~600 bytes (sent, delivered, opened, clicked for each delivery) and 5% `sent` events with ~20 KB of
// body content. Prints requests/s, p50/p99 latency, errors, the ratios against the baseline and naive,
// the rows verified in the database (every 2xx must be there), and each server's peak RSS.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import autocannon from "autocannon";
import pg from "pg";
import { PROJECT_ROOT } from "../src/core/paths.js";
import { sign } from "../src/webhooks/signature.js";
import { freePort, mb, startBenchDatabase } from "./lib/bench-db.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";

const TOOL: Tool = {
  name: "npm run bench:ingest --",
  usage: `Usage: npm run bench:ingest [-- options]

Loads three webhook receivers (baseline without a database, naive, ours) with autocannon on loopback
against a fresh embedded PostgreSQL, and prints requests/s, latency, ratios and verified rows.

Options:
  --seconds N            load per run (default 10)       --warmup N        seconds before measuring (2)
  --connections A,B,...  concurrencies (1,10,50)         --variants LIST   baseline,naive,ours
  --pool-size N          database pool of ours (10)      --max-in-flight N, --max-batch N   group commit
  -h, --help             this help
`,
};

const { values } = parseCommandLine(TOOL, {
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "1,10,50" },
    variants: { type: "string", default: "baseline,naive,ours" },
    "pool-size": { type: "string", default: "10" },
    "max-in-flight": { type: "string", default: "" },
    "max-batch": { type: "string", default: "" },
});
const KEY = "bench-signing-key";
const SECONDS = Number(values.seconds);
const CONNECTIONS = values.connections.split(",").map(Number);
const VARIANTS = values.variants.split(",");

const CONTENT = `<html><body>${"<p>Hello {{customer.first_name}}, here is this week's news.</p>".repeat(330)}</body></html>`; // ~20 KB
const METRICS = ["sent", "delivered", "opened", "clicked"];
let seq = 0;
const runId = Date.now().toString(36);

const WAVE = 2000;
/**
 * The next event. Like a campaign: a wave of 2,000 `sent`, then their `delivered`, `opened`, `clicked`,
 * then the next 2,000 deliveries; 5% of `sent` carry ~20 KB of body content.
 */
function nextBody(): string {
  const n = seq++;
  const wave = Math.floor(n / WAVE);
  const metric = METRICS[wave % 4]!;
  const deliveryIndex = Math.floor(wave / 4) * WAVE + (n % WAVE);
  const delivery = `${runId}-${deliveryIndex}`;
  const data: Record<string, unknown> = {
    action_id: 42,
    campaign_id: 12 + (n % 7),
    customer_id: String(1000 + (n % 5000)),
    delivery_id: delivery,
    identifiers: { id: String(1000 + (n % 5000)), email: `person${n % 5000}@example.com`, cio_id: `cio${n % 5000}` },
    journey_id: "01HZX4Y7Q8W9E0R1T2Y3U4I5O6",
    recipient: `person${n % 5000}@example.com`,
  };
  if (metric === "sent") {
    data["subject"] = "Your weekly digest";
    if (deliveryIndex % 20 === 0) data["content"] = CONTENT;
  }
  if (metric === "opened") Object.assign(data, { proxied: false, prefetched: n % 10 === 2, synthetic: false });
  if (metric === "clicked") Object.assign(data, { href: "https://example.com/articles/42?utm_source=cio", link_id: 3, machine: false });
  return JSON.stringify({ event_id: `01${runId.toUpperCase()}${String(n).padStart(10, "0")}`, object_type: "email", metric, timestamp: 1_700_000_000 + n, data });
}

interface Server {
  child: ChildProcess;
  port: number;
}

async function startServer(variant: string, databaseUrl: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    BENCH_VARIANT: variant,
    DATABASE_URL: databaseUrl,
    CIO_WEBHOOK_SIGNING_KEYS: KEY,
    PORT: String(await freePort()),
    LOG_LEVEL: "warn",
    MIGRATIONS_RUN: "false",
    REPORTER_ENABLED: "false",
    DB_POOL_SIZE: values["pool-size"],
    ...(values["max-in-flight"] ? { INGEST_MAX_IN_FLIGHT: values["max-in-flight"] } : {}),
    ...(values["max-batch"] ? { INGEST_MAX_BATCH: values["max-batch"] } : {}),
  };
  const child = spawn(process.execPath, [...(process.env["BENCH_CPU_PROF"] ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []), "--import", "tsx", "scripts/bench-ingest-server.ts"], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`${variant} server exited (${code}): ${out}`)));
  });
  return { child, port };
}

function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** event_ids of every 2xx (read from our answer's body), to check each one is in the database. */
const acknowledged: string[] = [];

function load(port: number, connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        duration: seconds,
        requests: [
          {
            method: "POST",
            path: "/webhooks/customerio",
            setupRequest: (req) => {
              const body = nextBody();
              const ts = String(Math.floor(Date.now() / 1000));
              return { ...req, body, headers: { "content-type": "application/json", "x-cio-timestamp": ts, "x-cio-signature": sign(KEY, ts, body) } };
            },
            onResponse: (status, body) => {
              if (status >= 200 && status < 300) {
                const id = /"event_id":"([^"]+)"/.exec(String(body))?.[1];
                if (id) acknowledged.push(id);
              }
            },
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

interface Row {
  variant: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  ok: number;
  verified: string;
  rss: number;
}

const db = await startBenchDatabase("ingest");
const rows: Row[] = [];
console.log(`bench:ingest  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}, ${SECONDS} s per run after ${values.warmup} s warm-up, DB_POOL_SIZE=${values["pool-size"]}`);
try {
  for (const variant of VARIANTS) {
    for (const connections of CONNECTIONS) {
      const url = await db.fresh(`bench_${variant}_${connections}`);
      const server = await startServer(variant, url);
      try {
        acknowledged.length = 0;
        const warm = await load(server.port, connections, Number(values.warmup));
        const result = await load(server.port, connections, SECONDS);
        const ok = warm["2xx"] + result["2xx"];
        let verified = "-";
        if (variant !== "baseline") {
          // Every acknowledged event must be stored, and every stored event applied to its delivery once.
          // (Requests still in flight when the load stops may be stored without being counted as 2xx.)
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          const { rows: r } = await client.query<{ found: number; stored: number; applied: number }>(
            `SELECT (SELECT count(*) FROM delivery_events WHERE event_id = ANY($1))::int AS found,
                    (SELECT count(*) FROM delivery_events)::int AS stored,
                    (SELECT coalesce(sum(event_count), 0) FROM deliveries)::int AS applied`,
            [acknowledged],
          );
          await client.end();
          const { found, stored, applied } = r[0]!;
          verified = found === ok && acknowledged.length === ok && applied === stored ? `${ok}/${ok} ✓` : `MISSING: ${found} of ${ok} acknowledged stored; ${applied} applied of ${stored}`;
        }
        rows.push({
          variant,
          connections,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors + result.timeouts + result.non2xx,
          ok,
          verified,
          rss: peakRss(server.child.pid!),
        });
        const last = rows[rows.length - 1]!;
        console.log(`${variant.padEnd(9)} c=${String(connections).padEnd(3)} ${last.rps.toFixed(0).padStart(6)} req/s  p50 ${last.p50} ms  p99 ${last.p99} ms  errors ${last.errors}  rows ${last.verified}  peak RSS ${mb(last.rss)}`);
      } finally {
        server.child.kill(process.env["BENCH_CPU_PROF"] ? "SIGINT" : "SIGKILL");
        if (process.env["BENCH_CPU_PROF"]) await new Promise((r) => server.child.once("exit", r));
      }
    }
  }
} finally {
  await db.stop();
}

const find = (variant: string, c: number) => rows.find((r) => r.variant === variant && r.connections === c);
console.log("\n| connections | variant | requests/s | p50 ms | p99 ms | errors | ÷ baseline | ÷ naive | rows verified | peak RSS |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const c of CONNECTIONS) {
  for (const r of rows.filter((x) => x.connections === c)) {
    const base = find("baseline", c);
    const naive = find("naive", c);
    console.log(
      `| ${c} | ${r.variant} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${base ? (r.rps / base.rps).toFixed(2) : "-"} | ${naive ? (r.rps / naive.rps).toFixed(2) : "-"} | ${r.verified} | ${mb(r.rss)} |`,
    );
  }
}
