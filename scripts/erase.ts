// `npm run erase -- --email <address> | --customer-id <id> | --cio-id <id> [--dry-run]`: erases a person
// (GDPR, CCPA). Every trace of them goes from events, deliveries, people, unsubscribes and the outbox;
// counts stay. Prints what changed in how many rows of which table. After the erasure it waits for the
// running instances to learn of it (they re-read the erased set every 5 s), then scrubs anything stored
// for the person meanwhile. Reads the same settings as the service (DATABASE_URL, the signing keys or
// ERASURE_SECRET): the erasure record is a hash keyed with them.
import { exitWithUsage, parseCommandLine, type Tool } from "../src/core/cli.js";
import { loadConfig } from "../src/core/config.js";
import { trialSigningKey } from "../src/core/trial-key.js";
import { erasePerson, seedOf, type ErasureRequest } from "../src/privacy/erase.js";
import { runDatabaseTool } from "./lib/database-tool.js";

const TOOL: Tool = {
  name: "npm run erase --",
  usage: `Usage: npm run erase -- (--email <address> | --customer-id <id> | --cio-id <id>) [--dry-run]

Erases a person: their event payloads and identifiers, their deliveries' recipient, identifiers and
subject, their subscription rows, unsubscribes and unsent calls to Customer.io. Counts are kept, and a
keyed hash of each identifier, so events for them that arrive later are stored without personal data.

Options:
  --dry-run    show what would change, change nothing
  -h, --help   this help
`,
};

const { values } = parseCommandLine(TOOL, {
  email: { type: "string" },
  "customer-id": { type: "string" },
  "cio-id": { type: "string" },
  "dry-run": { type: "boolean", default: false },
});
const given = ([["email", values.email], ["customer_id", values["customer-id"]], ["cio_id", values["cio-id"]]] as const).filter(([, v]) => v !== undefined && v.trim() !== "");
if (given.length !== 1) exitWithUsage(TOOL, "give exactly one of --email, --customer-id, --cio-id");
const request: ErasureRequest = { kind: given[0]![0], value: given[0]![1]! };

await runDatabaseTool(TOOL, async ({ pool }) => {
  const { erasureSecret } = loadConfig(process.env, { trialSigningKey });
  const dryRun = values["dry-run"];
  const first = await erasePerson(pool, erasureSecret, seedOf(request), { dryRun });
  const total = { ...first.changes };
  if (!dryRun) {
    // Instances re-read the erased set every 5 s: scrub what they stored for the person meanwhile.
    await new Promise((r) => setTimeout(r, 6000));
    const second = await erasePerson(pool, erasureSecret, first.found, { record: false });
    for (const [table, n] of Object.entries(second.changes)) if (n > 0) total[table] = (total[table] ?? 0) + n;
  }
  const ids = first.found;
  console.log(`${dryRun ? "Dry run (nothing changed): would erase" : "Erased"} a person with ${ids.emails.length} email address(es), ${ids.customerIds.length} customer id(s), ${ids.cioIds.length} cio_id(s), ${first.deliveries} deliveries`);
  for (const [table, n] of Object.entries(total)) console.log(`  ${table.padEnd(22)} ${n} row(s) ${table === "person_subscriptions" || table === "unsubscribes" ? "removed" : "changed or removed"}`);
  if (!dryRun) console.log(`  erasures               ${ids.emails.length + ids.customerIds.length + ids.cioIds.length} record(s) added (keyed hashes, no personal data)`);
});
