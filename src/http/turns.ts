/**
 * Response processing takes turns with socket I/O: one response per event-loop turn.
 *
 * A sync keeps every connection busy with a queue of requests; when a response completes, undici sends the
 * next queued request on that connection at once, but only when the event loop gets to that socket's data.
 * Processing a response (parse, validate, convert, store) runs as microtasks right behind the I/O callback that
 * completed it, so when a dozen responses complete together, the last socket's next request waits for the
 * processing of all the others: connections sit idle while there is work queued for them.
 *
 * `nextTurn()` resolves in a later check phase of the event loop, one waiter per turn, so pending socket I/O is
 * always handled between two responses' processing. Under light load it costs one loop turn (well under 1 ms).
 */
const waiting: Array<() => void> = [];
let pumping = false;

function pump(): void {
  const next = waiting.shift();
  if (!next) {
    pumping = false;
    return;
  }
  next();
  // Scheduled from inside a check-phase callback, so it runs in the next turn, after that turn's poll phase.
  setImmediate(pump);
}

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}
