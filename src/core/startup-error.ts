// Owns the errors that stop the service (or a command-line tool) from starting, each with a message of
// one line that says what went wrong and what to do. main.ts prints the message alone, without a stack.
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
