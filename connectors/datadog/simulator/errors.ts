/**
 * An error with the HTTP status Datadog would answer. Org rules (unknown id, duplicate membership) and request
 * checks throw it; the server turns it into Datadog's error body `{"errors": [...]}`.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly errors: string[];

  constructor(status: number, ...errors: string[]) {
    super(errors.join("; "));
    this.name = "ApiError";
    this.status = status;
    this.errors = errors;
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`);
export const badRequest = (...errors: string[]): ApiError => new ApiError(400, ...errors);
