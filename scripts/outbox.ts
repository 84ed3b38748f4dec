// `npm run outbox -- list|retry|purge|stats`: look at and manage what the service owes Customer.io.
//   list [--status dead|pending|delivered] [--limit N]   rows with their last status and error
//   retry (--id N [--id M ...] | --all)                   queue dead letters again, attempts reset
//   purge [--status dead|delivered] --older-than-days N   delete old rows
//   stats                                                 counts by status, due now, oldest pending
import { parseArgs } from "node:util";
import pg from "pg";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import { counts, list, purge, retryDead } from "../src/reporter/outbox.repository.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    status: { type: "string" },
    limit: { type: "string", default: "50" },
    id: { type: "string", multiple: true },
    all: { type: "boolean", default: false },
    "older-than-days": { type: "string" },
  },
});
const command = positionals[0] ?? "stats";
const usage = "usage: npm run outbox -- list [--status dead] | retry (--id N | --all) | purge --status dead --older-than-days N | stats";

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
const pool = new pg.Pool({ connectionString: database.url, max: 1 });
let code = 0;
try {
  if (command === "list") {
    const status = (values.status ?? "dead") as "dead" | "pending" | "delivered";
    const rows = await list(pool, status, Number(values.limit));
    console.log(`${rows.length} ${status} row(s)`);
    for (const r of rows) {
      console.log(`${r.id}\t${r.kind}\t${r.delivery_id ?? "-"}\tattempts=${r.attempts}\tstatus=${r.last_status ?? "-"}\t${(r.last_error ?? "").replaceAll("\n", " ").slice(0, 200)}`);
    }
  } else if (command === "retry") {
    if (!values.all && !values.id?.length) throw new Error(`retry needs --id or --all\n${usage}`);
    const n = await retryDead(pool, values.all ? "all" : values.id!);
    console.log(`${n} dead letter(s) queued again`);
  } else if (command === "purge") {
    const status = (values.status ?? "dead") as "dead" | "delivered";
    if (!values["older-than-days"]) throw new Error(`purge needs --older-than-days\n${usage}`);
    const n = await purge(pool, status, Number(values["older-than-days"]));
    console.log(`${n} ${status} row(s) deleted`);
  } else if (command === "stats") {
    console.log(JSON.stringify(await counts(pool)));
  } else {
    throw new Error(usage);
  }
} catch (err) {
  console.error((err as Error).message);
  code = 2;
} finally {
  await pool.end();
  await database.close();
}
process.exit(code);
