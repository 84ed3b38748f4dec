// The HTTP benchmark harness shared by bench:ingest and bench:relay: each variant of scripts/bench-server.ts
// in its own process, loaded by autocannon on loopback at each concurrency, with every acknowledged
// request collected so the caller can check it is in the database, and each server's peak RSS.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import autocannon from "autocannon";
import pg from "pg";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { freePort, mb, type BenchDatabase } from "./bench-db.js";

export interface BenchServer {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

export async function startBenchServer(variant: string, databaseUrl: string, env: Record<string, string>): Promise<BenchServer> {
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    BENCH_VARIANT: variant,
    DATABASE_URL: databaseUrl,
    PORT: String(await freePort()),
    ADMIN_PORT: "0", // the admin listener is not measured; any free port
    LOG_LEVEL: "warn",
    MIGRATIONS_RUN: "false",
    REPORTER_ENABLED: "false",
    ...env,
  };
  const profile = Boolean(process.env["BENCH_CPU_PROF"]);
  const child = spawn(process.execPath, [...(profile ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []), "--import", "tsx", "scripts/bench-server.ts"], { cwd: PROJECT_ROOT, env: childEnv, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`${variant} server exited (${code}): ${out}`)));
  });
  return {
    child,
    port,
    stop: async () => {
      // A clean exit on SIGINT lets --cpu-prof write its profile.
      child.kill(profile ? "SIGINT" : "SIGKILL");
      if (profile) await new Promise((r) => child.once("exit", r));
    },
  };
}

export function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

export interface BenchRequest {
  path: string;
  body: string;
  headers: Record<string, string>;
  /** What identifies this request's row in the database, to check it once it is acknowledged. */
  key: string;
}

/** Loads the server; `acknowledged` receives the key of every 2xx (from the answer, or the request). */
export function load(port: number, connections: number, seconds: number, next: () => BenchRequest, acknowledged: string[], keyOf?: (body: string) => string | undefined): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        duration: seconds,
        requests: [
          {
            method: "POST",
            // One request in flight per connection (no pipelining): the context holds the current one.
            setupRequest: (req, context) => {
              const r = next();
              (context as { key?: string }).key = r.key;
              return { ...req, path: r.path, body: r.body, headers: r.headers };
            },
            onResponse: (status, body, context) => {
              if (status < 200 || status >= 300) return;
              const key = keyOf ? keyOf(String(body)) : (context as { key?: string }).key;
              if (key) acknowledged.push(key);
            },
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

export interface BenchRow {
  variant: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  verified: string;
  rss: number;
  /** What Matrix.during measured during the load (our projection lag), if anything. */
  during?: string;
}

export const rowOf = (variant: string, connections: number, result: autocannon.Result, verified: string, rss: number): BenchRow => ({
  variant,
  connections,
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts + result.non2xx,
  verified,
  rss,
});

export function printLine(r: BenchRow): void {
  console.log(`${r.variant.padEnd(9)} c=${String(r.connections).padEnd(3)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}  rows ${r.verified}  peak RSS ${mb(r.rss)}`);
}

/** The Markdown table of the README: ratios against the baseline and the naive variant of the same run. */
export function printTable(rows: readonly BenchRow[], connections: readonly number[]): void {
  const find = (variant: string, c: number) => rows.find((r) => r.variant === variant && r.connections === c);
  const ceilings = ["bare", "baseline"].filter((v) => rows.some((r) => r.variant === v));
  const withDuring = rows.some((r) => r.during);
  console.log(`\n| connections | variant | requests/s | p50 ms | p99 ms | errors | ${ceilings.map((v) => `÷ ${v} | `).join("")}÷ naive | acknowledged rows verified | peak RSS |${withDuring ? " during the load |" : ""}`);
  console.log(`|---|---|---|---|---|---|${ceilings.map(() => "---|").join("")}---|---|---|${withDuring ? "---|" : ""}`);
  for (const c of connections) {
    for (const r of rows.filter((x) => x.connections === c)) {
      const ratio = (of: BenchRow | undefined) => (of ? (r.rps / of.rps).toFixed(2) : "-");
      const cells = [c, r.variant, r.rps.toFixed(0), r.p50, r.p99, r.errors, ...ceilings.map((v) => ratio(find(v, c))), ratio(find("naive", c)), r.verified, mb(r.rss), ...(withDuring ? [r.during ?? "-"] : [])];
      console.log(`| ${cells.join(" | ")} |`);
    }
  }
}

export interface Matrix {
  db: BenchDatabase;
  name: string;
  variants: readonly string[];
  connections: readonly number[];
  seconds: number;
  warmupSeconds: number;
  env: Record<string, string>;
  /** Fills the variant's fresh database before its server starts. */
  prepare?: (url: string) => Promise<void>;
  next: () => BenchRequest;
  /** Reads the acknowledged key from our answer; default: the request's own key. */
  keyOf?: (body: string) => string | undefined;
  /** Checks every acknowledged request in the variant's database; returns the "verified" cell. */
  verify: (url: string, acknowledged: readonly string[]) => Promise<string>;
  /** Started when the measured load starts, stopped when it ends: a note for the row (not for the baseline variants). */
  during?: (url: string, variant: string) => { stop(): Promise<string> } | undefined;
}

/** Every variant at every concurrency, each against a fresh database: printed as it goes, then as a table. */
export async function runMatrix(m: Matrix): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const variant of m.variants) {
    for (const connections of m.connections) {
      const url = await m.db.fresh(`bench_${m.name}_${variant}_${connections}`);
      await m.prepare?.(url);
      const server = await startBenchServer(variant, url, m.env);
      try {
        const acknowledged: string[] = [];
        const withDatabase = variant !== "baseline" && variant !== "bare";
        await load(server.port, connections, m.warmupSeconds, m.next, acknowledged, m.keyOf);
        const sampling = withDatabase ? m.during?.(url, variant) : undefined;
        const result = await load(server.port, connections, m.seconds, m.next, acknowledged, m.keyOf);
        const during = await sampling?.stop();
        // Requests still in flight when the load stops may be stored without being counted as 2xx.
        const verified = withDatabase ? await m.verify(url, acknowledged) : "-";
        rows.push({ ...rowOf(variant, connections, result, verified, peakRss(server.child.pid!)), ...(during ? { during } : {}) });
        printLine(rows[rows.length - 1]!);
      } finally {
        await server.stop();
      }
    }
  }
  printTable(rows, m.connections);
  return rows;
}

/** The p-th percentile (nearest rank) of ascending samples. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One query on the variant's database (the verification after a run). */
export async function queryOnce<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[]): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows[0]!;
  } finally {
    await client.end();
  }
}
