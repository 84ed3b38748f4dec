// Owns checking HTTP Basic credentials against configured `user:password` pairs, in constant time:
// both sides are hashed to a fixed length and every pair is compared, with no early exit.
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** A checker for an Authorization header; with no pairs configured there is nothing to match. */
export function basicCredentials(pairs: readonly string[]): { configured: boolean; matches(authorization: string): boolean } {
  const allowed = pairs.map(digest);
  return {
    configured: allowed.length > 0,
    matches(authorization) {
      const given = authorization.startsWith("Basic ") ? digest(Buffer.from(authorization.slice(6), "base64").toString("utf8")) : digest("");
      let ok = false;
      for (const a of allowed) ok = timingSafeEqual(a, given) || ok;
      return ok;
    },
  };
}
