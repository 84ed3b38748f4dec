// Owns what one running service adds to the process's metrics: the gauges of its connection pools, the
// database-wide gauges (read through a pool of one connection of its own, so a scrape never waits for
// ingest's or the reports' connections), the /metrics routes of each listener, and the counting of
// answers. startService builds it once; with METRICS_ENABLED=false it turns recording off and serves
// nothing.
import client from "prom-client";
import type pg from "pg";
import type Router from "@koa/router";
import type { Config } from "../core/config.js";
import { createPool } from "../core/database.js";
import type { AppContext, AppState } from "../core/http.js";
import { METRICS_PREFIX, processRegistry, setMetricsEnabled } from "../core/metrics.js";
import { countAnswer } from "./answers.js";
import { DatabaseGauges } from "./database-gauges.js";
import { metricsRoutes, type Listener } from "./metrics.routes.js";

export interface ServiceMetrics {
  /** The /metrics routes of a listener (none when metrics are off). */
  routes(listener: Listener): Router<AppState>[];
  /** For the public listener's createHttpApp: counts webhook and relay answers. */
  onAnswered: ((ctx: AppContext) => void) | undefined;
  /** The connection the scrapes read with, to be closed with the service's pools; none when off. */
  pool: pg.Pool | undefined;
}

/** `pools` by name (the name is the `pool` label); an undefined one is left out. */
export function observeService(config: Pick<Config, "metrics" | "database">, databaseUrl: string, pools: Record<string, pg.Pool | undefined>): ServiceMetrics {
  setMetricsEnabled(config.metrics.enabled);
  if (!config.metrics.enabled) return { routes: () => [], onAnswered: undefined, pool: undefined };

  const db = config.database;
  const pool = createPool(databaseUrl, { poolSize: 1, connectTimeoutMs: db.connectTimeoutMs, statementTimeoutMs: db.statementTimeoutMs, applicationName: "cio-companion-metrics" });
  const own = new client.Registry();
  const named = Object.entries({ ...pools, metrics: pool }).filter((e): e is [string, pg.Pool] => e[1] !== undefined);
  const poolGauge = (name: string, help: string, read: (p: pg.Pool) => number) =>
    new client.Gauge({
      name: `${METRICS_PREFIX}${name}`,
      help,
      labelNames: ["pool"],
      registers: [own],
      collect() {
        for (const [label, p] of named) this.set({ pool: label }, read(p));
      },
    });
  poolGauge("db_pool_connections_in_use", "Connections of this instance's pool checked out now, by pool (ingest, reporter, reports, reconcile, metrics).", (p) => p.totalCount - p.idleCount);
  poolGauge("db_pool_waiting_requests", "Requests for a connection waiting on a full pool now, by pool.", (p) => p.waitingCount);
  poolGauge("db_pool_max_connections", "Size of each pool (its most connections).", (p) => p.options.max);

  const gauges = new DatabaseGauges(pool, own);
  return {
    // Both registries are written at each scrape: the process's instruments (including those the first
    // scrape starts) and this service's.
    routes: (listener) => [metricsRoutes(config.metrics.credentials, listener, [processRegistry, own], gauges)],
    onAnswered: countAnswer,
    pool,
  };
}
