// Owns the plain HTML error page of pages that have no branded one of their own (the dashboard): the
// status, what went wrong, and what to do, with the same security headers as every page.
import type { HttpError } from "./errors.js";
import type { AppContext } from "./http.js";
import { htmlPageHeaders } from "./page-headers.js";

const escape = (s: string) => s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);

const TITLES: Record<number, string> = {
  400: "This request doesn't look right",
  401: "Sign in needed",
  403: "Not available here",
  404: "Page not found",
  405: "Not allowed",
  429: "Too many requests",
  503: "The database is not answering",
};

export function plainErrorPage(error: HttpError, ctx: AppContext): string {
  const nonce = htmlPageHeaders(ctx, "'none'");
  const title = TITLES[error.status] ?? (error.status >= 500 ? "Something went wrong" : "Request refused");
  const hint = error.status === 503 ? "Nothing is lost; try again in a minute. If it lasts, check that PostgreSQL is running (GET /readyz says why)." : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)}</title>
<style nonce="${nonce}">body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f5f7}main{max-width:40rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px}h1{font-size:1.4rem;margin:0 0 1rem}.code{color:#4a4a4a;font-size:.875rem}</style>
</head><body><main>
<h1>${escape(title)}</h1>
<p>${escape(error.message.endsWith(".") ? error.message : `${error.message}.`)}</p>
${hint ? `<p>${escape(hint)}</p>` : ""}
<p class="code">HTTP ${error.status} · ${escape(error.code)} · request ${escape(ctx.state.requestId)}</p>
</main></body></html>`;
}
