// Owns the read-only reports API under /reports/api and the dashboard at /reports, and who may read
// them on each listener. They hold personal data (addresses, message timelines), so:
// - the admin listener (ADMIN_HOST, loopback by default) serves them; without REPORTS_CREDENTIALS only to
//   clients on this machine that no proxy announces, with them only with Basic auth;
// - the public listener serves them only when REPORTS_CREDENTIALS is set, and then only with Basic auth,
//   whoever the client is: a local reverse proxy that adds no forwarding header looks like this machine.
import Router from "@koa/router";
import type { Next } from "koa";
import type pg from "pg";
import { basicCredentials } from "../core/basic-auth.js";
import type { Config } from "../core/config.js";
import { plainErrorPage } from "../core/error-page.js";
import { htmlPageHeaders } from "../core/page-headers.js";
import { HttpError } from "../core/errors.js";
import type { AppContext, AppState } from "../core/http.js";
import { completeness, type CompletenessSettings } from "../backfill/completeness.js";
import { dashboardPage } from "./dashboard.js";
import { OPENAPI } from "./openapi.js";
import { parseAll, parseFailureKind, parseFilters, parseGroups, parsePage, parsePersonKey, ReportQueryError, toCsv, type Params } from "./report-query.js";
import * as reports from "./reports.repository.js";

/** The dashboard; the API is under it (/reports/api). */
export const DASHBOARD_PATH = "/reports";

/** Which listener a router serves: the admin one (loopback by default) or the public one. */
export type Listener = "admin" | "public";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export function reportsAuth(pairs: readonly string[]) {
  const credentials = basicCredentials(pairs);
  return async (ctx: AppContext, next: Next) => {
    if (!credentials.configured) {
      // Only the admin listener mounts reports without credentials. If ADMIN_HOST was opened to the
      // network, or a proxy that says so stands in front of it, a client is not on this machine.
      const proxied = ctx.get("x-forwarded-for") !== "" || ctx.get("forwarded") !== "";
      if (proxied || !LOOPBACK.test(ctx.req.socket.remoteAddress ?? "")) {
        throw new HttpError(403, "reports_local_only", "Reports are served to this machine only; set REPORTS_CREDENTIALS to open them to others with Basic auth");
      }
    } else if (!credentials.matches(ctx.get("authorization"))) {
      throw new HttpError(401, "unauthorized", "Basic credentials do not match REPORTS_CREDENTIALS", { "www-authenticate": 'Basic realm="reports", charset="UTF-8"' });
    }
    await next();
  };
}

/** The dashboard is a page: its errors (a refused client, a database that is down) are HTML pages. */
const pageErrors = (ctx: AppContext, next: Next) => {
  if (!ctx.path.startsWith(`${DASHBOARD_PATH}/api`)) ctx.state.errorPage = plainErrorPage;
  return next();
};

/** The public listener without REPORTS_CREDENTIALS: no reports at all, and a 404 that says where they are. */
function reportsNotServed(): Router<AppState> {
  const router = new Router<AppState>({ prefix: DASHBOARD_PATH });
  router.use(pageErrors);
  router.all("{/*rest}", () => {
    throw new HttpError(404, "not_found", "Reports are not served on this port. They are on the admin listener (ADMIN_HOST:ADMIN_PORT, 127.0.0.1:3001 unless changed); set REPORTS_CREDENTIALS to serve them here too, with Basic auth");
  });
  return router;
}

/** The admin listener's front door: `/` leads to the dashboard. */
export function dashboardHomeRoutes(): Router<AppState> {
  const router = new Router<AppState>();
  router.get("/", (ctx) => {
    ctx.redirect(DASHBOARD_PATH);
  });
  return router;
}

/** CSV with ?format=csv, or with Accept: text/csv when no format is given; JSON otherwise. */
const wantsCsv = (ctx: AppContext) => ctx.query["format"] === "csv" || (ctx.query["format"] === undefined && ctx.accepts("json", "text/csv") === "text/csv");

const params = (ctx: AppContext): Params => Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));

/** JSON by default; CSV with ?format=csv or Accept: text/csv. */
function respond(ctx: AppContext, body: { rows: Array<Record<string, unknown>>; [k: string]: unknown }, filename: string) {
  if (wantsCsv(ctx)) {
    ctx.type = "text/csv; charset=utf-8";
    ctx.set("content-disposition", `attachment; filename="${filename}.csv"`);
    ctx.body = toCsv(body.rows as never);
  } else ctx.body = body;
}

