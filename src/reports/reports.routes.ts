// Owns the read-only reports API under /reports/api and the dashboard at /reports. With
// REPORTS_CREDENTIALS set, Basic auth must match one pair; without it, only clients on this machine
// (loopback) are served, so the reports are off the public internet unless you decide otherwise.
import Router from "@koa/router";
import type { Next } from "koa";
import type pg from "pg";
import { basicCredentials } from "../core/basic-auth.js";
import type { Config } from "../core/config.js";
import { plainErrorPage } from "../core/error-page.js";
import { htmlPageHeaders } from "../core/page-headers.js";
import { HttpError } from "../core/errors.js";
import type { AppContext, AppState } from "../core/http.js";
import { dashboardPage } from "./dashboard.js";
import { OPENAPI } from "./openapi.js";
import { parseAll, parseFilters, parseGroups, parsePage, parsePersonKey, toCsv, type Params } from "./report-query.js";
import * as reports from "./reports.repository.js";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export function reportsAuth(pairs: readonly string[]) {
  const credentials = basicCredentials(pairs);
  return async (ctx: AppContext, next: Next) => {
    if (!credentials.configured) {
      // A reverse proxy on this machine also connects from loopback: a proxied request is not local.
      const proxied = ctx.get("x-forwarded-for") !== "" || ctx.get("forwarded") !== "";
      if (proxied || !LOOPBACK.test(ctx.req.socket.remoteAddress ?? "")) {
        throw new HttpError(403, "reports_local_only", "Reports are served to this machine only; set REPORTS_CREDENTIALS to open them to others with Basic auth");
      }
    } else if (!credentials.matches(ctx.get("authorization"))) {
      throw new HttpError(401, "unauthorized", "Basic credentials do not match REPORTS_CREDENTIALS", { "www-authenticate": 'Basic realm="reports"' });
    }
    await next();
  };
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

/** The dashboard; the API is under it (/reports/api). */
export const DASHBOARD_PATH = "/reports";

export function reportsRoutes(config: Config["reports"], pool: pg.Pool): Router<AppState> {
  const router = new Router<AppState>({ prefix: DASHBOARD_PATH });
  // The dashboard is a page: its errors (a refused client, a database that is down) are HTML pages.
  router.use((ctx, next) => {
    if (!ctx.path.startsWith(`${DASHBOARD_PATH}/api`)) ctx.state.errorPage = plainErrorPage;
    return next();
  });
  router.use(reportsAuth(config.credentials));
  const paged = (rows: unknown[], page: reports.Page) => ({ limit: page.limit, offset: page.offset, next_offset: rows.length === page.limit ? page.offset + page.limit : null });

  router.get("/api/openapi.json", (ctx) => {
    ctx.body = OPENAPI;
  });
  router.get("/api/funnel", async (ctx) => {
    const p = params(ctx);
    const [filters, groups] = parseAll(() => parseFilters(p), () => parseGroups(p["group_by"]));
    const rows = await reports.funnel(pool, filters, groups);
    respond(ctx, { timezone: await reports.reportTimezone(pool), filters, group_by: groups, rows }, "funnel");
  });
  router.get("/api/links", async (ctx) => {
    const p = params(ctx);
    const [filters, page] = parseAll(() => parseFilters(p), () => parsePage(p));
    const rows = await reports.links(pool, filters, page);
    respond(ctx, { timezone: await reports.reportTimezone(pool), filters, ...paged(rows, page), rows }, "links");
  });
  router.get("/api/failures", async (ctx) => {
    const p = params(ctx);
    const [filters, page] = parseAll(() => parseFilters(p), () => parsePage(p));
    const rows = await reports.failures(pool, filters, page);
    respond(ctx, { timezone: await reports.reportTimezone(pool), filters, ...paged(rows, page), rows }, "failures");
  });
  router.get("/api/origins", async (ctx) => {
    const p = params(ctx);
    const filters = parseFilters(p);
    const page = parsePage(p, 20);
    const rows = await reports.topOrigins(pool, filters, page.limit);
    respond(ctx, { timezone: await reports.reportTimezone(pool), filters, rows }, "origins");
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
    let filters: reports.Filters;
    let problem: string | null = null;
    try {
      filters = parseFilters(p);
    } catch (err) {
      problem = (err as Error).message;
      filters = parseFilters({});
    }
    const [total, daily, origins, links, failures, timezone] = await Promise.all([
      reports.funnel(pool, filters),
      reports.funnel(pool, filters, ["day"]),
      reports.topOrigins(pool, filters, 15),
      reports.links(pool, filters, { limit: 10, offset: 0 }),
      reports.failures(pool, filters, { limit: 10, offset: 0 }),
      reports.reportTimezone(pool),
    ]);
    const nonce = htmlPageHeaders(ctx, "data:");
    const page = dashboardPage({ filters, params: p, problem, total: total[0] ?? {}, daily, origins, links, failures, timezone, nonce });
    ctx.body = page;
  });
  return router;
}
