// Owns how every command-line entry point (`npm start`, `npm run report`, `outbox`, `migrate`, ...)
// reads its arguments and ends: `--help` prints the usage and exits 0; an unknown flag or command, or a
// bad flag value, prints the problem and the usage and exits 64 (EX_USAGE); a failure the user can fix
// (the database unreachable, a value PostgreSQL refuses) is one line and exit 1, never a stack trace.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "./config.js";
import { explainStartupError } from "./startup-error.js";

export const EX_USAGE = 64;

export interface Tool {
  /** How the user runs it, e.g. "npm run report --". */
  name: string;
  /** The usage text, from "Usage:" on; printed for --help and after a usage error. */
  usage: string;
}

/** A wrong command, flag or flag value: exit 64, with the usage (or, for a bad value, a pointer to it). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = true,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure the user can act on, told in one line: exit 1. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;
const HELP = { help: { type: "boolean", short: "h" } } as const;

/** Prints the problem and the usage (or a pointer to it), and exits 64. */
export function exitWithUsage(tool: Tool, problem: string, showUsage = true): never {
  const name = tool.name.replace(/ --$/, "");
  process.stderr.write(showUsage ? `${name}: ${problem}\n\n${tool.usage.trimEnd()}\n` : `${name}: ${problem}\n(\`${tool.name} --help\` shows the usage)\n`);
  process.exit(EX_USAGE);
}

/** Parses argv strictly; handles --help and usage errors itself (it exits). */
export function parseCommandLine<const O extends Options>(tool: Tool, options: O, opts: { positionals?: boolean; args?: string[] } = {}) {
  const config = { args: opts.args ?? process.argv.slice(2), options: { ...options, ...HELP }, allowPositionals: opts.positionals ?? false, strict: true } as const;
  let parsed;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    exitWithUsage(tool, (err as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, ""));
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${tool.usage.trimEnd()}\n`);
    process.exit(0);
  }
  return parsed;
}

/** A PostgreSQL error (it carries a SQLSTATE code and a severity). */
function isDatabaseError(err: unknown): err is Error & { code: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "string" && typeof (err as { severity?: unknown }).severity === "string";
}

/**
 * Runs a tool's work and exits with its code: 0, 64 for a UsageError (with the usage), 1 with one line
 * for a ToolError, a PostgreSQL error or a start-up problem; anything else is a bug and keeps its stack.
 * `cleanup` runs in every case (close pools, stop an embedded server this tool started).
 */
export async function runTool(
  tool: Tool,
  work: () => Promise<void>,
  cleanup: () => Promise<void> = async () => undefined,
  /** DATABASE_URL once known, to explain connection failures (never printed with its password). */
  databaseUrl: () => string | undefined = () => undefined,
): Promise<never> {
  let code = 0;
  const name = tool.name.replace(/ --$/, "");
  try {
    await work();
  } catch (err) {
    if (err instanceof UsageError) {
      await cleanup().catch(() => undefined);
      exitWithUsage(tool, err.message, err.showUsage);
    }
    if (err instanceof ConfigError) {
      await cleanup().catch(() => undefined);
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG, as the service
    }
    code = 1;
    const explained = err instanceof ToolError ? err.message : (explainStartupError(err, { databaseUrl: databaseUrl() }) ?? (isDatabaseError(err) ? `PostgreSQL: ${err.message}` : undefined));
    process.stderr.write(explained ? `${name}: ${explained}\n` : `${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  await cleanup().catch(() => undefined);
  // A tool that ended on purpose with another code (130: interrupted) set process.exitCode.
  process.exit(code === 0 && typeof process.exitCode === "number" ? process.exitCode : code);
}
