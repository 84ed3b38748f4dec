// `npm run seed:synthetic [-- --deliveries 2000000 --days 90]`: realistic history for benchmarks
// (scripts/lib/synthetic.ts), in a database of its own (`cio_synthetic` on the embedded PostgreSQL, or
// SYNTHETIC_DATABASE_URL).
import { parseArgs } from "node:util";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import { seedSynthetic } from "./lib/synthetic.js";

const { values } = parseArgs({ options: { deliveries: { type: "string", default: "2000000" }, days: { type: "string", default: "90" }, chunk: { type: "string", default: "100000" } } });

export const SYNTHETIC_DB = "cio_synthetic";

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), owner: false });
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
