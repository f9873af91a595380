/**
 * Response processing takes turns with socket I/O: one response at a time, with event-loop turns between.
 *
 * A sync keeps every connection busy with a queue of requests; when a response completes, undici sends the
 * next queued request on that connection at once, but only when the event loop gets to that socket's data.
 * Processing a response (parse, validate, convert, store) runs as microtasks right behind the I/O callback that
 * completed it, so when a dozen responses complete together, the last socket's next request waits for the
 * processing of all the others: connections sit idle while there is work queued for them.
 *
 * `nextTurn()` resolves in a later check phase of the event loop, one waiter at a time, so pending socket I/O is
 * always handled between two responses' processing. Under light load it costs two loop turns (well under 1 ms).
 *
 * Between two waiters there are two turns, not one. undici reuses a freed keep-alive socket from the check phase
 * (setImmediate, once after the response and once more to see that the socket is still idle), and an immediate
 * queued by an I/O callback runs after the immediates already queued. With one turn, the next waiter was always
 * queued first, so every reuse waited behind a response's processing; the relay below is queued first instead,
 * and the waiter after it runs behind the I/O's immediates. Bench org, four runs each: connections idle between
 * two requests 7.1-7.8 -> 3.5-5.4 ms on average, sync wall 19.25-19.58 -> 18.57-19.04 s.
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
  // Scheduled from inside a check-phase callback, so the relay runs in the next turn, after that turn's poll
  // phase and ahead of the immediates its I/O queues; the next waiter runs one turn later, behind them.
  setImmediate(relay);
}

function relay(): void {
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
