// A local fake of Customer.io's App API (GET /v1/messages) for tests and benchmarks: real HTTP servers
// for both regions (US and EU) that enforce the documented contract (shared README, section 6): Bearer
// auth with the App API key, the workspace's region, cursor pagination (`start` / `next`, `limit` up to
// 1000), the `start_ts` / `end_ts` window of at most 6 months, `type` and the other filters, and the
// rate limit of 10 requests/s (answering 429 with Retry-After past it). It records every request and
// fails on demand like the fake Track API: 4xx/429/5xx, slow answers, hung requests, reset connections.
//
// Choices where Customer.io documents nothing, made explicit here:
// - messages are listed newest first (then by id), and `next` is a keyset cursor: a message created
//   while a listing goes on does not shift the pages; a cursor used with other filters is a 400;
// - the window is `start_ts <= created < end_ts`;
// - the limit is a token bucket (`rateLimit` requests a second, as many at once), the usual shape;
// - a request to the other region's host is a 401: the key belongs to one region's workspace.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Fault } from "./fake-customerio.js";

export type { Fault } from "./fake-customerio.js";

export type AppMessage = Record<string, unknown> & { id: string; type: string; created: number; metrics: Record<string, number> };

export interface AppRequest {
  region: "us" | "eu";
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  at: number;
  status: number | null;
  /** Messages answered (a /v1/messages page). */
  messages: number;
}

/** The documented `type`s (README section 6): SMS is `twilio`. */
export const APP_MESSAGE_TYPES = ["email", "webhook", "twilio", "slack", "push", "in_app", "whatsapp"] as const;
const MAX_LIMIT = 1000;

export interface FakeAppApiOptions {
  apiKey?: string;
  /** The workspace's region: the other region's host answers 401. */
  region?: "us" | "eu";
  /** Requests a second (token bucket of this size, refilled at this rate). 0 turns the limit off. */
  rateLimit?: number;
  /** Seconds in Retry-After on a 429 of the limit; null sends none. */
  retryAfterSeconds?: number | null;
  /** Added to every answer. */
  latencyMs?: number;
}

interface FaultRule {
  fault: Fault;
  remaining: number;
}

class Reject extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const sixMonthsAfter = (seconds: number) => {
  const d = new Date(seconds * 1000);
  d.setUTCMonth(d.getUTCMonth() + 6);
  return d.getTime() / 1000;
};

export class FakeAppApi {
  readonly apiKey: string;
  readonly region: "us" | "eu";
  rateLimit: number;
  retryAfterSeconds: number | null;
  latencyMs: number;
  /** Every request to either region, in order. */
  readonly log: AppRequest[] = [];
  /** The base URL of each region, `/v1` included (what CIO_APP_API_URL takes). */
  readonly urls = { us: "", eu: "" };
  private messages: AppMessage[] = [];
  private sorted = true;
  private faults: FaultRule[] = [];
  private servers: http.Server[] = [];
  private sockets = new Set<import("node:net").Socket>();
  private hung: http.ServerResponse[] = [];
  private bucket = { tokens: 0, at: 0 };

  private constructor(options: FakeAppApiOptions) {
    this.apiKey = options.apiKey ?? "fake-app-api-key";
    this.region = options.region ?? "us";
    this.rateLimit = options.rateLimit ?? 10;
    this.retryAfterSeconds = options.retryAfterSeconds === undefined ? 1 : options.retryAfterSeconds;
    this.latencyMs = options.latencyMs ?? 0;
    this.bucket = { tokens: this.rateLimit, at: Date.now() };
  }

