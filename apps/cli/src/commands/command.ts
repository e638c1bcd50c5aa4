export interface Command {
  readonly summary: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}
