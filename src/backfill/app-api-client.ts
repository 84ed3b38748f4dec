// Owns talking to Customer.io's App API: GET <base>/messages with Bearer auth, one keep-alive undici
// pool, a deadline per request, errors classified as retryable (network, timeout, 408, 429, 5xx) or
// permanent, and retries with backoff. Every request first takes a slot of a rate limit shared by all
// instances (reserved in PostgreSQL, like the reporter's, under a name of its own); a 429 pushes that
// limit's next slot out by its Retry-After for every instance.
//
// The base URL includes /v1: https://api.customer.io/v1 (EU: https://api-eu.customer.io/v1), or
// CIO_APP_API_URL (a proxy, or the fake in tests).
import type pg from "pg";
import { Pool } from "undici";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import { endpointLabel, metrics } from "../core/metrics.js";
import { RateLimiter } from "../reporter/rate-limiter.js";
import { isRetryableStatus, parseRetryAfter, TRACK_HOSTS, TrackClient } from "../reporter/track-client.js";

export const APP_API_HOSTS = { us: "https://api.customer.io/v1", eu: "https://api-eu.customer.io/v1" } as const;

/** Message types the App API documents; `sms` is accepted as ours for `twilio`. */
export const MESSAGE_TYPES = ["email", "push", "twilio", "in_app", "slack", "webhook", "whatsapp"] as const;
export const MAX_PAGE_SIZE = 1000;

export type AppMessage = Record<string, unknown>;

export interface MessagesQuery {
  /** Unix seconds: messages created from `startTs` (included) to `endTs`; at most 6 months apart. */
  startTs: number;
  endTs: number;
  /** Up to 1000. */
  limit: number;
  type?: string;
  /** The cursor a previous page returned as `next`. */
  start?: string | null;
}

export interface MessagesPage {
  messages: AppMessage[];
  /** The cursor of the next page; null after the last one. */
  next: string | null;
}

export class AppApiError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly body?: string,
    /** From a Retry-After header, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "AppApiError";
  }
}

/** Paces requests: a slot of the shared limit before each, and a pause for everyone after a 429. */
export interface Pacer {
  take(): Promise<void>;
  pause(ms: number): Promise<void>;
}

export interface AppApiClientOptions {
  apiKey: string;
  /** The base URL, /v1 included, or how to find it (the region lookup). */
  baseUrl: string | (() => Promise<string>);
  timeoutMs: number;
  pacer: Pacer;
  /** Attempts of one request before its error is thrown (retryable errors only). */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  log: Logger;
}

export class AppApiClient {
  private pools = new Map<string, Pool>();
  private base?: Promise<string>;
  private closed = false;
  /** Until when a 429's Retry-After holds this process back (ms). */
  private pausedUntil = 0;

  constructor(private readonly options: AppApiClientOptions) {}

  /** The base URL (resolved once; a failed region lookup is asked again next time). */
  baseUrl(): Promise<string> {
    const { baseUrl } = this.options;
    if (typeof baseUrl === "string") return Promise.resolve(baseUrl.replace(/\/$/, ""));
    if (!this.base) {
      this.base = baseUrl().then((u) => u.replace(/\/$/, ""));
      this.base.catch(() => {
        this.base = undefined;
      });
    }
    return this.base;
  }

