// `npm run seed:synthetic [-- --deliveries 2000000 --days 90]`: realistic history for benchmarks
// (scripts/lib/synthetic.ts), in a database of its own (`cio_synthetic` on the embedded PostgreSQL, or
// SYNTHETIC_DATABASE_URL).
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import { seedSynthetic } from "./lib/synthetic.js";

const TOOL: Tool = {
  name: "npm run seed:synthetic --",
  usage: `Usage: npm run seed:synthetic [-- --deliveries 2000000 --days 90 --chunk 100000]

Fills the database cio_synthetic of the embedded PostgreSQL (or SYNTHETIC_DATABASE_URL) with realistic
history for \`npm run bench:reports\`: deliveries and their events over --days days.

Options:
  --deliveries N   deliveries to generate (default 2000000)
  --days N         days of history (90)
  --chunk N        deliveries per transaction (100000)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, { deliveries: { type: "string", default: "2000000" }, days: { type: "string", default: "90" }, chunk: { type: "string", default: "100000" } });

export const SYNTHETIC_DB = "cio_synthetic";

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
let url = process.env["SYNTHETIC_DATABASE_URL"];
if (!url) {
  if (!database.embedded) throw new Error("With DATABASE_URL set, also set SYNTHETIC_DATABASE_URL to a database the benchmark may fill");
  await database.embedded.ensureDatabase(SYNTHETIC_DB);
  url = database.embedded.url(SYNTHETIC_DB);
}
try {
  await seedSynthetic(url, { deliveries: Number(values.deliveries), days: Number(values.days), chunk: Number(values.chunk) });
} finally {
  await database.close();
}
