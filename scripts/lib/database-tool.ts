// Runs a command-line tool against the service's database: DATABASE_URL, or the embedded PostgreSQL
// of this folder (the running one, or started for the tool and stopped after it). Exits as runTool says.
import pg from "pg";
import { runTool, type Tool } from "../../src/core/cli.js";
import { loadDatabaseConfig } from "../../src/core/config.js";
import { openDatabase, type Database } from "../../src/core/database.js";

export interface ToolDatabase {
  database: Database;
  url: string;
  pool: pg.Pool;
}

export async function runDatabaseTool(tool: Tool, work: (db: ToolDatabase) => Promise<void>, options: { poolSize?: number } = {}): Promise<never> {
  let database: Database | undefined;
  let pool: pg.Pool | undefined;
  let url: string | undefined;
  return runTool(
    tool,
    async () => {
      const config = loadDatabaseConfig();
      url = config.url;
      database = await openDatabase(config, { log: (m) => console.error(m), role: "tool" });
      pool = new pg.Pool({ connectionString: database.url, max: options.poolSize ?? 2 });
      await work({ database, url: database.url, pool });
    },
    async () => {
      await pool?.end();
      await database?.close();
    },
    () => url,
  );
}
