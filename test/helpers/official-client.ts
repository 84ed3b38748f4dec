// Replays the requests the official Node client (customerio-node) sends, recorded byte for byte in
// test/fixtures/official-node-client-5.2.0.json, against our service: the same method, path, headers
// and body, with the delivery ids of the test.
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/core/paths.js";

interface RecordedCall {
  call: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const recorded = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "official-node-client-5.2.0.json"), "utf8")) as { calls: RecordedCall[] };

/**
 * Sends the recorded calls whose text starts with `prefix` (e.g. "cio.unsubscribe"), replacing the
 * placeholders DELIVERY_1..3 with the given ids. Resolves with each answer as the client would see it:
 * it throws on a non-2xx status or a body that is not JSON (an empty body is {}), so a test fails
 * exactly where the client would.
 */
export async function officialClientCalls(baseUrl: string, prefix: string, ids: Record<string, string>): Promise<unknown[]> {
  const calls = recorded.calls.filter((c) => c.call.startsWith(prefix));
  if (calls.length === 0) throw new Error(`no recorded call starts with ${prefix}`);
  const fill = (text: string) => text.replace(/DELIVERY_\d/g, (p) => ids[p] ?? p);
  const answers: unknown[] = [];
  for (const c of calls) {
    const res = await fetch(`${baseUrl}${fill(c.path)}`, { method: c.method, headers: c.headers, body: fill(c.body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${c.call} answered ${res.status}: ${text}`);
    answers.push(text.length > 0 ? (JSON.parse(text) as unknown) : {});
  }
  return answers;
}
