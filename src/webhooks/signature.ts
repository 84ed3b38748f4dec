// Owns Customer.io's reporting-webhook signature: HMAC-SHA256 over "v0:<timestamp>:<raw body>", keyed
// with the signing key's UTF-8 bytes, lowercase hex in X-CIO-Signature.
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureFailure =
  | "missing_signature"
  | "missing_timestamp"
  | "malformed_timestamp"
  | "stale_timestamp"
  | "malformed_signature"
  | "signature_mismatch";

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure; message: string };

export interface SignatureOptions {
  keys: readonly string[];
  /** Maximum |now - timestamp| in seconds; 0 disables the check. */
  toleranceSeconds: number;
  nowSeconds?: number;
  /** The comparison; constant-time crypto.timingSafeEqual unless a test observes it. */
  equal?: (a: Buffer, b: Buffer) => boolean;
}

export const constantTimeEqual: (a: Buffer, b: Buffer) => boolean = timingSafeEqual;

export function sign(key: string, timestamp: string, body: Buffer | string): string {
  return createHmac("sha256", key).update(`v0:${timestamp}:`).update(body).digest("hex");
}

const fail = (reason: SignatureFailure, message: string): SignatureCheck => ({ ok: false, reason, message });

/** Checks the headers against every configured key (key rotation: any one may match). */
export function verifySignature(
  signature: string | undefined,
  timestamp: string | undefined,
  body: Buffer,
  options: SignatureOptions,
): SignatureCheck {
  if (!signature) return fail("missing_signature", "X-CIO-Signature header is missing");
  if (!timestamp) return fail("missing_timestamp", "X-CIO-Timestamp header is missing");
  if (!/^\d{1,12}$/.test(timestamp)) return fail("malformed_timestamp", "X-CIO-Timestamp must be unix seconds");
  if (options.toleranceSeconds > 0) {
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(timestamp)) > options.toleranceSeconds) {
      return fail(
        "stale_timestamp",
        `X-CIO-Timestamp is more than ${options.toleranceSeconds} s away from the server clock`,
      );
    }
  }
  // Decoding first gives a fixed-length buffer to compare; non-hex or a wrong length cannot match.
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return fail("malformed_signature", "X-CIO-Signature must be 64 hex digits");
  const given = Buffer.from(signature, "hex");
  const equal = options.equal ?? constantTimeEqual;
  let matched = false;
  for (const key of options.keys) {
    const expected = createHmac("sha256", key).update(`v0:${timestamp}:`).update(body).digest();
    // No early exit: every key is checked, so timing does not reveal which one matched.
    matched = equal(expected, given) || matched;
  }
  return matched ? { ok: true } : fail("signature_mismatch", "X-CIO-Signature does not match any configured signing key");
}
