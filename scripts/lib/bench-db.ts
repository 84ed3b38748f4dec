// A throwaway embedded PostgreSQL for benchmarks, with the same settings as a trial install (durable:
// fsync on), a fresh migrated database, and a clean stop.
import path from "node:path";
import pg from "pg";
import { migrate } from "../../src/core/database.js";
import { EmbeddedPostgres } from "../../src/core/embedded-postgres.js";
import { DATA_DIR } from "../../src/core/paths.js";
import { freePort } from "./free-port.js";

export { freePort };


export interface BenchDatabase {
  embedded: EmbeddedPostgres;
  /** A new, migrated database on the cluster. */
  fresh(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startBenchDatabase(name: string): Promise<BenchDatabase> {
  const embedded = new EmbeddedPostgres({ dir: path.join(DATA_DIR, `bench-${name}`), port: await freePort(), database: "postgres", settings: { max_connections: "300" } });
  embedded.removeData();
  await embedded.start();
  return {
    embedded,
    fresh: async (db: string) => {
      const admin = new pg.Client({ connectionString: embedded.url("postgres") });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.end();
      const url = embedded.url(db);
      await migrate(url);
      return url;
    },
    stop: async () => {
      await embedded.destroy();
    },
  };
}

/** Samples resident memory; `peak` is the highest seen. */
export function rssSampler(everyMs = 100): { peak: () => number; stop: () => void } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
