// The webhook traffic of the ingest benchmarks: realistic signed Customer.io events of ~600 bytes (sent,
// delivered, opened, clicked for each delivery, in campaign-like waves) and 5% `sent` events with
// ~20 KB of body content, dated from a day ago (partitions for these months exist).
import { sign } from "../../src/webhooks/signature.js";
import type { BenchRequest } from "./bench-http.js";

export function webhookLoad(key: string): { nextRequest: () => BenchRequest; eventIdOf: (answer: string) => string | undefined } {
  const CONTENT = `<html><body>${"<p>Hello {{customer.first_name}}, here is this week's news.</p>".repeat(330)}</body></html>`; // ~20 KB
  const METRICS = ["sent", "delivered", "opened", "clicked"];
  let seq = 0;
  const runId = Date.now().toString(36);

  /** Events happened from a day ago, a second apart: in this month's and the next partitions, which exist. */
  const START = Math.floor(Date.now() / 1000) - 86400;
  const WAVE = 2000;
  /**
   * The next event. Like a campaign: a wave of 2,000 `sent`, then their `delivered`, `opened`, `clicked`,
   * then the next 2,000 deliveries; 5% of `sent` carry ~20 KB of body content.
   */
  function nextBody(): string {
    const n = seq++;
    const wave = Math.floor(n / WAVE);
    const metric = METRICS[wave % 4]!;
    const deliveryIndex = Math.floor(wave / 4) * WAVE + (n % WAVE);
    const delivery = `${runId}-${deliveryIndex}`;
    const data: Record<string, unknown> = {
      action_id: 42,
      campaign_id: 12 + (n % 7),
      customer_id: String(1000 + (n % 5000)),
      delivery_id: delivery,
      identifiers: { id: String(1000 + (n % 5000)), email: `person${n % 5000}@example.com`, cio_id: `cio${n % 5000}` },
      journey_id: "01HZX4Y7Q8W9E0R1T2Y3U4I5O6",
      recipient: `person${n % 5000}@example.com`,
    };
    if (metric === "sent") {
      data["subject"] = "Your weekly digest";
      if (deliveryIndex % 20 === 0) data["content"] = CONTENT;
    }
    if (metric === "opened") Object.assign(data, { proxied: false, prefetched: n % 10 === 2, synthetic: false });
    if (metric === "clicked") Object.assign(data, { href: "https://example.com/articles/42?utm_source=cio", link_id: 3, machine: false });
    return JSON.stringify({ event_id: `01${runId.toUpperCase()}${String(n).padStart(10, "0")}`, object_type: "email", metric, timestamp: START + n, data });
  }

  function nextRequest(): BenchRequest {
    const body = nextBody();
    const ts = String(Math.floor(Date.now() / 1000));
    return { path: "/webhooks/customerio", body, headers: { "content-type": "application/json", "x-cio-timestamp": ts, "x-cio-signature": sign(key, ts, body) }, key: "" };
  }
  /** Our answer names the stored event: `{"ok":true,"event_id":"…"}`. */
  const eventIdOf = (body: string) => /"event_id":"([^"]+)"/.exec(body)?.[1];
  return { nextRequest, eventIdOf };
}
