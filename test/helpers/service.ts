// Starts the real service (real HTTP on loopback, real PostgreSQL) for integration tests.
import { startService, type Service } from "../../src/app.js";
import { loadConfig } from "../../src/core/config.js";
import { createLogger, type Logger } from "../../src/core/logger.js";
import { signedHeaders } from "../../scripts/lib/sample-events.js";

export const TEST_KEY = "test-signing-key";

export interface TestService {
  service: Service;
  /** The public listener. */
  url: string;
  /** The admin listener: reports, OpenAPI, dashboard. */
  adminUrl: string;
  /**
   * Posts a body to the webhook endpoint, signed with `key` unless headers are given, then (unless
   * `wait: false`) waits until the projector has applied what it queued, so deliveries read right after
   * show it.
   */
  webhook(body: string | object, opts?: { key?: string; headers?: Record<string, string>; wait?: boolean }): Promise<{ status: number; json: Record<string, unknown> }>;
  /** POSTs JSON to a path of the service. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  stop(): Promise<void>;
}

async function asJson(res: Response): Promise<{ status: number; json: Record<string, unknown> }> {
  const raw = await res.text();
  try {
    return { status: res.status, json: JSON.parse(raw) as Record<string, unknown> };
  } catch {
    return { status: res.status, json: { raw } };
  }
}

export async function startTestService(databaseUrl: string, env: Record<string, string> = {}, log?: Logger): Promise<TestService> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY,
    PORT: "0",
    HOST: "127.0.0.1",
    ADMIN_PORT: "0",
    MIGRATIONS_RUN: "false",
    // Nothing leaves the machine: without a fake Customer.io, calls go to the discard port and fail.
    CIO_TRACK_URL: "http://127.0.0.1:9",
    CIO_CDP_URL: "http://127.0.0.1:9",
    ...env,
  });
  const service = await startService(config, log ?? createLogger(env["LOG_LEVEL"] ?? "silent"));
  const webhook: TestService["webhook"] = async (body, opts = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const headers = opts.headers ?? signedHeaders(opts.key ?? TEST_KEY, text);
    const answer = await asJson(await fetch(`${service.url}/webhooks/customerio`, { method: "POST", headers, body: text }));
    if (answer.status === 200 && opts.wait !== false) await service.projector.drain();
    return answer;
  };
  const post: TestService["post"] = async (path, body, headers = {}) =>
    asJson(await fetch(`${service.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }));
  return { service, url: service.url, adminUrl: service.adminUrl, webhook, post, stop: () => service.stop() };
}
