/** Reading a response body fully, with a size cap. */
import { HttpError, HttpErrorCode } from "./errors.ts";

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface CappedBodyContext {
  operation: string;
  method: string;
  url: string;
  status: number;
}

function tooLarge(ctx: CappedBodyContext, limit: number, seen: string): HttpError {
  return new HttpError({
    code: HttpErrorCode.BODY_TOO_LARGE,
    operation: ctx.operation,
    method: ctx.method,
    url: ctx.url,
    status: ctx.status,
    message: `${ctx.method} ${ctx.url}: response body ${seen} exceeds the ${limit}-byte cap; raise maxBodyBytes if this response is legitimate`,
  });
}

/**
 * Reads `body` into one Buffer, failing with BODY_TOO_LARGE as soon as more than `limit` bytes arrived (or the
 * Content-Length announces more). The stream is destroyed on failure so the connection is not reused half-read.
 */
export async function readCappedBody(
  body: AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => unknown },
  contentLength: number | undefined,
  limit: number,
  ctx: CappedBodyContext,
): Promise<Buffer> {
  if (contentLength !== undefined && contentLength > limit) {
    const err = tooLarge(ctx, limit, `(Content-Length ${contentLength})`);
    body.destroy?.(err);
    throw err;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > limit) {
      const err = tooLarge(ctx, limit, `(more than ${limit} bytes received)`);
      body.destroy?.(err);
      throw err;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
