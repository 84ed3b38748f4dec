// A local fake of Customer.io's Track API for tests and benchmarks: a real HTTP server that enforces
// the documented contract (paths, methods, Basic auth where required, JSON content type, body shapes,
// size limits), records what it accepted, and fails on demand: 400/401/429 (with or without
// Retry-After)/5xx, slow answers, hung requests, reset connections, in bursts.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  method: string;
  path: string;
  query: string;
  auth: { user: string; password: string } | null;
  contentType: string | undefined;
  body: unknown;
  at: number;
}

export type Fault =
  | { status: number; retryAfter?: number | string; body?: unknown }
  | { reset: true }
  | { hang: true }
  | { delayMs: number };

interface FaultRule {
  fault: Fault;
  remaining: number;
  match?: (path: string) => boolean;
}

// Written from the shared README, not imported from src/: the fake must hold the contract on its own,
// so a mistake in our validation cannot be mirrored here.
export const METRICS_BY_CHANNEL: Record<string, string[]> = {
  email: ["bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"],
  webhook: ["bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"],
  push: ["converted", "delivered", "opened"],
  in_app: ["clicked", "converted", "opened"],
  slack: ["clicked", "converted", "delivered", "opened"],
  sms: ["bounced", "clicked", "delivered", "opened"],
};
const ALL_METRICS = new Set(Object.values(METRICS_BY_CHANNEL).flat());
const PUSH_EVENTS = new Set(["opened", "converted", "delivered"]);
const KB = 1024;

class Reject extends Error {
  constructor(readonly status: number, readonly errors: string[]) {
    super(errors.join("; "));
  }
}

export interface FakeCustomerIoOptions {
  siteId?: string;
  apiKey?: string;
  region?: "us" | "eu";
  /** Added to every answer. */
  latencyMs?: number;
}

export class FakeCustomerIo {
  readonly siteId: string;
  readonly apiKey: string;
  latencyMs: number;
  /** Requests answered 2xx, in order. */
  readonly accepted: Received[] = [];
  /** Every request, with the status answered (null when reset or hung). */
  readonly log: Array<Received & { status: number | null }> = [];
  private faults: FaultRule[] = [];
  private server: http.Server;
  private sockets = new Set<import("node:net").Socket>();
  private hung: http.ServerResponse[] = [];
  /** Known delivery channels, for the per-channel metric check (unknown deliveries are accepted). */
  readonly channels = new Map<string, string>();
  url = "";

