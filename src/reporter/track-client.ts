// Owns talking to Customer.io's Track API: one keep-alive undici pool per origin, Basic auth where the
// API requires it, a deadline per request, region discovery, and errors classified as retryable
// (network, timeout, 408, 429, 5xx) or permanent.
import { Pool } from "undici";
import type { Logger } from "../core/logger.js";
import { endpointLabel, metrics } from "../core/metrics.js";

export const TRACK_HOSTS = { us: "https://track.customer.io", eu: "https://track-eu.customer.io" } as const;

export interface TrackClientOptions {
  siteId?: string;
  apiKey?: string;
  region: "us" | "eu" | "auto";
  /** Overrides the region's host (tests, proxies). */
  baseUrl?: string;
  /** The hosts of each region (default TRACK_HOSTS; tests point them at fakes). */
  regionHosts?: { us: string; eu: string };
  timeoutMs: number;
  connections: number;
  log: Logger;
}

export interface TrackResponse {
  status: number;
  body: unknown;
}

export class TrackError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly body?: string,
    /** From a Retry-After header, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "TrackError";
  }
}

export const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** Retry-After is seconds or an HTTP date; the official client honours up to 300 s, and so do we. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 300_000) : undefined;
}

export interface V2DeliveryItem {
  type: "delivery";
  action: "event";
  identifiers: { id: string };
  name: "opened" | "converted" | "delivered";
  timestamp?: number;
  attributes?: { device_token?: string };
}
export interface BatchError {
  batch_index: number;
  reason?: string;
  field?: string;
  message?: string;
}

type Auth = "basic" | "none";

export class TrackClient {
  private pools = new Map<string, Pool>();
  private base?: Promise<string>;

  constructor(private readonly options: TrackClientOptions) {}

  get hasCredentials(): boolean {
    return Boolean(this.options.siteId && this.options.apiKey);
  }

  /**
   * The Track API base URL: CIO_TRACK_URL, the configured region, or the region Customer.io reports.
   * A discovered region is kept; a failed lookup is not: the call fails as retryable (its row is tried
   * again later, with backoff) and the next call asks again. Guessing a region instead would send an
   * EU workspace's data through the US host.
   */
  baseUrl(): Promise<string> {
    if (!this.base) {
      this.base = this.resolveBase();
      this.base.catch(() => {
        this.base = undefined;
      });
    }
    return this.base;
  }

  private async resolveBase(): Promise<string> {
    const { baseUrl, region, log } = this.options;
    const hosts = this.options.regionHosts ?? TRACK_HOSTS;
    if (baseUrl) return baseUrl.replace(/\/$/, "");
    if (region !== "auto") return hosts[region];
    try {
      const found = await this.getRegion(hosts.us);
      log.info({ region: found.region }, "Customer.io region discovered");
      return found.region === "eu" ? hosts.eu : hosts.us;
    } catch (err) {
      const e = err as TrackError;
      log.warn({ err: e.message }, "Customer.io region lookup failed; the call will be retried (set CIO_REGION to skip the lookup)");
      throw new TrackError(`region lookup failed: ${e.message}`, e.retryable !== false || e.status === undefined, e.status);
    }
  }

  private discovered?: Promise<"us" | "eu">;

  /**
   * The workspace's region: CIO_REGION, or (auto) the one Customer.io reports for the Track credentials,
   * kept once found (a failed lookup is not kept). The Data Pipelines host follows it.
   */
  region(): Promise<"us" | "eu"> {
    const { region } = this.options;
    if (region !== "auto") return Promise.resolve(region);
    if (!this.discovered) {
      this.discovered = this.getRegion((this.options.regionHosts ?? TRACK_HOSTS).us).then((r) => (r.region === "eu" ? "eu" : "us"));
      this.discovered.catch(() => {
        this.discovered = undefined;
      });
    }
    return this.discovered;
  }

  /** GET /api/v1/accounts/region (Basic). */
  async getRegion(base?: string): Promise<{ url: string; region: "us" | "eu"; environment_id: number }> {
    const res = await this.call("GET", "/api/v1/accounts/region", undefined, "basic", base);
    return res.body as { url: string; region: "us" | "eu"; environment_id: number };
  }

  /** POST /api/v1/metrics (no auth): a delivery metric for any channel. */
  reportMetric(body: { delivery_id: string; metric: string; timestamp?: number; recipient?: string; reason?: string; href?: string }) {
    return this.call("POST", "/api/v1/metrics", body, "none");
  }

  /** Deprecated push metric: /api/v1/push/events (spec, Node client) or /push/events at the host root (mobile SDKs). */
  trackPush(body: { delivery_id: string; event: string; device_id: string; timestamp?: number }, path: "/api/v1/push/events" | "/push/events" = "/push/events") {
    return this.call("POST", path, body, "none");
  }

  /** POST /unsubscribe/{delivery_id} at the host root (no auth): `false` resubscribes. */
  unsubscribe(deliveryId: string, unsubscribe = true) {
    return this.call("POST", `/unsubscribe/${encodeURIComponent(deliveryId)}`, { unsubscribe }, "none");
  }

  /** POST /api/v2/entity (Basic). */
  entity(item: Record<string, unknown>) {
    return this.call("POST", "/api/v2/entity", item, "basic");
  }

  /** POST /api/v2/batch (Basic). Resolves with the per-item errors of a 207 (empty when all succeeded). */
  async batch(items: readonly object[]): Promise<BatchError[]> {
    const res = await this.call("POST", "/api/v2/batch", { batch: items }, "basic");
    if (res.status === 207) return ((res.body as { errors?: BatchError[] } | null)?.errors ?? []);
    return [];
  }

  identify(customerId: string, attributes: Record<string, unknown>) {
    return this.call("PUT", `/api/v1/customers/${encodeURIComponent(customerId)}`, attributes, "basic");
  }
  deleteCustomer(customerId: string) {
    return this.call("DELETE", `/api/v1/customers/${encodeURIComponent(customerId)}`, undefined, "basic");
  }
  trackEvent(customerId: string, event: { name: string; data?: Record<string, unknown>; timestamp?: number }) {
    return this.call("POST", `/api/v1/customers/${encodeURIComponent(customerId)}/events`, event, "basic");
  }
  trackAnonymousEvent(event: { name: string; anonymous_id?: string; data?: Record<string, unknown> }) {
    return this.call("POST", "/api/v1/events", event, "basic");
  }
  addDevice(customerId: string, device: { id: string; platform: string; last_used?: number; attributes?: Record<string, unknown> }) {
    return this.call("PUT", `/api/v1/customers/${encodeURIComponent(customerId)}/devices`, { device }, "basic");
  }
  deleteDevice(customerId: string, deviceId: string) {
    return this.call("DELETE", `/api/v1/customers/${encodeURIComponent(customerId)}/devices/${encodeURIComponent(deviceId)}`, undefined, "basic");
  }
  suppress(customerId: string) {
    return this.call("POST", `/api/v1/customers/${encodeURIComponent(customerId)}/suppress`, undefined, "basic");
  }
  unsuppress(customerId: string) {
    return this.call("POST", `/api/v1/customers/${encodeURIComponent(customerId)}/unsuppress`, undefined, "basic");
  }
  addToSegment(segmentId: number, ids: string[], idType?: "id" | "email" | "cio_id") {
    return this.segment(segmentId, "add_customers", ids, idType);
  }
  removeFromSegment(segmentId: number, ids: string[], idType?: "id" | "email" | "cio_id") {
    return this.segment(segmentId, "remove_customers", ids, idType);
  }
  private segment(segmentId: number, op: string, ids: string[], idType?: string) {
    if (ids.length > 1000) throw new TrackError("a segment call takes at most 1000 ids", false);
    const query = idType ? `?id_type=${idType}` : "";
    return this.call("POST", `/api/v1/segments/${segmentId}/${op}${query}`, { ids }, "basic");
  }
  submitForm(formId: string, data: Record<string, unknown>) {
    return this.call("POST", `/api/v1/forms/${encodeURIComponent(formId)}/submit`, { data }, "basic");
  }
  mergeCustomers(primary: Record<string, string>, secondary: Record<string, string>) {
    return this.call("POST", "/api/v1/merge_customers", { primary, secondary }, "basic");
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

  /** One request; resolves on 2xx, throws a classified TrackError otherwise. */
  async call(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body: unknown, auth: Auth, base?: string): Promise<TrackResponse> {
    const url = new URL(path, `${base ?? (await this.baseUrl())}/`);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "cio-companion" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth === "basic") {
      if (!this.hasCredentials) throw new TrackError(`${method} ${path} needs CIO_SITE_ID and CIO_API_KEY`, false);
      headers["authorization"] = `Basic ${Buffer.from(`${this.options.siteId}:${this.options.apiKey}`).toString("base64")}`;
    }
    const answered = metrics.customerIoRequest("track", endpointLabel(method, url.pathname));
    let res;
    try {
      res = await this.pool(url.origin).request({
        method,
        path: url.pathname + url.search,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
      answered(timedOut ? "timeout" : "network_error");
      const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      throw new TrackError(`${method} ${path}: ${reason}`, true);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      answered("network_error");
      throw new TrackError(`${method} ${path}: response cut off (${(err as Error).message})`, true, res.statusCode);
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
      `${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`,
      isRetryableStatus(res.statusCode),
      res.statusCode,
      text.slice(0, 2000),
      parseRetryAfter(res.headers["retry-after"]),
    );
  }
}
