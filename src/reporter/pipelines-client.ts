// Owns talking to Customer.io's Data Pipelines API: POST <base>/batch with the source's write key as
// Basic auth (blank password), a keep-alive undici pool per origin, a deadline per request, and errors
// classified like the Track API's (network, timeout, 408, 429, 5xx retryable; other 4xx permanent). We
// ask for strict mode (`X-Strict-Mode: 1`), so Customer.io answers an invalid call or key with a 400 or
// 401 instead of a 200 that silently drops it: only then can a rejected call become a dead letter.
import { Pool } from "undici";
import type { Logger } from "../core/logger.js";
import { endpointLabel, metrics } from "../core/metrics.js";
import { isRetryableStatus, parseRetryAfter, TrackError, type TrackResponse } from "./track-client.js";

export const PIPELINES_HOSTS = { us: "https://cdp.customer.io/v1", eu: "https://cdp-eu.customer.io/v1" } as const;

export interface PipelinesClientOptions {
  /** CIO_CDP_URL, or the region's host (resolved when first needed: the region may be looked up). */
  baseUrl: () => Promise<string>;
  timeoutMs: number;
  connections: number;
  log: Logger;
}

export class PipelinesClient {
  private pools = new Map<string, Pool>();

  constructor(private readonly options: PipelinesClientOptions) {}

  /** POST /batch: resolves on 2xx, throws a classified TrackError otherwise. The key is never in an error. */
  async batch(writeKey: string, calls: readonly object[]): Promise<TrackResponse> {
    let base: string;
    try {
      base = (await this.options.baseUrl()).replace(/\/$/, "");
    } catch (err) {
      throw new TrackError(`Data Pipelines host unknown: ${(err as Error).message}`, true);
    }
    const url = new URL(`${base}/batch`);
    const answered = metrics.customerIoRequest("pipelines", endpointLabel("POST", url.pathname));
    let res;
    try {
      res = await this.pool(url.origin).request({
        method: "POST",
        path: url.pathname + url.search,
        headers: {
          accept: "application/json",
          "content-type": "application/json",
          "user-agent": "cio-companion",
          "x-strict-mode": "1",
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
        },
        body: JSON.stringify({ batch: calls }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
      answered(timedOut ? "timeout" : "network_error");
      const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      throw new TrackError(`POST ${url.pathname}: ${reason}`, true);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      answered("network_error");
      throw new TrackError(`POST ${url.pathname}: response cut off (${(err as Error).message})`, true, res.statusCode);
    }
    answered(res.statusCode);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      return { status: res.statusCode, body: parsed };
    }
    throw new TrackError(
      `POST ${url.pathname}: HTTP ${res.statusCode} ${text.slice(0, 300)}`,
      isRetryableStatus(res.statusCode),
      res.statusCode,
      text.slice(0, 2000),
      parseRetryAfter(res.headers["retry-after"]),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: this.options.connections, keepAliveTimeout: 30_000, pipelining: 1 });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
