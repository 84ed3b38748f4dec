// Owns structured logging: JSON lines through pino. Known secret-bearing fields are redacted at every
// level, so a secret can only reach the log if code puts it in a message string (tests check it does not).
import { pino, type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

export const REDACT_PATHS = [
  "password",
  "*.password",
  "key",
  "*.key",
  "keys",
  "*.keys",
  "signingKeys",
  "*.signingKeys",
  "apiKey",
  "*.apiKey",
  "writeKey",
  "*.writeKey",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "*.headers[\"x-cio-signature\"]",
  "url",
  "*.url",
  "databaseUrl",
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "cio-companion" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** A URL with its password replaced, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "[unparseable url]";
  }
}
