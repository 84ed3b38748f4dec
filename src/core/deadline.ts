// Owns answering in time: a promise raced against a timer, so a request waiting on the database is
// answered (503) before its client gives up. The work itself is not cancelled.

export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`not done within ${ms} ms`);
    this.name = "DeadlineError";
  }
}

/** Rejects with DeadlineError after `ms`; a write may still commit later, which a retry then finds as a duplicate. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
