/**
 * Decoding piece: parses an accepted answer's JSON in its own event-loop turn (turns.ts: sockets are served
 * between two responses' processing); a body that is not JSON (truncated by a proxy, an HTML error page with a
 * 200) becomes an `invalid` outcome the retry piece may repeat.
 */
import { HttpError, HttpErrorCode } from "./errors.ts";
import type { Interceptor } from "./pipeline.ts";
import { nextTurn } from "./turns.ts";

export const decodeJson: Interceptor = (next) => async (ex) => {
  const outcome = await next(ex);
  if (outcome.kind !== "response" || !ex.accept(outcome.status)) return outcome;
  await nextTurn();
  try {
    outcome.value = parseJsonBody(outcome.body);
    return outcome;
  } catch {
    const { status, body } = outcome;
    const error = new HttpError({
      code: HttpErrorCode.INVALID_RESPONSE,
      operation: ex.req.operation,
      method: ex.method,
      url: ex.displayUrl,
      status,
      attempts: ex.attempts,
      message: `${ex.method} ${ex.displayUrl} answered ${status} with a body that is not valid JSON (${body.length} bytes; truncated or malformed)`,
    });
    return { kind: "invalid", error };
  }
};

function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  const text = buf.toString("utf8");
  if (text.trim() === "") return undefined;
  return JSON.parse(text);
}
