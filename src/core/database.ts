// Owns the connection to PostgreSQL: which server (external or embedded), the TypeORM DataSource and
// its pg pool settings, migrations, and readiness.
import pg from "pg";
import { DataSource } from "typeorm";
import type { DataSourceOptions } from "typeorm";
type PostgresConnectionOptions = Extract<DataSourceOptions, { type: "postgres" }>;
import { Delivery } from "../../entities/delivery.entity.js";
import { DeliveryEvent } from "../../entities/delivery-event.entity.js";
import { OutboxItem } from "../../entities/outbox-item.entity.js";
import { PersonSubscription } from "../../entities/person-subscription.entity.js";
import { RateLimit } from "../../entities/rate-limit.entity.js";
import { Unsubscribe } from "../../entities/unsubscribe.entity.js";
import { DeliveryStatsDaily } from "../../entities/delivery-stats-daily.entity.js";
import { ReportSettings } from "../../entities/report-settings.entity.js";
import { EventRetention } from "../../entities/event-retention.entity.js";
import { Erasure } from "../../entities/erasure.entity.js";
import { PipelinesWriteKey } from "../../entities/pipelines-write-key.entity.js";
import { BackfillRun } from "../../entities/backfill-run.entity.js";
import { WebhookHeartbeat } from "../../entities/webhook-heartbeat.entity.js";
import { ProjectionQueueItem } from "../../entities/projection-queue.entity.js";
import { migrations } from "../../migrations/index.js";
import type { Config } from "./config.js";
import { EmbeddedPostgres, type EmbeddedRole } from "./embedded-postgres.js";

export const entities = [DeliveryEvent, Delivery, PersonSubscription, OutboxItem, RateLimit, Unsubscribe, DeliveryStatsDaily, ReportSettings, EventRetention, Erasure, PipelinesWriteKey, BackfillRun, WebhookHeartbeat, ProjectionQueueItem];
export const EMBEDDED_DATABASE = "cio";

export interface PoolSettings {
  poolSize: number;
  connectTimeoutMs: number;
  /** 0 = no limit (migrations, replay, benchmarks' setup). */
  statementTimeoutMs: number;
  applicationName?: string;
}

export function dataSourceOptions(url: string, pool: PoolSettings): PostgresConnectionOptions {
  return {
    type: "postgres",
    url,
    entities,
    migrations,
    migrationsTableName: "migrations",
    migrationsTransactionMode: "each",
    synchronize: false,
    logging: false,
    poolSize: pool.poolSize,
    connectTimeoutMS: pool.connectTimeoutMs,
    applicationName: pool.applicationName ?? "cio-companion",
    extra: pgSettings(pool),
  };
}

/** The pg settings shared by the DataSource's pool and the service's own pools. */
function pgSettings(pool: PoolSettings) {
  return {
    connectionTimeoutMillis: pool.connectTimeoutMs,
    application_name: pool.applicationName ?? "cio-companion",
    // Server-side limit plus a client-side one a little later: a stalled server or network still
    // turns into an error (and a 503) instead of a hang.
    statement_timeout: pool.statementTimeoutMs || undefined,
    query_timeout: pool.statementTimeoutMs ? pool.statementTimeoutMs + 500 : undefined,
    idle_in_transaction_session_timeout: 60_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  };
}

/**
 * A pool of its own for one part of the service (ingest, the outbox sender, reports), so that a busy
 * part waits for its own connections and never takes another's.
 */
export function createPool(url: string, pool: PoolSettings): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max: pool.poolSize, ...pgSettings(pool) });
  // A connection that dies while its client is checked out (say between two statements of a
  // transaction) emits 'error' on the client, and pg-pool listens only while a client is idle: unheard,
  // that error would be an uncaught exception and take the process down. The statement that runs on the
  // client fails with it anyway, so the caller still sees it; idle clients also reach the pool's listener.
  created.on("connect", (client) => client.on("error", () => undefined));
  return created;
}

export function createDataSource(url: string, pool: PoolSettings): DataSource {
  return new DataSource(dataSourceOptions(url, pool));
}

/** The pg pool behind a DataSource: the hot paths use it directly, one round trip per batch. */
export function poolOf(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as unknown as { master: pg.Pool }).master;
}

const guarded = new WeakSet<pg.PoolClient>();

/**
 * A pooled connection held for several statements. A connection that breaks while held (between two
 * statements) emits 'error'; with no listener that would end the process. The next statement fails
 * and says so, which is where callers handle it, so the event itself is only absorbed here.
 */
export async function checkout(pool: Pick<pg.Pool, "connect">): Promise<pg.PoolClient> {
  const client = await pool.connect();
  if (!guarded.has(client)) {
    client.on("error", () => undefined);
    guarded.add(client);
  }
  return client;
}

/** Runs `work` in one transaction on one pooled connection: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await checkout(pool);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Runs pending migrations on a short-lived connection without statement timeout, one instance at a time. */
export async function migrate(url: string): Promise<string[]> {
  const ds = createDataSource(url, { poolSize: 2, connectTimeoutMs: 10_000, statementTimeoutMs: 0, applicationName: "cio-companion-migrate" });
  await ds.initialize();
  try {
    // Several instances may start together: the advisory lock lets one migrate while the others wait.
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query("SELECT pg_advisory_lock(hashtext('cio-companion:migrations'))");
      const applied = await ds.runMigrations({ transaction: "each" });
      return applied.map((m) => m.name);
    } finally {
      await runner.query("SELECT pg_advisory_unlock(hashtext('cio-companion:migrations'))").catch(() => undefined);
      await runner.release();
    }
  } finally {
    await ds.destroy();
  }
}

export interface Database {
  url: string;
  embedded?: EmbeddedPostgres;
  close(): Promise<void>;
}

/**
 * Resolves the server: DATABASE_URL, or the embedded PostgreSQL (started here if needed). A service
 * owns the embedded server (and refuses to start while another service owns it); command-line tools
 * use the running one and stop only a server they started, so a tool next to the service leaves the
 * service's database alone. See embedded-postgres.ts.
 */
export async function openDatabase(
  config: Config["database"],
  options: { log?: (msg: string) => void; role: EmbeddedRole },
): Promise<Database> {
  if (config.url) return { url: config.url, close: async () => undefined };
  const embedded = new EmbeddedPostgres({ dir: config.embeddedDir, port: config.embeddedPort, database: EMBEDDED_DATABASE, role: options.role, log: options.log });
  const url = await embedded.start();
  return { url, embedded, close: () => embedded.stop() };
}

/** The URL tools use when they do not start the server themselves (ormconfig.ts, CLI scripts). */
export function configuredUrl(config: Config["database"]): string {
  if (config.url) return config.url;
  return new EmbeddedPostgres({ dir: config.embeddedDir, port: config.embeddedPort, database: EMBEDDED_DATABASE }).url(EMBEDDED_DATABASE);
}

/** Readiness: the server answers and no migration is pending. */
export async function checkReady(dataSource: DataSource): Promise<{ ok: boolean; reason?: string }> {
  try {
    const pending = await dataSource.showMigrations();
    return pending ? { ok: false, reason: "migrations pending" } : { ok: true };
  } catch (err) {
    return { ok: false, reason: `database unreachable: ${(err as Error).message}` };
  }
}
