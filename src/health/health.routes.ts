// Owns GET /healthz (the process is up) and GET /readyz (the database answers and is migrated).
import Router from "@koa/router";
import type { DataSource } from "typeorm";
import { checkReady } from "../core/database.js";
import type { AppState } from "../core/http.js";

export function healthRoutes(dataSource: DataSource, isShuttingDown: () => boolean): Router<AppState> {
  const router = new Router<AppState>();
  router.get("/healthz", (ctx) => {
    ctx.body = { ok: true };
  });
  router.get("/readyz", async (ctx) => {
    if (isShuttingDown()) {
      ctx.status = 503;
      ctx.body = { ok: false, reason: "shutting down" };
      return;
    }
    const ready = await checkReady(dataSource);
    ctx.status = ready.ok ? 200 : 503;
    ctx.body = ready;
  });
  return router;
}
