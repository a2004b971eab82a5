/**
 * Work for the main thread's idle time while a worker thread starts: Worker.create waits about half
 * a second for the SDK's workflow thread (its start, its modules, the workflow bundle), and what the
 * first workflow task would load on the main thread can be loaded then instead.
 */

/**
 * Runs `fn` once, after the next worker thread of this process was created (Node's 'worker' event),
 * so that it does not delay that thread's start. Returns what cancels it if no thread came. Work
 * done ahead of time: if it throws, the code that needs it meets the error itself, where it is
 * reported.
 */
export function afterNextThreadStart(fn: () => void): () => void {
  const onWorker = () =>
    setImmediate(() => {
      try {
        fn();
      } catch {
        /* see above */
      }
    });
  process.once('worker', onWorker);
  return () => process.off('worker', onWorker);
}
