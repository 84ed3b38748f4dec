// `npm run report -- <report> [filters] [--format table|csv|json] [--wide]`: the reports in a terminal.
// Reads DATABASE_URL, or the embedded PostgreSQL of this folder.
import type pg from "pg";
import { exitWithUsage, parseCommandLine, UsageError, type Tool } from "../src/core/cli.js";
import { CHANNELS, parseFailureKind, parseFilters, parseGroups, parsePage, ReportQueryError, toCsv, toTable, type TableOptions } from "../src/reports/report-query.js";
import * as reports from "../src/reports/reports.repository.js";
import { runDatabaseTool } from "./lib/database-tool.js";

const TOOL: Tool = {
  name: "npm run report --",
  usage: `Usage: npm run report -- <report> [options]

Reports:
  funnel               sent, delivered, opened, clicked, converted, bounced, ... and their rates
  links                links clicked, by deliveries and clicks
  failures             bounce and failure reasons
  origins              campaigns, broadcasts, newsletters and transactional messages by deliveries
  delivery <id>        one delivery and its events, in order
  person               one person's deliveries: --customer-id X | --email X | --cio-id X
  timezone [<zone>]    show the report time zone, or set it (an IANA name such as Europe/Paris) and rebuild

Filters (funnel, links, failures, origins):
  --from YYYY-MM-DD --to YYYY-MM-DD   days, inclusive (default: the last 30 days, to today in the report time zone)
  --channel ${CHANNELS.join("|")}
  --campaign N | --broadcast N | --newsletter N | --transactional N   one origin
  --origin-type campaign|broadcast|newsletter|transactional|none
  --action N
  --group-by day,channel,origin,action   (funnel)
  --kind final|transient                 (failures: final failures, or failures on the way that were retried)
  --limit N --offset N                   (links, failures, origins, person)

Output:
  --format table|csv|json   table by default: fits 120 columns, rates as percentages
  --wide                    every column in the table
  -h, --help                this help

Examples:
  npm run report -- funnel --campaign 12 --group-by day
  npm run report -- failures --from 2026-11-01 --to 2026-11-30 --format csv > failures.csv
`,
};

const { positionals, values } = parseCommandLine(
  TOOL,
  {
    from: { type: "string" }, to: { type: "string" }, channel: { type: "string" },
    campaign: { type: "string" }, broadcast: { type: "string" }, newsletter: { type: "string" }, transactional: { type: "string" },
    "origin-type": { type: "string" }, action: { type: "string" }, "group-by": { type: "string" },
    limit: { type: "string" }, offset: { type: "string" },
    "customer-id": { type: "string" }, email: { type: "string" }, "cio-id": { type: "string" },
    kind: { type: "string" },
    format: { type: "string", default: "table" }, wide: { type: "boolean", default: false },
  },
  { positionals: true },
);

const REPORTS = ["funnel", "links", "failures", "origins", "delivery", "person", "timezone"] as const;
type Report = (typeof REPORTS)[number];

/** What a table shows first: the columns worth reading in 120 characters. */
const TABLE_ORDER: Partial<Record<Report, string[]>> = {
  funnel: [
    "day", "channel", "origin_type", "origin_id", "action_id",
    "deliveries", "sent", "delivered", "delivery_rate", "human_opened", "human_open_rate", "human_clicked", "click_rate",
    "converted", "bounced", "bounce_rate", "unsubscribed", "unsubscribe_rate",
  ],
  person: ["delivery_id", "channel", "status", "sent_at", "recipient", "subject"],
  delivery: ["occurred_at", "metric", "source", "href", "failure_message"],
};

const [command, arg, ...extra] = positionals;
const report = command as Report;

// Checked before the database is opened: a wrong command line costs nothing.
if (!command) exitWithUsage(TOOL, "which report? (funnel, links, failures, origins, delivery, person, timezone)");
if (!(REPORTS as readonly string[]).includes(command)) exitWithUsage(TOOL, `unknown report "${command}"`);
const takesArg = report === "delivery" || report === "timezone";
if (extra.length > 0 || (arg !== undefined && !takesArg)) exitWithUsage(TOOL, `unexpected argument "${takesArg ? extra[0] : arg}"`);
if (!["table", "csv", "json"].includes(values.format)) exitWithUsage(TOOL, `--format is table, csv or json, not "${values.format}"`, false);

