// A database of its own for each test file, cloned from the migrated template that scripts/run-tests.ts
// prepares on a real PostgreSQL server.
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env["TEST_PG_ADMIN_URL"];
  if (!url) throw new Error("TEST_PG_ADMIN_URL is not set: run tests with `npm test` (scripts/run-tests.ts)");
  return url;
}

/** A migrated database of the test's own; `{ empty: true }` gives one with no tables at all. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const template = options.empty ? "template0" : (process.env["TEST_PG_TEMPLATE"] ?? "cio_template");
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  await admin.end();
  const url = Object.assign(new URL(adminUrl()), { pathname: `/${name}` }).toString();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // pool.end() resolves before its clients' sockets have closed; DROP DATABASE ... WITH (FORCE) then
  // terminates them, and the error (on the client, which the pool passes on as its own) would crash
  // the test file with no listener. Queries still reject on their own errors; this only keeps a
  // closing connection's late error from being uncaught.
  pool.on("connect", (client) => client.on("error", () => undefined));
  pool.on("error", () => undefined);
  return {
    url,
    pool,
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    drop: async () => {
      await pool.end();
      const a = new pg.Client({ connectionString: adminUrl() });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * Deliveries whose stored events are not each counted exactly once, either applied to the delivery row
 * (event_count) or still queued for the projector: an event half written, lost or applied twice.
 */
export function unevenDeliveries(db: Pick<TestDatabase, "query">): Promise<Array<{ delivery_id: string }>> {
  return db.query(`
    SELECT e.delivery_id FROM delivery_events e LEFT JOIN deliveries d USING (delivery_id)
    WHERE e.delivery_id <> ''
    GROUP BY e.delivery_id
    HAVING count(*) <> coalesce(max(d.event_count), 0) + (SELECT count(*) FROM projection_queue q WHERE q.delivery_id = e.delivery_id)`);
}

/** Waits until the projector (of whichever instance) has applied every queued event. */
export async function waitForProjection(db: Pick<TestDatabase, "query">, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM projection_queue")) as [{ n: number }];
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} events still queued for the projector after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
