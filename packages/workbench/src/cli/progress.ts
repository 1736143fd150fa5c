/*
 * A progress bar on stderr for long replays, shown only when stderr is a terminal (never in
 * pipes, files or CI logs, and never on stdout, which carries the results).
 */

export interface Progress {
  /** Sets the bar to `done` of its total, with a label for what runs now. */
  update(done: number, label: string): void;
  stop(): void;
}

const NONE: Progress = {
  update() {},
  stop() {},
};

/**
 * A bar over `total` units, or a no-op when stderr is not a terminal (or `enabled` is false).
 * The bar's package is loaded only when a bar is shown.
 */
export async function progressBar(total: number, enabled = true): Promise<Progress> {
  if (!enabled || process.stderr.isTTY !== true || total <= 0) return NONE;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{bar} {percentage}% | {label} | eta {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: "" });
  return {
    update(done: number, label: string): void {
      bar.update(Math.min(done, total), { label });
    },
    stop(): void {
      bar.stop();
    },
  };
}