async function main(pool: pg.Pool): Promise<void> {
  const params = {
    from: values.from, to: values.to, channel: values.channel, campaign: values.campaign, broadcast: values.broadcast,
    newsletter: values.newsletter, transactional: values.transactional, origin_type: values["origin-type"], action: values.action,
    limit: values.limit, offset: values.offset,
  };
  const print = (rows: Array<Record<string, unknown>>, header?: string) => {
    if (values.format === "json") console.log(JSON.stringify(rows, null, 2));
    else if (values.format === "csv") process.stdout.write(toCsv(rows as never));
    else {
      if (header) console.log(header);
      const options: TableOptions = values.wide ? { order: TABLE_ORDER[report] } : { maxWidth: 120, order: TABLE_ORDER[report], moreHint: "--wide shows every column, --format csv every value" };
      process.stdout.write(toTable(rows as never, options));
    }
  };
  const tz = () => reports.reportTimezone(pool);
  // The default range ends today in the report time zone.
  const filtersOf = async () => parseFilters(params, (await reports.reportClock(pool)).today);

  switch (report) {
    case "funnel": {
      const filters = await filtersOf();
      print(await reports.funnel(pool, filters, parseGroups(values["group-by"])), `Funnel ${filters.from} to ${filters.to} (days in ${await tz()})`);
      break;
    }
    case "links": {
      const filters = await filtersOf();
      print(await reports.links(pool, filters, parsePage(params)), `Links clicked ${filters.from} to ${filters.to}`);
      break;
    }
    case "failures": {
      const filters = await filtersOf();
      const kind = parseFailureKind(values.kind);
      print(await reports.failures(pool, filters, parsePage(params), kind), `${kind === "final" ? "Final failure" : kind === "transient" ? "Transient failure" : "Failure"} reasons ${filters.from} to ${filters.to}`);
      break;
    }
    case "origins": {
      const filters = await filtersOf();
      print(await reports.topOrigins(pool, filters, parsePage(params, 20).limit), `Origins ${filters.from} to ${filters.to}`);
      break;
    }
    case "delivery": {
      if (!arg) throw new UsageError("delivery needs a delivery id: npm run report -- delivery <delivery_id>", false);
      const found = await reports.deliveryTimeline(pool, arg);
      if (!found) throw new UsageError(`no delivery "${arg}" in this database`, false);
      if (values.format === "json") console.log(JSON.stringify(found, null, 2));
      else print(found.events, `Delivery ${arg}: ${found.delivery["channel"] ?? "?"}, ${found.delivery["status"]}`);
      break;
    }
    case "person": {
      const given = (["customer-id", "email", "cio-id"] as const).filter((k) => values[k] !== undefined);
      if (given.length !== 1) throw new UsageError("person needs one of --customer-id, --email or --cio-id", false);
      const key = given[0]!;
      const by = ({ "customer-id": "customer_id", email: "email", "cio-id": "cio_id" } as const)[key];
      print(await reports.personDeliveries(pool, by, values[key]!, parsePage(params)), `Deliveries of ${by} ${values[key]}`);
      break;
    }
    case "timezone": {
      if (!arg) {
        console.log(await tz());
        break;
      }
      const client = await pool.connect();
      try {
        const rows = await reports.setReportTimezone(client, arg);
        console.log(`report time zone set to ${arg}; rollup rebuilt (${rows} rows)`);
      } catch (err) {
        if ((err as { code?: string }).code === "22023") throw new UsageError(`unknown time zone "${arg}": use an IANA name such as Europe/Paris or America/New_York`, false);
        throw err;
      } finally {
        client.release();
      }
      break;
    }
  }
}

await runDatabaseTool(TOOL, async ({ pool }) => {
  try {
    await main(pool);
  } catch (err) {
    // Filters and paging come from flags: a bad one is a usage error.
    if (err instanceof ReportQueryError) throw new UsageError(err.problems.join("; "), false);
    throw err;
  }
});
