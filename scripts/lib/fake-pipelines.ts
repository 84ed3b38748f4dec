// A local fake of Customer.io's Data Pipelines API for tests and benchmarks: a real HTTP server that
// enforces the documented contract (POST /v1/batch and /v1/<call>, Basic auth with a known write key and
// a blank password, JSON bodies, the required fields of each call, 32 KB a call and 500 KB a batch),
// records every call it accepted, deduplicates events by messageId per write key as Customer.io does (a
// resend with the same messageId is the same event), and fails on demand: any status (with or without
// Retry-After), slow answers, hung requests, reset connections, and "accepted, then never answered"
// (the call is recorded, the caller never hears so: a crash between sending and recording looks so).
//
// Like Customer.io, it answers 200 to calls it drops (a bad key, an invalid call, an oversized request)
// unless the request asks for strict mode (`X-Strict-Mode: 1`): then 401 or 400 naming the problem.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface PipelinesRequest {
  path: string;
  writeKey: string | null;
  strict: boolean;
  body: unknown;
  at: number;
}

/** One event as Customer.io keeps it: the first copy of its messageId, and every copy received. */
export interface PipelinesEvent {
  writeKey: string;
  messageId: string;
  call: Record<string, unknown>;
  /** Every copy received (the first included), as JSON text. */
  copies: string[];
}

export type PipelinesFault =
  | { status: number; retryAfter?: number | string; body?: unknown }
  | { reset: true }
  | { hang: true }
  | { delayMs: number }
  | { acceptThenHang: true };

interface FaultRule {
  fault: PipelinesFault;
  remaining: number;
}

// Written from the shared reference (shared/customerio), not imported from src/: the fake holds the
// contract on its own, so a mistake in our validation cannot be mirrored here.
const CALLS = new Set(["identify", "track", "page", "screen", "group", "alias"]);
const KB = 1024;
const MAX_CALL = 32 * KB;
const MAX_BATCH = 500 * KB;

class Reject extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join("; "));
  }
}

export interface FakePipelinesOptions {
  /** Write keys of the workspace's sources; default one, "fake-write-key". */
  writeKeys?: string[];
  /** Added to every answer. */
  latencyMs?: number;
}

export class FakePipelines {
  readonly writeKeys: Set<string>;
  latencyMs: number;
  /** Requests answered 2xx having stored their calls, in order. */
  readonly accepted: PipelinesRequest[] = [];
  /** Every request, with the status answered (null when reset or hung). */
  readonly log: Array<PipelinesRequest & { status: number | null }> = [];
  /** Events by write key and messageId: what Customer.io ends up with. */
  readonly events = new Map<string, PipelinesEvent>();
  /** Calls dropped in permissive mode (answered 200 all the same), with why. */
  readonly dropped: Array<{ body: unknown; reason: string }> = [];
  private faults: FaultRule[] = [];
  private server: http.Server;
  private sockets = new Set<import("node:net").Socket>();
  private hung: http.ServerResponse[] = [];
  url = "";

