// `npm run send-sample [-- --url http://localhost:3000]`: posts correctly signed, Customer.io-shaped
// events to a running service so a newcomer sees rows appear: the official examples, a few complete
// deliveries (email, SMS, push), a bounce, and a subscription change. Then prints SQL to look at them.
import path from "node:path";
import { parseCommandLine, runTool, ToolError, type Tool } from "../src/core/cli.js";
import { PROJECT_ROOT } from "../src/core/paths.js";
import { readTrialKey } from "../src/core/trial-key.js";
import { customerEvent, deliveryId, messageEvent, officialSamples, signedHeaders } from "./lib/sample-events.js";

const TOOL: Tool = {
  name: "npm run send-sample --",
  usage: `Usage: npm run send-sample [-- --url URL] [--key KEY]

Posts 21 correctly signed, Customer.io-shaped reporting events (the official examples, a few complete
deliveries, a bounce, subscription changes) to a running service, then prints SQL to look at them.

Options:
  --url URL    the service (default http://127.0.0.1:$PORT, or :3000)
  --key KEY    the signing key (default: CIO_WEBHOOK_SIGNING_KEYS, or the trial key in $DATA_DIR)
  -h, --help   this help
`,
};

const { values } = parseCommandLine(TOOL, {
  url: { type: "string", default: `http://127.0.0.1:${process.env["PORT"] ?? "3000"}` },
  key: { type: "string" },
});

const key = values.key ?? process.env["CIO_WEBHOOK_SIGNING_KEYS"]?.split(",")[0]?.trim() ?? readTrialKey(path.resolve(PROJECT_ROOT, process.env["DATA_DIR"] ?? ".data"));
if (!key) {
  console.error("No signing key: set CIO_WEBHOOK_SIGNING_KEYS, pass --key, or start the service once in trial mode.");
  process.exit(1);
}

const now = Math.floor(Date.now() / 1000);
const bodies: string[] = officialSamples().map((s) => s.raw);
const journey = (objectType: string, metrics: string[], extra: Record<string, unknown> = {}) => {
  const id = deliveryId();
  metrics.forEach((metric, i) =>
    bodies.push(JSON.stringify(messageEvent({ objectType, metric, deliveryId: id, timestamp: now - 600 + i * 60, origin: { campaign_id: 12, journey_id: "01J000000000000000000JRNY" }, extra }))),
  );
};
journey("email", ["sent", "delivered", "opened", "clicked", "converted"]);
journey("email", ["sent", "delivered", "opened"]);
journey("email", ["sent", "bounced"]);
journey("sms", ["sent", "delivered", "clicked"]);
journey("push", ["sent", "delivered", "opened"]);
bodies.push(JSON.stringify(customerEvent("cio_subscription_preferences_changed", { timestamp: now - 30 })));
bodies.push(JSON.stringify(customerEvent("unsubscribed", { timestamp: now - 10 })));

const target = `${values.url.replace(/\/$/, "")}/webhooks/customerio`;
await runTool(TOOL, async () => {
  let ok = 0;
  for (const body of bodies) {
    const res = await fetch(target, { method: "POST", headers: signedHeaders(key, body), body }).catch(() => {
      throw new ToolError(`nothing answers at ${values.url}: start the service (npm start) first, or pass --url`);
    });
    const text = await res.text();
    if (res.ok) ok++;
    else console.error(`${res.status} ${text}`);
  }
  console.log(`${ok}/${bodies.length} events accepted by ${target}`);
  if (ok !== bodies.length) throw new ToolError(`${bodies.length - ok} event(s) refused (see above)`);
  console.log(`
Look at them (psql "$DATABASE_URL", or the embedded database: see README "Querying"):
  SELECT delivery_id, channel, status, recipient, sent_at, opened_at, clicked_at FROM deliveries ORDER BY first_event_at DESC LIMIT 10;
  SELECT metric, count(*) FROM delivery_events GROUP BY metric ORDER BY 2 DESC;`);
});
