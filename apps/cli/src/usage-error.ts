/**
 * The command line was wrong (an unknown option value, a missing argument): the user can fix it
 * by retyping. main prints its message on one line and exits with status 2, as for parseArgs's
 * own errors; every other failure exits with 1.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
