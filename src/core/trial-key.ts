// Owns the signing key of a trial install: generated once, kept under .data/ (git-ignored), printed at
// start and read by `npm run send-sample`. Never used in production (config.ts refuses that).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const trialKeyFile = (dataDir: string) => path.join(dataDir, "trial-signing-key");

export function readTrialKey(dataDir: string): string | undefined {
  try {
    const key = fs.readFileSync(trialKeyFile(dataDir), "utf8").trim();
    return key.length > 0 ? key : undefined;
  } catch {
    return undefined;
  }
}

export function trialSigningKey(dataDir: string): string {
  const existing = readTrialKey(dataDir);
  if (existing) return existing;
  const key = `trial_${randomBytes(24).toString("hex")}`;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(trialKeyFile(dataDir), `${key}\n`, { mode: 0o600 });
  return key;
}
