// `npm run report -- <report> [filters] [--format table|csv|json]`, readable in a terminal:
//   funnel    [--from D --to D --channel C --campaign N|--broadcast N|--newsletter N|--transactional N --action N --group-by day,channel,origin,action]
//   links     [filters] [--limit N --offset N]
//   failures  [filters] [--limit N --offset N]
//   origins   [filters] [--limit N]
//   delivery  <delivery_id>                      one delivery's timeline
//   person    --customer-id X | --email X | --cio-id X [--limit N]
//   timezone  [<IANA zone>]                      show, or set and rebuild the rollup in, the report time zone
// Reads DATABASE_URL, or the embedded PostgreSQL of this folder.
import { parseArgs } from "node:util";
import pg from "pg";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import { parseFilters, parseGroups, parsePage, ReportQueryError, toCsv, toTable } from "../src/reports/report-query.js";
import * as reports from "../src/reports/reports.repository.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: "string" }, to: { type: "string" }, channel: { type: "string" },
    campaign: { type: "string" }, broadcast: { type: "string" }, newsletter: { type: "string" }, transactional: { type: "string" },
    "origin-type": { type: "string" }, action: { type: "string" }, "group-by": { type: "string" },
    limit: { type: "string" }, offset: { type: "string" },
    "customer-id": { type: "string" }, email: { type: "string" }, "cio-id": { type: "string" },
    format: { type: "string", default: "table" },
  },
});
const [command, arg] = positionals;
const params = {
  from: values.from, to: values.to, channel: values.channel, campaign: values.campaign, broadcast: values.broadcast,
  newsletter: values.newsletter, transactional: values.transactional, origin_type: values["origin-type"], action: values.action,
  limit: values.limit, offset: values.offset,
};

function print(rows: Array<Record<string, unknown>>, header?: string): void {
  if (values.format === "json") console.log(JSON.stringify(rows, null, 2));
  else if (values.format === "csv") process.stdout.write(toCsv(rows as never));
  else {
    if (header) console.log(header);
    process.stdout.write(toTable(rows as never));
  }
}

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
const pool = new pg.Pool({ connectionString: database.url, max: 2 });
let code = 0;
try {
  if (!["table", "csv", "json"].includes(values.format)) throw new ReportQueryError(["--format is table, csv or json"]);
  const tz = () => reports.reportTimezone(pool);
  switch (command) {
    case "funnel": {
      const filters = parseFilters(params);
      print(await reports.funnel(pool, filters, parseGroups(values["group-by"])), `Funnel ${filters.from} to ${filters.to} (days in ${await tz()})`);
      break;
    }
    case "links":
    case "failures": {
      const filters = parseFilters(params);
      print(await reports[command](pool, filters, parsePage(params)), `${command === "links" ? "Links clicked" : "Failure reasons"} ${filters.from} to ${filters.to}`);
      break;
    }
    case "origins": {
      const filters = parseFilters(params);
      print(await reports.topOrigins(pool, filters, parsePage(params, 20).limit), `Origins ${filters.from} to ${filters.to}`);
      break;
    }
    case "delivery": {
      if (!arg) throw new ReportQueryError(["delivery needs a delivery id"]);
      const found = await reports.deliveryTimeline(pool, arg);
      if (!found) throw new ReportQueryError([`no delivery ${arg}`]);
      if (values.format === "json") console.log(JSON.stringify(found, null, 2));
      else print(found.events, `Delivery ${arg}: ${found.delivery["channel"] ?? "?"}, ${found.delivery["status"]}`);
      break;
    }
    case "person": {
      const by = values["customer-id"] ? "customer_id" : values.email ? "email" : values["cio-id"] ? "cio_id" : null;
      if (!by) throw new ReportQueryError(["person needs --customer-id, --email or --cio-id"]);
      const value = values["customer-id"] ?? values.email ?? values["cio-id"]!;
      print(await reports.personDeliveries(pool, by, value, parsePage(params)), `Deliveries of ${by} ${value}`);
      break;
    }
    case "timezone": {
      if (arg) {
        const client = await pool.connect();
        try {
          const rows = await reports.setReportTimezone(client, arg);
          console.log(`report time zone set to ${arg}; rollup rebuilt (${rows} rows)`);
        } finally {
          client.release();
        }
      } else console.log(await tz());
      break;
    }
    default:
      throw new ReportQueryError([`unknown report "${command ?? ""}": funnel, links, failures, origins, delivery, person, timezone`]);
  }
} catch (err) {
  console.error(err instanceof ReportQueryError ? `report: ${err.message}` : err);
  code = 2;
} finally {
  await pool.end();
  await database.close();
}
process.exit(code);