const NO_COMPLETENESS: CompletenessSettings = { appApi: false, reconcile: { enabled: false, schedule: "", windowHours: 48, delayMinutes: 60, alertPercent: 1 }, silenceMinutes: 0 };

/** The reports as `listener` serves them (see the top of this file), with what is known of missing deliveries. */
export function reportsRoutes(config: Config["reports"], pool: pg.Pool, listener: Listener, settings: CompletenessSettings = NO_COMPLETENESS): Router<AppState> {
  if (listener === "public" && config.credentials.length === 0) return reportsNotServed();
  const router = new Router<AppState>({ prefix: DASHBOARD_PATH });
  router.use(pageErrors);
  router.use(reportsAuth(config.credentials));
  const paged = (rows: unknown[], page: reports.Page) => ({ limit: page.limit, offset: page.offset, next_offset: rows.length === page.limit ? page.offset + page.limit : null });

  router.get("/api/openapi.json", (ctx) => {
    ctx.body = OPENAPI;
  });
  router.get("/api/funnel", async (ctx) => {
    const p = params(ctx);
    const { timezone, today } = await reports.reportClock(pool);
    const [filters, groups] = parseAll(() => parseFilters(p, today), () => parseGroups(p["group_by"]));
    const rows = await reports.funnel(pool, filters, groups);
    respond(ctx, { timezone, filters, group_by: groups, rows }, "funnel");
  });
  router.get("/api/links", async (ctx) => {
    const p = params(ctx);
    const { timezone, today } = await reports.reportClock(pool);
    const [filters, page] = parseAll(() => parseFilters(p, today), () => parsePage(p));
    const rows = await reports.links(pool, filters, page);
    respond(ctx, { timezone, filters, ...paged(rows, page), rows }, "links");
  });
  router.get("/api/failures", async (ctx) => {
    const p = params(ctx);
    const { timezone, today } = await reports.reportClock(pool);
    const [filters, page, kind] = parseAll(() => parseFilters(p, today), () => parsePage(p), () => parseFailureKind(p["kind"]));
    const rows = await reports.failures(pool, filters, page, kind);
    respond(ctx, { timezone, filters, ...paged(rows, page), rows }, "failures");
  });
  router.get("/api/origins", async (ctx) => {
    const p = params(ctx);
    const { timezone, today } = await reports.reportClock(pool);
    const [filters, page] = parseAll(() => parseFilters(p, today), () => parsePage(p, 20));
    const rows = await reports.topOrigins(pool, filters, page.limit);
    respond(ctx, { timezone, filters, rows }, "origins");
  });
  router.get("/api/reconciliation", async (ctx) => {
    ctx.body = await completeness(pool, settings);
  });
  router.get("/api/deliveries/:deliveryId", async (ctx) => {
    const found = await reports.deliveryTimeline(pool, ctx.params["deliveryId"]!);
    if (!found) throw new HttpError(404, "not_found", "No delivery with that id");
    if (wantsCsv(ctx)) respond(ctx, { rows: found.events }, "timeline");
    else ctx.body = { delivery: found.delivery, events: found.events };
  });
  router.get("/api/people/:by/:value/deliveries", async (ctx) => {
    const by = parsePersonKey(ctx.params["by"]);
    const page = parsePage(params(ctx));
    const rows = await reports.personDeliveries(pool, by, ctx.params["value"]!, page);
    respond(ctx, { person: { [by]: ctx.params["value"] }, ...paged(rows, page), rows }, "deliveries");
  });

  router.get("/", async (ctx) => {
    const p = params(ctx);
    const { timezone, today } = await reports.reportClock(pool);
    let filters: reports.Filters;
    let problem: string | null = null;
    try {
      filters = parseFilters(p, today);
    } catch (err) {
      if (!(err instanceof ReportQueryError)) throw err;
      problem = err.message;
      filters = parseFilters({}, today);
    }
    const [total, daily, origins, links, failures, transient, complete] = await Promise.all([
      reports.funnel(pool, filters),
      reports.funnel(pool, filters, ["day"]),
      reports.topOrigins(pool, filters, 15),
      reports.links(pool, filters, { limit: 10, offset: 0 }),
      reports.failures(pool, filters, { limit: 10, offset: 0 }, "final"),
      reports.failures(pool, filters, { limit: 10, offset: 0 }, "transient"),
      completeness(pool, settings),
    ]);
    const nonce = htmlPageHeaders(ctx, "data:");
    const page = dashboardPage({ filters, params: p, problem, total: total[0] ?? {}, daily, origins, links, failures, transient, timezone, nonce, completeness: complete });
    ctx.body = page;
  });
  return router;
}