  constructor(private readonly options: FakeCustomerIoOptions = {}) {
    this.siteId = options.siteId ?? "fake-site";
    this.apiKey = options.apiKey ?? "fake-key";
    this.latencyMs = options.latencyMs ?? 0;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(options: FakeCustomerIoOptions = {}): Promise<FakeCustomerIo> {
    const fake = new FakeCustomerIo(options);
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The next `count` requests (matching `path` if given) get this fault instead of a normal answer. */
  fail(fault: Fault, count = 1, path?: string | RegExp): void {
    const match = path === undefined ? undefined : (p: string) => (typeof path === "string" ? p === path : path.test(p));
    this.faults.push({ fault, remaining: count, match });
  }

  clearFaults(): void {
    this.faults = [];
  }

  acceptedOn(path: string | RegExp): Received[] {
    return this.accepted.filter((r) => (typeof path === "string" ? r.path === path : path.test(r.path)));
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(path: string): Fault | undefined {
    const rule = this.faults.find((f) => f.remaining > 0 && (!f.match || f.match(path)));
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining === 0) this.faults.splice(this.faults.indexOf(rule), 1);
    return rule.fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://fake");
    const received: Received = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.search,
      auth: parseBasic(req.headers.authorization),
      contentType: req.headers["content-type"],
      body: undefined,
      at: Date.now(),
    };
    const entry = { ...received, status: null as number | null };
    this.log.push(entry);

    const fault = this.takeFault(received.path);
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

    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (fault && "status" in fault) {
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {};
      send(fault.status, fault.body ?? { meta: { errors: [`injected ${fault.status}`] } }, headers);
      return;
    }

    try {
      if (raw.length > 0) {
        try {
          received.body = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new Reject(400, ["body is not valid JSON"]);
        }
      }
      entry.body = received.body;
      const answer = this.route(received, raw.length);
      this.accepted.push(received);
      send(answer.status, answer.body);
    } catch (err) {
      if (err instanceof Reject) send(err.status, { meta: { errors: err.errors } });
      else send(500, { meta: { errors: [String(err)] } });
    }
  }

  private requireAuth(r: Received): void {
    if (!r.auth || r.auth.user !== this.siteId || r.auth.password !== this.apiKey) throw new Reject(401, ["unauthorized"]);
  }

  private requireJson(r: Received): Record<string, unknown> {
    if (!r.contentType?.startsWith("application/json")) throw new Reject(400, ["Content-Type must be application/json"]);
    if (typeof r.body !== "object" || r.body === null || Array.isArray(r.body)) throw new Reject(400, ["body must be a JSON object"]);
    return r.body as Record<string, unknown>;
  }

  private route(r: Received, size: number): { status: number; body: unknown } {
    const ok = { status: 200, body: {} };
    const m = `${r.method} ${r.path}`;

    if (m === "GET /api/v1/accounts/region") {
      this.requireAuth(r);
      return { status: 200, body: { url: this.url, region: this.options.region ?? "us", environment_id: 1 } };
    }
    if (m === "POST /api/v1/metrics") {
      const b = this.requireJson(r);
      const errors: string[] = [];
      if (typeof b["delivery_id"] !== "string" || b["delivery_id"] === "") errors.push("delivery_id is required");
      if (typeof b["metric"] !== "string" || !ALL_METRICS.has(b["metric"])) errors.push(`metric must be one of ${[...ALL_METRICS].join(", ")}`);
      const channel = this.channels.get(String(b["delivery_id"]));
      if (channel && typeof b["metric"] === "string" && !METRICS_BY_CHANNEL[channel]?.includes(b["metric"])) errors.push(`metric ${b["metric"]} is not valid for ${channel}`);
      if (b["timestamp"] !== undefined && !Number.isInteger(b["timestamp"])) errors.push("timestamp must be an integer");
      for (const f of ["recipient", "reason", "href"]) if (b[f] !== undefined && typeof b[f] !== "string") errors.push(`${f} must be a string`);
      if (errors.length > 0) throw new Reject(400, errors);
      return ok;
    }
    if (m === "POST /api/v1/push/events" || m === "POST /push/events") {
      const b = this.requireJson(r);
      const errors: string[] = [];
      if (typeof b["delivery_id"] !== "string" || b["delivery_id"] === "") errors.push("delivery_id is required");
      if (typeof b["event"] !== "string" || !PUSH_EVENTS.has(b["event"])) errors.push("event must be opened, converted or delivered");
      if (typeof b["device_id"] !== "string" || b["device_id"] === "") errors.push("device_id is required");
      if (b["timestamp"] !== undefined && !Number.isInteger(b["timestamp"])) errors.push("timestamp must be an integer");
      if (errors.length > 0) throw new Reject(400, errors);
      return ok;
    }
    if (r.method === "POST" && /^\/unsubscribe\/[^/]+$/.test(r.path)) {
      const b = this.requireJson(r);
      if (typeof b["unsubscribe"] !== "boolean") throw new Reject(400, ["unsubscribe must be a boolean"]);
      return ok;
    }
    if (m === "POST /api/v2/entity") {
      this.requireAuth(r);
      const b = this.requireJson(r);
      if (size > 32 * KB) throw new Reject(413, ["entity larger than 32 KB"]);
      const error = checkV2Item(b);
      if (error) throw new Reject(400, [error]);
      return ok;
    }
    if (m === "POST /api/v2/batch") {
      this.requireAuth(r);
      const b = this.requireJson(r);
      if (size > 500 * KB) throw new Reject(413, ["batch larger than 500 KB"]);
      if (!Array.isArray(b["batch"]) || b["batch"].length === 0) throw new Reject(400, ["batch must be a non-empty array"]);
      const errors = (b["batch"] as unknown[])
        .map((item, i) => {
          if (JSON.stringify(item).length > 32 * KB) return { batch_index: i, reason: "too_large", field: "", message: "item larger than 32 KB" };
          const e = checkV2Item(item);
          return e ? { batch_index: i, reason: "invalid", field: "name", message: e } : null;
        })
        .filter((e) => e !== null);
      return errors.length > 0 ? { status: 207, body: { errors } } : ok;
    }
    // People, events, devices, suppression, segments, forms, merge: Basic auth and a JSON body where one is sent.
    const v1 = r.path.startsWith("/api/v1/") ? r.path.slice("/api/v1".length) : null;
    if (v1 !== null) {
      const routes: Array<[string, RegExp, boolean]> = [
        ["PUT", /^\/customers\/[^/]+$/, true],
        ["DELETE", /^\/customers\/[^/]+$/, false],
        ["POST", /^\/customers\/[^/]+\/events$/, true],
        ["POST", /^\/events$/, true],
        ["PUT", /^\/customers\/[^/]+\/devices$/, true],
        ["DELETE", /^\/customers\/[^/]+\/devices\/[^/]+$/, false],
        ["POST", /^\/customers\/[^/]+\/(suppress|unsuppress)$/, false],
        ["POST", /^\/segments\/[^/]+\/(add_customers|remove_customers)$/, true],
        ["POST", /^\/forms\/[^/]+\/submit$/, true],
        ["POST", /^\/merge_customers$/, true],
      ];
      const route = routes.find(([method, re]) => method === r.method && re.test(v1));
      if (route) {
        this.requireAuth(r);
        if (route[2]) {
          const b = this.requireJson(r);
          if (/\/(events)$/.test(v1) && typeof b["name"] !== "string") throw new Reject(400, ["name is required"]);
          if (/_customers$/.test(v1) && v1.startsWith("/segments") && (!Array.isArray(b["ids"]) || b["ids"].length > 1000)) throw new Reject(400, ["ids must be an array of at most 1000"]);
          if (v1.endsWith("/devices") && typeof (b["device"] as Record<string, unknown> | undefined)?.["id"] !== "string") throw new Reject(400, ["device.id is required"]);
        }
        return ok;
      }
    }
    throw new Reject(404, [`no route for ${r.method} ${r.path}`]);
  }
}

function checkV2Item(item: unknown): string | null {
  if (typeof item !== "object" || item === null) return "item must be an object";
  const o = item as Record<string, unknown>;
  if (typeof o["type"] !== "string" || typeof o["action"] !== "string") return "type and action are required";
  if (o["type"] === "delivery") {
    const ids = o["identifiers"] as Record<string, unknown> | undefined;
    if (typeof ids?.["id"] !== "string") return "identifiers.id (the delivery id) is required";
    if (typeof o["name"] !== "string" || !PUSH_EVENTS.has(o["name"])) return "name must be opened, converted or delivered";
  }
  return null;
}

function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (!header?.startsWith("Basic ")) return null;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return i < 0 ? null : { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
