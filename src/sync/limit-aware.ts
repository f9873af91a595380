/**
 * Which resource type's work to start next, given the rate limits the connector reports (a RateLimitDescription
 * on its list responses, as Go connectors and this SDK's HTTP client attach) and the work waiting per type.
 *
 * Why: with equal turns per type, every type gets the same number of starts. When one API's limit is the tightest
 * (5x bench org: 4,953 team-membership pages under 800 per 10 s, against 1,010 user pages under the same), equal
 * turns run that type at a fraction of its limit while the others use the connections, and its last 35 s run alone
 * with most connections idle. Inside a lane, the class (lane and resource type) whose waiting pages need the
 * longest at its rate is started first while it has budget left in its window (the longest-processing-time rule);
 * a class out of budget waits for its reset while the others use the slots. Across the listing queue and the
 * lanes, `longest` tells the engine which source holds the longest class, and every other start goes there first.
 *
 * Round-robin still decides whenever this cannot: while a class with work has reported no limit yet, every other
 * choice is left to the caller (so unlimited or not-yet-seen types keep their turns); and when every limited class
 * is out of budget, the one with the most waiting still starts (work is never held back: its requests wait in the
 * HTTP client's pacing, as they would have).
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { RateLimitDescriptionSchema } from "../gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { findAnnotation } from "../connector/annotations.ts";

export interface Candidate {
  /** The class: lane or listing queue, and resource type (a lane or queue names only the type). */
  key: string;
  /** Rows not started, or listings, waiting: each is a chain of pages. */
  items: number;
  /** Page tokens a connector handed out, waiting: each starts a chain of its own. */
  pages: number;
}

/** What a lane asks, with its types as keys: which to serve next (undefined: its own round-robin). */
export type TypeChooser = (candidates: readonly Candidate[]) => string | undefined;

interface ClassState {
  limit: number;
  remaining: number;
  resetAt: number;
  /** The longest window seen (reset - now at an answer); the first answers may come mid-window. */
  periodMs: number;
  inFlight: number;
  pagesStarted: number;
  chainsStarted: number;
}

const MIN_PERIOD_MS = 1000;
const MAX_PERIOD_MS = 3_600_000;

export class LimitAwareOrder {
  private readonly classes = new Map<string, ClassState>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private state(key: string): ClassState {
    let s = this.classes.get(key);
    if (!s) {
      s = { limit: 0, remaining: 0, resetAt: 0, periodMs: 0, inFlight: 0, pagesStarted: 0, chainsStarted: 0 };
      this.classes.set(key, s);
    }
    return s;
  }

  /** A chain of pages of `key` starts: a row's, a handed-out page's or a listing's. */
  chainStarted(key: string): void {
    this.state(key).chainsStarted++;
  }

  /** A page of `key` is about to be requested. */
  pageStarted(key: string): void {
    const s = this.state(key);
    s.inFlight++;
    s.pagesStarted++;
  }

  /** The page answered (annotations of the response) or failed (undefined). */
  pageEnded(key: string, annotations: readonly Any[] | undefined): void {
    const s = this.state(key);
    s.inFlight = Math.max(0, s.inFlight - 1);
    const rl = annotations && findAnnotation(annotations, RateLimitDescriptionSchema);
    if (!rl || rl.limit <= 0n || !rl.resetAt) return;
    const now = this.now();
    s.limit = Number(rl.limit);
    s.remaining = Math.max(0, Number(rl.remaining));
    s.resetAt = timestampMs(rl.resetAt);
    s.periodMs = Math.min(MAX_PERIOD_MS, Math.max(s.periodMs, MIN_PERIOD_MS, s.resetAt - now));
  }

  /**
   * How long the waiting work of a class needs at its rate (ms), and whether its window has budget left; undefined
   * for a class that has not reported a limit.
   */
  private projected(c: Candidate, now: number): { time: number; inBudget: boolean } | undefined {
    const s = this.classes.get(c.key);
    if (!s || s.limit === 0) return undefined;
    const pagesPerChain = s.chainsStarted > 0 ? Math.max(1, s.pagesStarted / s.chainsStarted) : 1;
    return { time: ((c.items + c.pages) * pagesPerChain * s.periodMs) / s.limit, inBudget: now >= s.resetAt || s.remaining - s.inFlight > 0 };
  }

  /** The longest projected time (ms) of the classes in budget among `candidates`; -1 when none is known and in budget. */
  longest(candidates: readonly Candidate[]): number {
    const now = this.now();
    let max = -1;
    for (const c of candidates) {
      const p = this.projected(c, now);
      if (p?.inBudget && p.time > max) max = p.time;
    }
    return max;
  }

  /**
   * The class to start next, or undefined to leave the choice to the caller's round-robin. `turns` is the caller's
   * own alternation (each lane has one: a lane whose classes never report a limit must not use up another's turns).
   */
  choose(candidates: readonly Candidate[], turns: { callersTurn: boolean } = { callersTurn: false }): string | undefined {
    const now = this.now();
    let unknown = false;
    let best: string | undefined;
    let bestTime = -1;
    let fallback: string | undefined;
    let fallbackTime = -1;
    for (const c of candidates) {
      const p = this.projected(c, now);
      if (p === undefined) {
        unknown = true;
        continue;
      }
      if (p.time > fallbackTime) [fallback, fallbackTime] = [c.key, p.time];
      if (p.inBudget && p.time > bestTime) [best, bestTime] = [c.key, p.time];
    }
    if (unknown) {
      turns.callersTurn = !turns.callersTurn;
      if (turns.callersTurn || fallback === undefined) return undefined;
    }
    return best ?? fallback;
  }
}

/** The chooser for one lane or queue: its types are classes `${prefix}:${type}` of `order`. */
export function chooserFor(order: LimitAwareOrder, prefix: string): TypeChooser {
  const at = prefix.length + 1;
  const turns = { callersTurn: false };
  return (candidates) => order.choose(asClasses(prefix, candidates), turns)?.slice(at);
}

/** A lane's or the listing queue's waiting types as classes `${prefix}:${type}`. */
export function asClasses(prefix: string, candidates: readonly Candidate[]): Candidate[] {
  return candidates.map((c) => ({ ...c, key: `${prefix}:${c.key}` }));
}
