// Owns the Data Pipelines relay API: POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen,
// /v1/group and /v1/alias, with Customer.io's bodies and Basic auth (the source's write key as user name,
// blank password). An app points its SDK's `apiHost` at `<our host>/v1`; Customer.io's server clients
// take `host: <our host>`. Answers: 200 `{}` once every call is committed; 400 `{"meta":{"errors":[...]}}`
// naming each problem (as Customer.io's strict mode answers); 401 without a write key, or with one that
// PIPELINES_WRITE_KEYS does not list; 413 over Customer.io's size limits; 503 if it cannot commit now.
import { createHash, timingSafeEqual } from "node:crypto";
import Router from "@koa/router";
import type { Config } from "../core/config.js";
import { withDeadline } from "../core/deadline.js";
import { HttpError, unavailableOr } from "../core/errors.js";
import type { AppContext, AppState } from "../core/http.js";
import { readRawBody } from "../core/raw-body.js";
import { MAX_BATCH_REQUEST_BYTES, MAX_CALL_BYTES, PIPELINES_CALLS, type PipelinesEndpoint } from "./pipelines-body.js";
import type { PipelinesService } from "./pipelines.service.js";

const cioError = (status: number, code: string, errors: string[], headers: Record<string, string> = {}) =>
  new HttpError(status, code, errors.join("; "), headers, { meta: { errors } });

const digest = (s: string) => createHash("sha256").update(s).digest();

/** The write key of a request: Basic auth's user name, or (as Segment-compatible APIs take it) the body's `writeKey`. */
function writeKeyOf(authorization: string, body: unknown): string | null {
  if (authorization.startsWith("Basic ")) {
    const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8");
    const user = decoded.includes(":") ? decoded.slice(0, decoded.indexOf(":")) : decoded;
    if (user.length > 0) return user;
  }
  const fromBody = typeof body === "object" && body !== null ? (body as { writeKey?: unknown }).writeKey : undefined;
  return typeof fromBody === "string" && fromBody.length > 0 ? fromBody : null;
}

/** With PIPELINES_WRITE_KEYS set, whether a key is one of them (constant time, every key compared). */
function allowedKeys(keys: readonly string[]): (key: string) => boolean {
  const allowed = keys.map(digest);
  return (key) => {
    if (allowed.length === 0) return true;
    const given = digest(key);
    let ok = false;
    for (const a of allowed) ok = timingSafeEqual(a, given) || ok;
    return ok;
  };
}

export function pipelinesRoutes(config: Config["pipelines"], service: Pick<PipelinesService, "accept">, commitTimeoutMs: number): Router<AppState> {
  const router = new Router<AppState>();
  const isAllowed = allowedKeys(config.writeKeys);

  const handler = (endpoint: PipelinesEndpoint) => async (ctx: AppContext) => {
    const limit = endpoint === "batch" ? MAX_BATCH_REQUEST_BYTES : MAX_CALL_BYTES;
    let body: unknown;
    try {
      // Any content type: Customer.io's browser source posts JSON as text/plain (no CORS preflight).
      const raw = await readRawBody(ctx.req, limit);
      body = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      if (err instanceof HttpError && err.status === 413) {
        throw cioError(413, "payload_too_large", [`body is larger than ${limit} bytes: Customer.io takes at most ${endpoint === "batch" ? "500 KB a batch request" : "32 KB a call"}`]);
      }
      if (err instanceof HttpError) throw cioError(err.status, err.code, [err.message]);
      throw cioError(400, "invalid_json", [`body is not valid JSON: ${(err as Error).message}`]);
    }
    const writeKey = writeKeyOf(ctx.get("authorization"), body);
    // A key is printable and short (it is stored, and sent as a header); anything else can never be one.
    if (writeKey !== null && (writeKey.length > 256 || !/^[\x21-\x7e]+$/.test(writeKey))) {
      throw cioError(401, "unauthorized", ["the write key is not a valid key (printable ASCII without spaces, at most 256 characters)"], { "www-authenticate": 'Basic realm="pipelines"' });
    }
    if (!writeKey) {
      throw cioError(401, "unauthorized", ["a write key is required: HTTP Basic auth with the source's write key as user name and a blank password"], { "www-authenticate": 'Basic realm="pipelines"' });
    }
    if (!isAllowed(writeKey)) throw cioError(401, "unauthorized", ["this write key is not accepted here (PIPELINES_WRITE_KEYS)"], { "www-authenticate": 'Basic realm="pipelines"' });
    const outcome = await withDeadline(service.accept(writeKey, endpoint, body), commitTimeoutMs).catch((err: unknown) => {
      ctx.state.log.warn({ err: (err as Error).message }, "Data Pipelines call not stored");
      throw unavailableOr(err, "The calls could not be stored right now; retry later");
    });
    if (!outcome.ok) throw cioError(400, "invalid_call", outcome.errors);
    ctx.status = 200;
    ctx.body = {};
  };

  router.post("/v1/batch", handler("batch"));
  for (const call of PIPELINES_CALLS) router.post(`/v1/${call}`, handler(call));
  return router;
}
