// Owns reading a request body as exact bytes, whatever its content type, within a size limit. The
// webhook signature covers the raw bytes, so they must not pass through a parser first.
import inflate from "inflation";
import getRawBody from "raw-body";
import { HttpError, payloadTooLarge } from "./errors.js";

export async function readRawBody(req: import("node:http").IncomingMessage, limitBytes: number): Promise<Buffer> {
  try {
    const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
    const stream = encoding === "identity" ? req : inflate(req);
    return await getRawBody(stream, {
      limit: limitBytes,
      length: encoding === "identity" ? req.headers["content-length"] : undefined,
    });
  } catch (err) {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === "entity.too.large") throw payloadTooLarge(`Request body is larger than the ${limitBytes}-byte limit`);
    if (e.status === 415) throw new HttpError(415, "unsupported_content_encoding", e.message ?? "Unsupported content encoding");
    throw new HttpError(400, "unreadable_body", `Request body could not be read: ${e.message ?? "aborted"}`);
  }
}
