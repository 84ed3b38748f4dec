// Owns telling what a gap found by reconciliation most likely comes from, from its shape: nearly every
// delivery missing (the webhook is off, or points elsewhere), deliveries missing only during some hours
// (an outage), some metrics missing for nearly every delivery that has them while the others arrive
// (events not ticked in the webhook's settings), or a few of everything (webhooks lost here and there).
import type { GapShape } from "./message-filler.js";

export interface GapFacts extends GapShape {
  messagesRead: number;
  deliveriesMissing: number;
  /** When the last reporting webhook arrived (ms), or null if none ever did. */
  lastWebhookAt: number | null;
}

/** Nearly all: at or above this share a part counts as entirely missing; at or below LITTLE, as fine. */
const NEARLY_ALL = 0.9;
const LITTLE = 0.1;
const HOUR = 3_600_000;

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

/** One sentence (or two joined by "; "): what most likely caused the gap, and what to check. */
export function likelyCause(g: GapFacts): string {
  const causes: string[] = [];
  const lastWebhook = g.lastWebhookAt === null ? "no reporting webhook has arrived yet" : `the last reporting webhook arrived ${iso(g.lastWebhookAt)} UTC`;
  if (g.messagesRead > 0 && g.deliveriesMissing / g.messagesRead >= NEARLY_ALL) {
    return (
      "no webhook arrived for nearly any of these messages: the reporting webhook is most likely off, disabled, or pointing at another URL " +
      `(Customer.io: Data & Integrations > Reporting Webhooks), or this service was unreachable for the whole window; ${lastWebhook}`
    );
  }

  // Hours whose deliveries are nearly all missing, next to hours that are fine: an outage.
  const hours = [...g.hours.entries()].filter(([, h]) => h.messages > 0).sort((a, b) => a[0] - b[0]);
  const bad = hours.filter(([, h]) => h.missing / h.messages >= NEARLY_ALL);
  const fine = hours.filter(([, h]) => h.missing / h.messages <= LITTLE);
  const missingInBad = bad.reduce((n, [, h]) => n + h.missing, 0);
  if (bad.length > 0 && fine.length > 0 && g.deliveriesMissing > 0 && missingInBad / g.deliveriesMissing >= 0.8) {
    const spans: Array<[number, number]> = [];
    for (const [hour] of bad) {
      const last = spans[spans.length - 1];
      if (last && hour - last[1] <= HOUR) last[1] = hour + HOUR;
      else spans.push([hour, hour + HOUR]);
    }
    const longest = [...spans].sort((a, b) => b[1] - b[0] - (a[1] - a[0])).slice(0, 3).sort((a, b) => a[0] - b[0]);
    causes.push(
      `an outage: no webhooks arrived for messages sent ${longest.map(([a, b]) => `from ${iso(a)} to ${iso(b)} UTC`).join(", ")}, while those before and after arrived ` +
        "(the service was down or refusing them for longer than Customer.io retries, 7 days, or the webhook was off meanwhile)",
    );
  }

  // Metrics missing for nearly every known delivery that has them, while others arrive: not ticked.
  const share = (m: string) => {
    const missing = g.missingInKnown[m] ?? 0;
    return missing / (missing + (g.presentInKnown[m] ?? 0));
  };
  const metrics = [...new Set([...Object.keys(g.missingInKnown), ...Object.keys(g.presentInKnown)])];
  const unticked = metrics.filter((m) => (g.missingInKnown[m] ?? 0) >= 3 && share(m) >= NEARLY_ALL).sort();
  const arriving = metrics.filter((m) => (g.presentInKnown[m] ?? 0) > 0 && share(m) <= LITTLE).sort();
  if (unticked.length > 0 && arriving.length > 0) {
    causes.push(
      `some events are not ticked in the reporting webhook's settings: ${unticked.join(", ")} never arrive while ${arriving.join(", ")} do ` +
        "(Customer.io: Data & Integrations > Reporting Webhooks > the webhook > events)",
    );
  }
  if (causes.length > 0) return causes.join("; ");
  return (
    "webhooks were lost here and there, with no pattern in time or by metric: look for answers other than 200 to Customer.io in this " +
    `service's logs and in the webhook's activity in Customer.io; ${lastWebhook}`
  );
}
