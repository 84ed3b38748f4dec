// Starts the real service (real HTTP on loopback, real PostgreSQL) for integration tests.
import { startService, type Service } from "../../src/app.js";
import { loadConfig } from "../../src/core/config.js";
import { createLogger, type Logger } from "../../src/core/logger.js";
import { signedHeaders } from "../../scripts/lib/sample-events.js";

export const TEST_KEY = "test-signing-key";

export interface TestService {
  service: Service;
  url: string;
  /** Posts a body to the webhook endpoint, signed with `key` unless headers are given. */
  webhook(body: string | object, opts?: { key?: string; headers?: Record<string, string> }): Promise<{ status: number; json: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startTestService(databaseUrl: string, env: Record<string, string> = {}, log?: Logger): Promise<TestService> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY,
    PORT: "0",
    HOST: "127.0.0.1",
    MIGRATIONS_RUN: "false",
    ...env,
  });
  const service = await startService(config, log ?? createLogger(env["LOG_LEVEL"] ?? "silent"));
  const webhook: TestService["webhook"] = async (body, opts = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const headers = opts.headers ?? signedHeaders(opts.key ?? TEST_KEY, text);
    const res = await fetch(`${service.url}/webhooks/customerio`, { method: "POST", headers, body: text });
    const raw = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      json = { raw };
    }
    return { status: res.status, json };
  };
  return { service, url: service.url, webhook, stop: () => service.stop() };
}
