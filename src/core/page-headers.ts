// Owns the security headers of every HTML page we serve (unsubscribe pages, the dashboard): styles
// only by nonce, no scripts, no framing, no referrer, not cached.
import { randomBytes } from "node:crypto";
import type { AppContext } from "./http.js";

/** Sets the headers and returns the nonce the page's <style> must carry. */
export function htmlPageHeaders(ctx: AppContext, imgSrc: string): string {
  const nonce = randomBytes(16).toString("base64");
  ctx.type = "text/html; charset=utf-8";
  ctx.set({
    "content-security-policy": `default-src 'none'; style-src 'nonce-${nonce}'; img-src ${imgSrc}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  });
  return nonce;
}
