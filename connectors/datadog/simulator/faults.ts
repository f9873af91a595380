/**
 * Fault injection for tests: a queue of fault specs matched against each authenticated, routed request. A spec
 * with `count` stops after that many hits; without one it applies until cleared.
 */

export type FaultKind =
  | "status"
  | "reset"
  | "slow"
  | "malformed"
  | "wrong-shape"
  | "repeat-page"
  | "duplicate"
  | "oversized"
  | "429-no-headers"
  | "total";

export type WrongShapeVariant = "drop-required" | "wrong-type" | "nulls" | "unknown-fields";

export interface FaultSpec {
  match?: { method?: string; pathPrefix?: string };
  kind: FaultKind;
  /** kind "status": the HTTP status to answer (default 500). */
  status?: number;
  /** kind "slow": wait this long, then answer normally. Without it the answer starts and never finishes. */
  delayMs?: number;
  /** kind "wrong-shape": what to break (default "drop-required"). */
  variant?: WrongShapeVariant;
  /** kind "total": the item count every total of the answer announces instead of the true one (any number). */
  total?: number;
  /** kind "oversized": body size in bytes (default 64 MiB). */
  bytes?: number;
  /** Apply this many times, then stop. Default: until clearFaults(). */
  count?: number;
}

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
}

const KINDS = new Set<FaultKind>([
  "status",
  "reset",
  "slow",
  "malformed",
  "wrong-shape",
  "repeat-page",
  "duplicate",
  "oversized",
  "429-no-headers",
  "total",
]);

export class FaultSet {
  #active: ActiveFault[] = [];

  add(specs: readonly FaultSpec[]): void {
    for (const spec of specs) {
      if (!KINDS.has(spec.kind)) throw new Error(`unknown fault kind "${String(spec.kind)}"; use one of ${[...KINDS].join(", ")}`);
      if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
        throw new Error(`fault count must be a positive integer, got ${spec.count}`);
      }
      this.#active.push({ spec: { ...spec }, remaining: spec.count ?? Infinity });
    }
  }

  clear(): void {
    this.#active = [];
  }

  /** Faults still armed (for tests that check a fault was used up). */
  pending(): FaultSpec[] {
    return this.#active.map((a) => a.spec);
  }

  /**
   * The first armed fault matching the request, used up by one. `accepts` lets the caller skip a fault that
   * cannot apply here (e.g. "duplicate" on a first page) without spending it.
   */
  take(method: string, pathname: string, accepts: (spec: FaultSpec) => boolean = () => true): FaultSpec | null {
    for (let i = 0; i < this.#active.length; i++) {
      const active = this.#active[i];
      const { match } = active.spec;
      if (match?.method && match.method.toUpperCase() !== method) continue;
      if (match?.pathPrefix && !pathname.startsWith(match.pathPrefix)) continue;
      if (!accepts(active.spec)) continue;
      active.remaining--;
      if (active.remaining <= 0) this.#active.splice(i, 1);
      return active.spec;
    }
    return null;
  }
}

/** Breaks a JSON:API body the way `variant` says, on its first primary object (or on all, for unknown fields). */
export function breakShape(body: unknown, variant: WrongShapeVariant): unknown {
  if (!body || typeof body !== "object") return body;
  const doc = body as Record<string, unknown>;
  const primary = Array.isArray(doc.data) ? (doc.data as Record<string, unknown>[]) : doc.data ? [doc.data as Record<string, unknown>] : [];
  const first = primary[0];
  switch (variant) {
    case "drop-required":
      if (first) {
        delete first.id;
        delete first.type;
      } else {
        delete doc.data;
      }
      break;
    case "wrong-type":
      if (first) {
        first.id = 12345;
        first.attributes = "not-an-object";
      } else {
        doc.data = "not-a-list";
      }
      break;
    case "nulls":
      if (first) {
        first.id = null;
        first.attributes = null;
      } else {
        doc.data = null;
      }
      break;
    case "unknown-fields":
      doc.unexpected_top_level = { added_by: "simulator", values: [1, 2, 3] };
      for (const item of primary) {
        item.unexpected_field = "surprise";
        if (item.attributes && typeof item.attributes === "object") {
          (item.attributes as Record<string, unknown>).unexpected_attribute = { nested: true };
        }
      }
      break;
  }
  return doc;
}

/**
 * Replaces every total a listing answer announces (meta.page.total_count / total_filtered_count, meta.pagination.total)
 * with `total`: an overstated or understated count, as a buggy or hostile API would send, with the items unchanged.
 */
export function misstateTotal(body: unknown, total: number): unknown {
  const meta = (body as { meta?: Record<string, unknown> } | undefined)?.meta;
  if (!meta || typeof meta !== "object") return body;
  const page = meta.page as Record<string, unknown> | undefined;
  if (page && typeof page === "object") {
    if ("total_count" in page) page.total_count = total;
    if ("total_filtered_count" in page) page.total_filtered_count = total;
  }
  const pagination = meta.pagination as Record<string, unknown> | undefined;
  if (pagination && typeof pagination === "object" && "total" in pagination) pagination.total = total;
  return body;
}

export function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return texts[status] ?? `HTTP ${status}`;
}
