// Owns the errors that stop the service (or a command-line tool) from starting, each told in one line
// that says what went wrong and what to do: our own (StartupError), and the usual ones from the
// database connection and the HTTP listener, recognised by their codes. Never prints a password.
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

export interface StartupContext {
  /** DATABASE_URL, or undefined for the embedded PostgreSQL. */
  databaseUrl?: string;
  host?: string;
  port?: number;
}

function codesOf(err: unknown): string[] {
  const e = err as { code?: unknown; errors?: unknown[]; cause?: unknown };
  const own = typeof e?.code === "string" ? [e.code] : [];
  return [...own, ...(Array.isArray(e?.errors) ? e.errors.flatMap(codesOf) : []), ...(e?.cause ? codesOf(e.cause) : [])];
}

function where(url: string | undefined): { server: string; user: string; database: string } {
  try {
    const u = new URL(url ?? "");
    return { server: `${u.hostname}:${u.port || "5432"}`, user: decodeURIComponent(u.username) || "(none)", database: u.pathname.slice(1) || "(default)" };
  } catch {
    return { server: "the database server", user: "(unknown)", database: "(unknown)" };
  }
}

/** One line for an error met while starting, or undefined if it is not one we recognise. */
export function explainStartupError(err: unknown, context: StartupContext): string | undefined {
  if (err instanceof StartupError) return err.message;
  const codes = codesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const setting = "DATABASE_URL";
  const db = where(context.databaseUrl);
  const has = (...wanted: string[]) => wanted.some((c) => codes.includes(c));

  if (has("EADDRINUSE")) {
    const next = context.port ? ` (e.g. PORT=${context.port + 1})` : "";
    return `Port ${context.port ?? "?"} is already in use on ${context.host ?? "this machine"} (another program, or this service already running): stop it, or set PORT to a free port${next}.`;
  }
  if (has("EACCES") && /listen/.test(message)) {
    return `Not allowed to listen on port ${context.port ?? "?"} (ports below 1024 need privileges): set PORT to 1024 or above, and put a reverse proxy in front.`;
  }
  if (!context.databaseUrl) return undefined; // the embedded server's own problems are StartupErrors already
  if (has("28P01")) {
    return `The database at ${db.server} refused the password of user "${db.user}": fix the user name or password in ${setting}.`;
  }
  if (has("28000") && /no encryption|SSL off/i.test(message)) {
    return `The database at ${db.server} only accepts encrypted connections: add ?sslmode=require to ${setting}.`;
  }
  if (has("28000")) return `The database at ${db.server} does not let user "${db.user}" in (${message}): fix ${setting}, or the server's pg_hba.conf.`;
  if (has("3D000")) return `The database "${db.database}" does not exist on ${db.server}: create it (createdb ${db.database}), or fix the database name in ${setting}.`;
  if (has("ECONNREFUSED")) return `Nothing accepts connections at ${db.server}: start PostgreSQL there, or fix the host and port in ${setting}.`;
  if (has("ENOTFOUND", "EAI_AGAIN")) return `The database host in ${setting} cannot be found (${db.server}): fix the host name.`;
  if (has("ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH") || /connection timeout|timeout expired/i.test(message)) {
    return `No answer from the database at ${db.server} in time: check the host and port in ${setting}, that PostgreSQL runs there, and that no firewall blocks this machine (DB_CONNECT_TIMEOUT_MS sets the wait).`;
  }
  if (has("ECONNRESET") || /Connection terminated unexpectedly/.test(message)) {
    return `The server at ${db.server} closed the connection at once: check that ${setting} names a PostgreSQL server (host and port), and whether it requires SSL (?sslmode=require).`;
  }
  return undefined;
}
