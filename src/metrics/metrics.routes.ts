// Owns GET /metrics (Prometheus text format) and who may scrape it:
// - the admin listener (ADMIN_HOST, loopback by default) serves it; with METRICS_CREDENTIALS set, only
//   with Basic auth;
// - the public listener serves it only when METRICS_CREDENTIALS is set, and then only with Basic auth;
//   without them it answers 404 and says where the metrics are.
// Each scrape reads the database-wide gauges first (one bounded statement, database-gauges.ts), then
// writes out the process's instruments (the first scrape starts prom-client's process metrics), this
// service's pools and those gauges.
import Router from "@koa/router";
import type { Next } from "koa";
import type client from "prom-client";
import { basicCredentials } from "../core/basic-auth.js";
import { HttpError } from "../core/errors.js";
import type { AppContext, AppState } from "../core/http.js";
import { startProcessMetrics } from "../core/metrics.js";
import type { DatabaseGauges } from "./database-gauges.js";

export const METRICS_PATH = "/metrics";

export type Listener = "admin" | "public";

function metricsAuth(pairs: readonly string[]) {
  const credentials = basicCredentials(pairs);
  return async (ctx: AppContext, next: Next) => {
    if (credentials.configured && !credentials.matches(ctx.get("authorization"))) {
      throw new HttpError(401, "unauthorized", "Basic credentials do not match METRICS_CREDENTIALS", { "www-authenticate": 'Basic realm="metrics", charset="UTF-8"' });
    }
    await next();
  };
}

export function metricsRoutes(credentials: readonly string[], listener: Listener, registries: readonly client.Registry[], gauges: Pick<DatabaseGauges, "refresh">): Router<AppState> {
  const router = new Router<AppState>();
  if (listener === "public" && credentials.length === 0) {
    router.get(METRICS_PATH, () => {
      throw new HttpError(404, "not_found", "Metrics are not served on this port. They are on the admin listener (ADMIN_HOST:ADMIN_PORT, 127.0.0.1:3001 unless changed); set METRICS_CREDENTIALS to serve them here too, with Basic auth");
    });
    return router;
  }
  router.get(METRICS_PATH, metricsAuth(credentials), async (ctx) => {
    startProcessMetrics();
    await gauges.refresh();
    ctx.set("cache-control", "no-store");
    ctx.type = registries[0]!.contentType;
    // Each registry writes whole families; their names never repeat across them.
    ctx.body = (await Promise.all(registries.map((r) => r.metrics()))).join("");
  });
  return router;
}
