// Owns /unsubscribe/<delivery_id>: GET shows the page; POST takes the page's form, a mail client's
// RFC 8058 one-click (`List-Unsubscribe=One-Click`, as a urlencoded or multipart form, answered 200 with
// no page), or Customer.io's JSON `{"unsubscribe": true|false}` (so the official client's unsubscribe()
// works against us). Links from test sends and previews (`unsent`) record nothing. Every
// change is committed before the answer. Resubscribing through the form needs a token from our own
// page, so no cross-site request can resubscribe someone silently; a JSON request from another site
// cannot be sent without a CORS preflight, which we never grant.
import { createHmac, timingSafeEqual } from "node:crypto";
import Router from "@koa/router";
import { koaBody } from "koa-body";
import type { Next } from "koa";
import type { Config } from "../core/config.js";
import { withDeadline } from "../core/deadline.js";
import { htmlPageHeaders } from "../core/page-headers.js";
import { HttpError, unavailableOr } from "../core/errors.js";
import type { AppContext, AppState, ErrorPage } from "../core/http.js";
import { content, kindOf, maskRecipient, page, type Branding } from "./pages.js";
import { UnknownIdRateLimiter } from "./rate-limit.js";
import type { UnsubscribeService } from "./unsubscribe.service.js";

export const DELIVERY_ID = /^[A-Za-z0-9_=+.:-]{1,200}$/;
const TOKEN_TTL_SECONDS = 24 * 3600;

export function resubscribeToken(secret: string, deliveryId: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const expires = nowSeconds + TOKEN_TTL_SECONDS;
  return `${expires}.${createHmac("sha256", secret).update(`resubscribe:${deliveryId}:${expires}`).digest("base64url")}`;
}