  constructor(options: FakePipelinesOptions = {}) {
    this.writeKeys = new Set(options.writeKeys ?? ["fake-write-key"]);
    this.latencyMs = options.latencyMs ?? 0;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(options: FakePipelinesOptions = {}): Promise<FakePipelines> {
    const fake = new FakePipelines(options);
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The base URL a client is given (CIO_CDP_URL): the API lives under /v1. */
  get apiUrl(): string {
    return `${this.url}/v1`;
  }

  /** The next `count` requests get this fault instead of a normal answer. */
  fail(fault: PipelinesFault, count = 1): void {
    this.faults.push({ fault, remaining: count });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** The event of a messageId (of any write key), or undefined. */
  event(messageId: string): PipelinesEvent | undefined {
    for (const e of this.events.values()) if (e.messageId === messageId) return e;
    return undefined;
  }

  /** Every call received in accepted requests (duplicates included), in order. */
  receivedCalls(): Array<Record<string, unknown>> {
    return this.accepted.flatMap((r) => callsOf(r.path, r.body));
  }

  /** Events whose copies differ: a messageId delivered as two different events. Empty when none. */
  conflicts(): PipelinesEvent[] {
    return [...this.events.values()].filter((e) => new Set(e.copies).size > 1);
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(): PipelinesFault | undefined {
    const rule = this.faults.find((f) => f.remaining > 0);
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
    const request: PipelinesRequest = {
      path: url.pathname,
      writeKey: writeKeyOf(req.headers.authorization),
      strict: req.headers["x-strict-mode"] === "1",
      body: undefined,
      at: Date.now(),
    };
    const entry = { ...request, status: null as number | null };
    this.log.push(entry);

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
      if (req.method !== "POST") throw new Reject(405, [`${req.method} is not allowed; POST`]);
      const call = /^\/v1\/(batch|identify|track|page|screen|group|alias)$/.exec(request.path)?.[1];
      if (!call) throw new Reject(404, [`no route for ${req.method} ${request.path}`]);
      if (!request.writeKey || !this.writeKeys.has(request.writeKey)) throw new Reject(401, ["invalid write key: Basic auth with a source's write key as user name and a blank password"]);
      if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) throw new Reject(400, ["Content-Type must be application/json"]);
      if (raw.length > (call === "batch" ? MAX_BATCH : MAX_CALL)) throw new Reject(400, [`request larger than ${call === "batch" ? "500 KB" : "32 KB"}`]);
      try {
        request.body = JSON.parse(raw.toString("utf8"));
      } catch {
        throw new Reject(400, ["body is not valid JSON"]);
      }
      entry.body = request.body;
      const calls = this.validate(call, request.body);
      for (const c of calls) this.record(request.writeKey, c);
      this.accepted.push(request);
      if (fault && "acceptThenHang" in fault) {
        this.hung.push(res);
        return;
      }
      send(200, {});
    } catch (err) {
      if (!(err instanceof Reject)) {
        send(500, { meta: { errors: [String(err)] } });
        return;
      }
      if (request.strict || err.status === 404 || err.status === 405) {
        send(err.status, { meta: { errors: err.errors } });
        return;
      }
      // Permissive mode: Customer.io logs the problem and answers 200; nothing is stored.
      this.dropped.push({ body: request.body, reason: err.errors.join("; ") });
      send(200, {});
    }
  }

  /** The calls of a request, each checked; throws naming every problem. */
  private validate(endpoint: string, body: unknown): Array<Record<string, unknown>> {
    if (!isObject(body)) throw new Reject(400, ["body must be a JSON object"]);
    const calls = endpoint === "batch" ? body["batch"] : [{ type: endpoint, ...body }];
    if (!Array.isArray(calls) || calls.length === 0) throw new Reject(400, ["batch must be a non-empty array"]);
    const errors: string[] = [];
    calls.forEach((c: unknown, i) => {
      const at = endpoint === "batch" ? `batch[${i}]` : "call";
      if (!isObject(c)) return errors.push(`${at} must be an object`);
      if (Buffer.byteLength(JSON.stringify(c)) > MAX_CALL) errors.push(`${at} larger than 32 KB`);
      if (typeof c["type"] !== "string" || !CALLS.has(c["type"])) return errors.push(`${at}.type must be one of ${[...CALLS].join(", ")}`);
      const id = (v: unknown) => (typeof v === "string" && v !== "") || typeof v === "number";
      if (c["type"] === "alias") {
        if (!id(c["userId"]) || !id(c["previousId"])) errors.push(`${at}: alias needs userId and previousId`);
      } else if (!id(c["userId"]) && !id(c["anonymousId"])) errors.push(`${at}: userId or anonymousId is required`);
      if (c["type"] === "track" && (typeof c["event"] !== "string" || c["event"] === "")) errors.push(`${at}.event is required`);
      if (c["type"] === "group" && !id(c["groupId"])) errors.push(`${at}.groupId is required`);
      if (c["messageId"] !== undefined && typeof c["messageId"] !== "string") errors.push(`${at}.messageId must be a string`);
      if (c["timestamp"] !== undefined && (typeof c["timestamp"] !== "string" || !Number.isFinite(Date.parse(c["timestamp"])))) errors.push(`${at}.timestamp must be an ISO 8601 date-time`);
      return undefined;
    });
    if (errors.length > 0) throw new Reject(400, errors);
    return calls as Array<Record<string, unknown>>;
  }

  private record(writeKey: string, call: Record<string, unknown>): void {
    // Customer.io gives a call without messageId one of its own: it can never be a duplicate.
    const messageId = typeof call["messageId"] === "string" ? call["messageId"] : `fake-${this.events.size}-${Math.random()}`;
    const key = `${writeKey}\n${messageId}`;
    const copy = JSON.stringify(sorted(call));
    const known = this.events.get(key);
    if (known) known.copies.push(copy);
    else this.events.set(key, { writeKey, messageId, call, copies: [copy] });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A value with its object keys sorted, so two copies compare by content, not key order. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
}

function callsOf(path: string, body: unknown): Array<Record<string, unknown>> {
  if (!isObject(body)) return [];
  if (path === "/v1/batch") return Array.isArray(body["batch"]) ? (body["batch"] as Array<Record<string, unknown>>) : [];
  return [{ type: path.slice("/v1/".length), ...body }];
}

function writeKeyOf(header: string | undefined): string | null {
  if (!header?.startsWith("Basic ")) return null;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0 || decoded.slice(i + 1) !== "") return null; // the password must be blank
  return decoded.slice(0, i);
}