  /** One page of GET /messages, retried (with the shared limit and backoff) while the error is retryable. */
  async listMessages(q: MessagesQuery, signal?: AbortSignal): Promise<MessagesPage> {
    const params = new URLSearchParams({ start_ts: String(q.startTs), end_ts: String(q.endTs), limit: String(q.limit) });
    if (q.type) params.set("type", q.type);
    if (q.start) params.set("start", q.start);
    const body = await this.get(`/messages?${params}`, signal);
    const page = body as { messages?: unknown; next?: unknown } | null;
    if (!page || !Array.isArray(page.messages)) throw new AppApiError("GET /messages: the answer has no messages array", false, 200, JSON.stringify(body).slice(0, 300));
    const messages = page.messages.filter((m): m is AppMessage => typeof m === "object" && m !== null && !Array.isArray(m));
    return { messages, next: typeof page.next === "string" && page.next !== "" ? page.next : null };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  private backoff(attempt: number): number {
    const base = this.options.backoffBaseMs ?? 500;
    const max = this.options.backoffMaxMs ?? 60_000;
    const ms = Math.min(max, base * 2 ** (attempt - 1));
    return ms / 2 + Math.random() * (ms / 2);
  }

  private async get(path: string, signal?: AbortSignal): Promise<unknown> {
    const maxAttempts = this.options.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      await this.options.pacer.take();
      // A slot reserved before a 429 came back (another reader of this process): wait out the pause,
      // then take a slot after it. Other instances learn of the pause from the shared limit.
      while (Date.now() < this.pausedUntil && !signal?.aborted) {
        await sleep(this.pausedUntil - Date.now(), signal);
        await this.options.pacer.take();
      }
      try {
        return await this.request(path, signal);
      } catch (err) {
        const e = err as AppApiError;
        if (!(e instanceof AppApiError) || !e.retryable || attempt >= maxAttempts || signal?.aborted || this.closed) throw err;
        const wait = e.retryAfterMs ?? this.backoff(attempt);
        this.options.log.warn({ status: e.status, attempt, retryInMs: Math.round(wait), reason: e.message.slice(0, 300) }, "App API request failed; retrying");
        if (e.status === 429) {
          // Everyone waits: the slot after the pause is the next one any instance gets.
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
          await this.options.pacer.pause(wait).catch(() => undefined);
        } else {
          await sleep(wait, signal);
        }
      }
    }
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 4, keepAliveTimeout: 30_000, pipelining: 1 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** One request; resolves with the parsed JSON of a 2xx, throws a classified AppApiError otherwise. */
  private async request(path: string, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(`${await this.baseUrl()}${path}`);
    const name = `GET ${url.pathname}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const answered = metrics.customerIoRequest("app", endpointLabel("GET", url.pathname));
    let res;
    try {
      res = await this.pool(url.origin).request({
        method: "GET",
        path: url.pathname + url.search,
        headers: { accept: "application/json", "user-agent": "cio-companion", authorization: `Bearer ${this.options.apiKey}` },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      if (signal?.aborted) throw err; // we stopped it: not an answer of Customer.io's
      const timedOut = e.name === "TimeoutError" || timeout.aborted;
      answered(timedOut ? "timeout" : "network_error");
      const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      throw new AppApiError(`${name}: ${reason}`, true);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      answered("network_error");
      throw new AppApiError(`${name}: response cut off (${(err as Error).message})`, true, res.statusCode);
    }
    answered(res.statusCode);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new AppApiError(`${name}: HTTP ${res.statusCode} with a body that is not JSON`, true, res.statusCode, text.slice(0, 300));
      }
    }
    throw new AppApiError(
      `${name}: HTTP ${res.statusCode} ${text.slice(0, 300)}`,
      isRetryableStatus(res.statusCode),
      res.statusCode,
      text.slice(0, 2000),
      parseRetryAfter(res.headers["retry-after"]),
    );
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface AppApiSetup {
  /** The hosts of each region (default APP_API_HOSTS; tests point them at the fake). */
  hosts?: { us: string; eu: string };
  /** Where the Track API's region lookup goes for CIO_REGION=auto (default its US host, or CIO_TRACK_URL). */
  trackBaseUrl?: string;
}

/**
 * The App API client as configured: CIO_APP_API_URL, else the region's host (CIO_REGION; `auto` asks
 * the Track API which region the workspace is in, with the Track credentials), paced by the limit
 * shared by every instance (CIO_APP_API_RATE_LIMIT, reserved in PostgreSQL). Undefined without a key.
 */
export function createAppApiClient(config: Pick<Config, "appApi" | "track">, pool: Pick<pg.Pool, "query">, log: Logger, setup: AppApiSetup = {}): AppApiClient | undefined {
  const { apiKey, baseUrl, region, rateLimit, timeoutMs } = config.appApi;
  if (!apiKey) return undefined;
  const hosts = setup.hosts ?? APP_API_HOSTS;
  const limiter = new RateLimiter(pool, rateLimit, APP_API_LIMITER);
  const lookup = async () => {
    const track = new TrackClient({ ...config.track, region: "us", connections: 1, timeoutMs, log });
    try {
      const found = await track.getRegion(setup.trackBaseUrl ?? config.track.baseUrl ?? TRACK_HOSTS.us);
      log.info({ region: found.region }, "App API region discovered");
      return found.region === "eu" ? hosts.eu : hosts.us;
    } finally {
      await track.close();
    }
  };
  return new AppApiClient({
    apiKey,
    baseUrl: baseUrl ?? (region === "auto" ? lookup : hosts[region]),
    timeoutMs,
    pacer: { take: () => limiter.take([], ""), pause: (ms) => limiter.pause(ms) },
    log,
  });
}

/** The name of the App API's limit in rate_limits (the reporter's is customerio-track). */
export const APP_API_LIMITER = "customerio-app-api";
