/**
 * The resources a targeted sync fetches, and Baton's resource-id form they are named in on the command line
 * (`--sync-resources`): `bid:r:<type>/<id>` or `bid:r:<parent type>/<parent id>/<type>/<id>`, with `:`, `/`
 * and `\` inside a value escaped by `\` (PROTOCOL-2 §1.1).
 */

export interface TargetedResource {
  resourceType: string;
  resource: string;
  /** Passed on to GetResource only when both parts are set. */
  parent?: { resourceType: string; resource: string };
}

const PREFIX = "bid:r:";
/** Longer than any id a connector uses; bounds what one flag value can make us hold. */
const MAX_BID_LENGTH = 4096;

export class BidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BidError";
  }
}

const usage = "use bid:r:<type>/<id> (e.g. bid:r:team/<team id>) or bid:r:<parent type>/<parent id>/<type>/<id>";

/** Parses one Baton resource id; throws BidError saying what is wrong and what the form is. */
export function parseResourceBid(text: string): TargetedResource {
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
  if (text.length > MAX_BID_LENGTH) throw new BidError(`${shown} is longer than ${MAX_BID_LENGTH} characters`);
  if (!text.startsWith(PREFIX)) {
    throw new BidError(`${shown} is not a Baton resource id: it must start with "${PREFIX}"; ${usage}`);
  }
  const parts: string[] = [];
  let current = "";
  const body = text.slice(PREFIX.length);
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\") {
      const next = body[i + 1];
      if (next !== ":" && next !== "/" && next !== "\\") {
        throw new BidError(`${shown}: "\\" must be followed by ":", "/" or "\\" (an escaped character); ${usage}`);
      }
      current += next;
      i++;
    } else if (c === "/") {
      parts.push(current);
      current = "";
    } else if (c === ":") {
      throw new BidError(`${shown}: a ":" inside a type or id must be escaped as "\\:"; ${usage}`);
    } else {
      current += c;
    }
  }
  parts.push(current);
  if ((parts.length !== 2 && parts.length !== 4) || parts.some((p) => p === "")) {
    throw new BidError(`${shown} is not a Baton resource id (${parts.length} non-empty "/"-separated parts are needed: 2 or 4); ${usage}`);
  }
  if (parts.length === 2) return { resourceType: parts[0]!, resource: parts[1]! };
  return { resourceType: parts[2]!, resource: parts[3]!, parent: { resourceType: parts[0]!, resource: parts[1]! } };
}

/** `bid:r:<type>/<id>` of a target (escaping as parseResourceBid expects), for messages and logs. */
export function formatResourceBid(t: TargetedResource): string {
  const esc = (s: string) => s.replace(/[\\:/]/g, (c) => `\\${c}`);
  const own = `${esc(t.resourceType)}/${esc(t.resource)}`;
  return t.parent ? `${PREFIX}${esc(t.parent.resourceType)}/${esc(t.parent.resource)}/${own}` : `${PREFIX}${own}`;
}

/** Drops repeats (same type, id and parent), keeping the first; then those outside a non-empty type filter. */
export function dedupeTargets(targets: readonly TargetedResource[], resourceTypeIds: readonly string[] | undefined): TargetedResource[] {
  const seen = new Set<string>();
  const out: TargetedResource[] = [];
  for (const t of targets) {
    const key = JSON.stringify([t.resourceType, t.resource, t.parent?.resourceType ?? "", t.parent?.resource ?? ""]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (resourceTypeIds?.length && !resourceTypeIds.includes(t.resourceType)) continue;
    out.push(t);
  }
  return out;
}