export function validToken(secret: string, deliveryId: string, token: unknown, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  if (typeof token !== "string") return false;
  const [expires, mac] = token.split(".");
  if (!expires || !mac || !/^\d+$/.test(expires) || Number(expires) < nowSeconds) return false;
  const expected = createHmac("sha256", secret).update(`resubscribe:${deliveryId}:${expires}`).digest();
  const given = Buffer.from(mac, "base64url");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * What Customer.io puts in place of a delivery id in previews and test sends (shared README, section 3).
 * Such a link never records anything.
 */
export const TEST_SEND_IDS = new Set(["unsent"]);
export const isTestSend = (deliveryId: string) => TEST_SEND_IDS.has(deliveryId.toLowerCase());
const TEST_SEND_MESSAGE = "This link is from a test or preview message: nothing was recorded and nobody was unsubscribed";

/** An error in Customer.io's shape for JSON clients (`meta.errors`); HTML clients get its page. */
const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new HttpError(status, code, message, headers, { meta: { errors: [message] } });

/** The page of each error code: its title and content. */
const ERROR_PAGES: Record<string, [string, () => string]> = {
  invalid: ["Link not recognised", content.invalid],
  invalid_delivery_id: ["Link not recognised", content.invalid],
  invalid_body: ["Link not recognised", content.invalid],
  payload_too_large: ["Link not recognised", content.invalid],
  unsupported_media_type: ["Link not recognised", content.invalid],
  method_not_allowed: ["Link not recognised", content.invalid],
  page_expired: ["Page expired", content.expired],
  rate_limited: ["Too many requests", content.tooMany],
  unavailable: ["Please try again", content.unavailable],
};

export function unsubscribeRoutes(config: Config["unsubscribe"], brand: Branding, service: Pick<UnsubscribeService, "summary" | "record">, commitTimeoutMs: number): Router<AppState> {
  const router = new Router<AppState>();
  const limiter = new UnknownIdRateLimiter({ perAddress: config.rateLimitPerMinute, overall: config.unknownRateLimitPerMinute });
  const logoOrigin = brand.logoUrl ? new URL(brand.logoUrl).origin : null;
  // RFC 8058's own example of a one-click POST is multipart/form-data; fields only, no files.
  const parse = koaBody({
    json: true, jsonStrict: true, urlencoded: true, text: false, multipart: true, jsonLimit: "8kb", formLimit: "8kb",
    formidable: { maxFiles: 0, maxFields: 20, maxFieldsSize: 8 * 1024, maxTotalFileSize: 1 },
  });

  const html = (ctx: AppContext, status: number, title: string, body: (nonce: string) => string) => {
    const nonce = htmlPageHeaders(ctx, logoOrigin ?? "'none'");
    ctx.status = status;
    ctx.body = page(brand, { title, content: body(nonce), nonce });
  };
  // Errors are thrown; the HTTP shell answers them with these pages (or JSON to a JSON client).
  const errorPage: ErrorPage = (error, ctx) => {
    const [title, body] = ERROR_PAGES[error.code] ?? (error.status >= 500 ? ERROR_PAGES["unavailable"]! : ERROR_PAGES["invalid"]!);
    const nonce = htmlPageHeaders(ctx, logoOrigin ?? "'none'");
    return page(brand, { title, content: body(), nonce });
  };
  router.use((ctx, next) => {
    ctx.state.errorPage = errorPage;
    return next();
  });

  const validId = async (ctx: AppContext, next: Next) => {
    const id = (ctx.params as { deliveryId?: string }).deliveryId ?? "";
    if (!DELIVERY_ID.test(id)) throw refuse(400, "invalid_delivery_id", "delivery_id must be 1 to 200 letters, digits or _=+.:-");
    await next();
  };
  const clientOf = (ctx: AppContext) => (config.recordClient ? { ip: ctx.ip, userAgent: ctx.get("user-agent") } : undefined);

  router.get("/unsubscribe/:deliveryId", validId, async (ctx) => {
    const id = ctx.params["deliveryId"]!;
    if (isTestSend(id)) {
      html(ctx, 200, "Test message", () => content.testSend());
      return;
    }
    // A delivery we have not seen is shown the same page, without details: no hint whether it exists.
    // With the database down, too: the person can still press the button (and is told to retry if
    // the change cannot be stored).
    const delivery = await service.summary(id).catch(() => undefined);
    if (delivery?.unsubscribed) {
      html(ctx, 200, "You're unsubscribed", () => content.done("", resubscribeToken(config.secret, id)));
      return;
    }
    html(ctx, 200, "Unsubscribe", () => content.confirm("", kindOf(delivery?.channel ?? null), maskRecipient(delivery?.recipient ?? null), brand.name));
  });

  router.post("/unsubscribe/:deliveryId", validId, async (ctx, next) => {
    const id = ctx.params["deliveryId"]!;
    if (isTestSend(id)) {
      // Whatever the POST (the page, a mail client's one-click, JSON): explained, and nothing recorded.
      ctx.status = 200;
      if (ctx.is("application/json")) ctx.body = { test_send: true, message: TEST_SEND_MESSAGE };
      else html(ctx, 200, "Test message", () => content.testSend());
      return;
    }
    // A delivery we know is never refused for its address (mail providers send one-click POSTs for
    // all their users from a few servers); ids we do not know are limited per address and overall.
    const known = await service.summary(id).catch(() => undefined);
    const wait = known ? 0 : limiter.hit(ctx.ip);
    if (wait > 0) throw refuse(429, "rate_limited", "Too many requests for unknown delivery ids; retry later", { "retry-after": String(wait) });
    await next();
  }, async (ctx, next) => {
    if (!ctx.is("application/json", "application/x-www-form-urlencoded", "multipart/form-data")) throw refuse(415, "unsupported_media_type", "Send application/json or a form");
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      if ((err as { status?: number }).status === 413) throw refuse(413, "payload_too_large", "The body is larger than 8 KB");
      throw refuse(400, "invalid_body", "The body could not be read");
    }
    await next();
  }, async (ctx) => {
    const id = ctx.params["deliveryId"]!;
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const record = async (value: boolean, method: "page" | "one_click" | "api") => {
      try {
        await withDeadline(service.record(id, value, method, clientOf(ctx)), commitTimeoutMs);
      } catch (err) {
        ctx.state.log.warn({ err: (err as Error).message }, "unsubscribe not stored");
        const error = unavailableOr(err, "The request could not be stored right now; retry later");
        throw error instanceof HttpError && error.status === 503 ? refuse(503, "unavailable", error.message, { "retry-after": "30" }) : error;
      }
    };

    if (ctx.is("application/json")) {
      if (typeof body["unsubscribe"] !== "boolean") throw refuse(400, "invalid_body", "unsubscribe must be true or false");
      await record(body["unsubscribe"], "api");
      ctx.status = 200;
      ctx.body = {};
      return;
    }
    if (body["List-Unsubscribe"] === "One-Click") {
      // RFC 8058: a mail client's button; no page, no redirect, no cookies.
      await record(true, "one_click");
      ctx.status = 200;
      ctx.type = "text/plain";
      ctx.body = "Unsubscribed\n";
      return;
    }
    if (body["unsubscribe"] === "false") {
      if (!validToken(config.secret, id, body["token"])) throw refuse(403, "page_expired", "The resubscribe token is missing or expired; open the unsubscribe link again");
      await record(false, "page");
      html(ctx, 200, "You're subscribed again", () => content.resubscribed(""));
      return;
    }
    await record(true, "page");
    html(ctx, 200, "You're unsubscribed", () => content.done("", resubscribeToken(config.secret, id)));
  });

  // /unsubscribe, /unsubscribe/ and ids with a slash: the same helpful page, not a JSON 404.
  router.all("/unsubscribe{/*rest}", () => {
    throw refuse(400, "invalid_delivery_id", "The link has no delivery id, or more than one path segment");
  });
  return router;
}
