/*
 * Exit codes of the `kmem` command, and the error that carries one.
 *
 *   0  success
 *   1  failure: an I/O error, or kmem refused the configuration
 *   2  bad usage: an unknown command, option, allocator, workload or report name, a bad value
 *   3  malformed trace: the message is `kmem: file:line: what is wrong`, nothing else was done
 *   4  an allocator misbehaved during a replay (a contents check, verify() or an exception);
 *     the results were still printed
 */

export const enum Exit {
  Ok = 0,
  Failure = 1,
  Usage = 2,
  BadTrace = 3,
  AllocatorFault = 4,
}

/** An error the command reports as `kmem: message` with a given exit code. */
export class CliError extends Error {
  readonly exitCode: Exit;
  constructor(exitCode: Exit, message: string) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
