// Owns the budget of request-body bytes held in memory at once, across every request of the process:
// a body is counted from before it is read (so bytes read before a signature or credentials are checked
// count too) until its answer is sent. A request that does not fit is answered 503 at once, before a
// byte of it is read, rather than letting memory grow.
import type { Next } from "koa";
import { unavailable } from "./errors.js";
import type { AppContext } from "./http.js";

export class ByteBudget {
  private used = 0;
  constructor(readonly total: number) {}

  get inUse(): number {
    return this.used;
  }

  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.total) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/**
 * Reserves a request's body in the budget: its Content-Length, or `maxBodyBytes` for a chunked body of
 * unknown length (never more: a larger body is refused by its route's own limit).
 */
export function bodyBudget(budget: ByteBudget, maxBodyBytes: number) {
  return async (ctx: AppContext, next: Next) => {
    const length = ctx.req.headers["content-length"];
    const chunked = ctx.req.headers["transfer-encoding"] !== undefined;
    const declared = length !== undefined ? Number(length) : chunked ? maxBodyBytes : 0;
    const bytes = Number.isFinite(declared) ? Math.min(Math.max(declared, 0), maxBodyBytes) : maxBodyBytes;
    if (bytes === 0) return next();
    if (!budget.tryTake(bytes)) throw unavailable(`Too many request bodies are being read at once (REQUEST_BODY_BUDGET ${budget.total} bytes); retry shortly`, 1);
    ctx.res.once("close", () => budget.give(bytes));
    await next();
  };
}