  static async start(options: FakeAppApiOptions = {}): Promise<FakeAppApi> {
    const fake = new FakeAppApi(options);
    for (const region of ["us", "eu"] as const) {
      const server = http.createServer((req, res) => void fake.handle(region, req, res));
      server.keepAliveTimeout = 30_000;
      server.on("connection", (s) => {
        fake.sockets.add(s);
        s.on("close", () => fake.sockets.delete(s));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      fake.urls[region] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      fake.servers.push(server);
    }
    return fake;
  }

  /** The base URL of the workspace's region. */
  get url(): string {
    return this.urls[this.region];
  }

  /** Adds messages (the workspace's history). */
  add(messages: readonly AppMessage[]): void {
    this.messages.push(...messages);
    this.sorted = false;
  }

  /** Removes every message. */
  clear(): void {
    this.messages = [];
  }

  get size(): number {
    return this.messages.length;
  }

  /** The next `count` requests get this fault instead of a normal answer. */
  fail(fault: Fault, count = 1): void {
    this.faults.push({ fault, remaining: count });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Requests to /v1/messages answered 200. */
  pages(): AppRequest[] {
    return this.log.filter((r) => r.path === "/v1/messages" && r.status === 200);
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private takeFault(): Fault | undefined {
    const rule = this.faults.find((f) => f.remaining > 0);
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining === 0) this.faults.splice(this.faults.indexOf(rule), 1);
    return rule.fault;
  }

  /** One token of the bucket, or false when it is empty. */
  private takeToken(): boolean {
    if (this.rateLimit <= 0) return true;
    const now = Date.now();
    this.bucket.tokens = Math.min(this.rateLimit, this.bucket.tokens + ((now - this.bucket.at) / 1000) * this.rateLimit);
    this.bucket.at = now;
    if (this.bucket.tokens < 1) return false;
    this.bucket.tokens -= 1;
    return true;
  }

  private async handle(region: "us" | "eu", req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for await (const chunk of req) void chunk; // a GET has no body; drain whatever was sent
    const url = new URL(req.url ?? "/", "http://fake");
    const entry: AppRequest = {
      region,
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      at: Date.now(),
      status: null,
      messages: 0,
    };
    this.log.push(entry);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
      res.end(text);
    };

    const fault = this.takeFault();
    if (fault && "reset" in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && "hang" in fault) {
      this.hung.push(res);
      return;
    }
    const delay = this.latencyMs + (fault && "delayMs" in fault ? fault.delayMs : 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (fault && "status" in fault) {
      send(fault.status, fault.body ?? { errors: [{ detail: `injected ${fault.status}` }] }, fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {});
      return;
    }
    try {
      // The limit counts every request that reaches the API, authorized or not.
      if (!this.takeToken()) {
        throw new Reject(429, `rate limit of ${this.rateLimit} requests per second exceeded`, this.retryAfterSeconds === null ? {} : { "retry-after": String(this.retryAfterSeconds) });
      }
      if (entry.authorization !== `Bearer ${this.apiKey}`) throw new Reject(401, "unauthorized: send the App API key as Authorization: Bearer <key>");
      if (region !== this.region) throw new Reject(401, `unauthorized: this workspace is in the ${this.region.toUpperCase()} region`);
      if (entry.method !== "GET") throw new Reject(405, `${entry.method} is not allowed here`, { allow: "GET" });
      if (url.pathname === "/v1/messages") {
        const page = this.list(url.searchParams);
        entry.messages = page.messages.length;
        send(200, page);
        return;
      }
      const one = /^\/v1\/messages\/([^/]+)$/.exec(url.pathname);
      if (one) {
        const found = this.messages.find((m) => m.id === decodeURIComponent(one[1]!));
        if (!found) throw new Reject(404, "message not found");
        send(200, { message: found });
        return;
      }
      throw new Reject(404, `no route for ${entry.method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof Reject) send(err.status, { errors: [{ detail: err.message, status: String(err.status) }] }, err.headers);
      else send(500, { errors: [{ detail: String(err) }] });
    }
  }

  private list(q: URLSearchParams): { messages: AppMessage[]; next: string } {
    const int = (name: string): number | undefined => {
      const v = q.get(name);
      if (v === null || v === "") return undefined;
      if (!/^\d+$/.test(v)) throw new Reject(400, `${name} must be a whole number`);
      return Number(v);
    };
    const limit = int("limit") ?? 50;
    if (limit < 1 || limit > MAX_LIMIT) throw new Reject(400, `limit must be from 1 to ${MAX_LIMIT}`);
    const startTs = int("start_ts");
    const endTs = int("end_ts");
    const now = Math.floor(Date.now() / 1000);
    const [from, to] = [startTs ?? (endTs ?? now) - 183 * 86400, endTs ?? now];
    if (from > to) throw new Reject(400, "start_ts must not be after end_ts");
    if (to > sixMonthsAfter(from)) throw new Reject(400, "the window from start_ts to end_ts must be at most 6 months");
    const type = q.get("type") ?? undefined;
    if (type !== undefined && !(APP_MESSAGE_TYPES as readonly string[]).includes(type)) throw new Reject(400, `type must be one of ${APP_MESSAGE_TYPES.join(", ")}`);
    const filters = { from, to, type: type ?? "", metric: q.get("metric") ?? "", campaign_id: q.get("campaign_id") ?? "", newsletter_id: q.get("newsletter_id") ?? "", action_id: q.get("action_id") ?? "" };
    const fingerprint = JSON.stringify(filters);

    let after: { created: number; id: string } | undefined;
    const start = q.get("start");
    if (start) {
      try {
        const cursor = JSON.parse(Buffer.from(start, "base64url").toString("utf8")) as { f: string; created: number; id: string };
        if (cursor.f !== fingerprint) throw new Error("other filters");
        after = { created: cursor.created, id: cursor.id };
      } catch {
        throw new Reject(400, "start is not a cursor of this listing");
      }
    }
    if (!this.sorted) {
      this.messages.sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.sorted = true;
    }
    // Newest first: binary search for the first message created before `to`, then walk.
    let lo = 0;
    let hi = this.messages.length;
    const bound = after ? after.created : to;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.messages[mid]!.created > bound || (!after && this.messages[mid]!.created === bound)) lo = mid + 1;
      else hi = mid;
    }
    const out: AppMessage[] = [];
    let more = false;
    for (let i = lo; i < this.messages.length; i++) {
      const m = this.messages[i]!;
      if (m.created < from) break;
      if (m.created >= to) continue;
      if (after && (m.created > after.created || (m.created === after.created && m.id <= after.id))) continue;
      if (filters.type && m.type !== filters.type) continue;
      if (filters.metric && !(filters.metric in m.metrics)) continue;
      if (filters.campaign_id && String(m["campaign_id"]) !== filters.campaign_id) continue;
      if (filters.newsletter_id && String(m["newsletter_id"]) !== filters.newsletter_id) continue;
      if (filters.action_id && String(m["action_id"]) !== filters.action_id) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(m);
    }
    const last = out[out.length - 1];
    const next = more && last ? Buffer.from(JSON.stringify({ f: fingerprint, created: last.created, id: last.id })).toString("base64url") : "";
    return { messages: out, next };
  }
}

export interface MessageMix {
  /** First and last `created` (unix seconds); messages are spread evenly between them. */
  from: number;
  to: number;
  count: number;
  /** Prefix of the delivery ids (`<prefix>-<n>`). */
  prefix?: string;
  type?: string;
  campaignId?: number;
}

/**
 * Messages shaped like the App API's, deterministic for a given mix: every one sent; most delivered;
 * about a third opened (some first by a prefetch), some clicked, a few bounced with a reason.
 */
export function makeMessages(mix: MessageMix): AppMessage[] {
  const prefix = mix.prefix ?? "msg";
  const span = Math.max(0, mix.to - mix.from);
  return Array.from({ length: mix.count }, (_, i) => {
    const created = mix.from + (mix.count > 1 ? Math.floor((span * i) / (mix.count - 1)) : 0);
    const metrics: Record<string, number> = { sent: created + 1 };
    let failure: string | null = null;
    if (i % 50 === 7) {
      metrics["bounced"] = created + 20;
      failure = "550 5.1.1 The email account does not exist";
    } else {
      metrics["delivered"] = created + 5;
      if (i % 3 === 0) {
        if (i % 9 === 0) metrics["prefetch_opened"] = metrics["opened"] = created + 60;
        else metrics["opened"] = created + 120;
        metrics["human_opened"] = created + 120;
        if (i % 12 === 0) metrics["clicked"] = metrics["human_clicked"] = created + 180;
      }
    }
    const person = String(100_000 + (i % 997));
    return {
      id: `${prefix}-${i}`,
      type: mix.type ?? (i % 10 === 9 ? "twilio" : "email"),
      created,
      customer_id: person,
      customer_identifiers: { id: person, email: `person${person}@example.com`, cio_id: `cio${person}` },
      recipient: i % 10 === 9 ? `+1555${person}` : `person${person}@example.com`,
      subject: i % 10 === 9 ? null : "Your weekly digest",
      campaign_id: mix.campaignId ?? 40 + (i % 3),
      action_id: 400 + (i % 3),
      parent_action_id: null,
      broadcast_id: null,
      newsletter_id: null,
      content_id: null,
      message_template_id: 7,
      deduplicate_id: `${created}:${prefix}-${i}`,
      failure_message: failure,
      metrics,
    };
  });
}
