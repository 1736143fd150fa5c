/*
 * Wait queues over an i32 word of a shared buffer (Linux wait_queue_head_t): a sequence
 * word that wakers bump and sleepers wait on, and a count of sleepers so that a waker with
 * nobody to wake touches nothing but one load.
 *
 *   sleeper                                   waker
 *   WAITERS++                                 (makes the thing available)
 *   loop:                                     if load(WAITERS) > 0:
 *     seq = load(SEQ)                           add(SEQ, 1); notify(SEQ)
 *     try; if it worked, break
 *     wait(SEQ, seq, ms)
 *   WAITERS--
 *
 * Counting itself a waiter before it reads SEQ, and reading SEQ before each try, is what
 * makes a wake-up between a try and the wait count: the wait then returns at once
 * ("not-equal"). Waits are bounded (rounds of a few ms), so a lost wake-up would cost one
 * round, never a hang.
 */

/** Atomics.waitAsync (ES2024; Node 16+), typed here for the ES2022 library. */
type WaitAsync = (
  a: Int32Array,
  i: number,
  value: number,
  ms: number,
) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics);

/** A wait round: after it a sleeper looks again (at memory, at who is still online). */
const WAIT_ROUND_MS = 20;

/**
 * How long a sleeper's next wait round may last: WAIT_ROUND_MS, less when `deadline` (a
 * Date.now() time) comes sooner, 0 once it has passed; with `nofail` there is no bound.
 */
export function waitRound(deadline: number, nofail: boolean): number {
  if (nofail) return WAIT_ROUND_MS;
  return Math.max(0, Math.min(deadline - Date.now(), WAIT_ROUND_MS));
}

/** Wakes the sleepers on `w[seq]` (their count at `w[waiters]`), if there are any. */
export function wakeUp(w: Int32Array, seq: number, waiters: number): void {
  if (Atomics.load(w, waiters) === 0) return;
  Atomics.add(w, seq, 1);
  Atomics.notify(w, seq);
}

/**
 * Waits without blocking the thread until `w[i]` is no longer `value`, or `ms` have passed
 * (Atomics.waitAsync; a timer where it is missing).
 */
export async function waitAsyncOn(
  w: Int32Array,
  i: number,
  value: number,
  ms: number,
): Promise<void> {
  if (waitAsync === undefined) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(ms, WAIT_ROUND_MS)));
    return;
  }
  const r = waitAsync(w, i, value, ms);
  if (r.async) await r.value;
}
