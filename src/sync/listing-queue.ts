/**
 * Resource listings waiting to run, taken round-robin by resource type. A connector may fan one type out into
 * hundreds of page listings at once; in one FIFO those would hold back every other type's listings (and the
 * APIs behind them, with their own rate limits) until the last page is fetched.
 */
import type { Candidate } from "./limit-aware.ts";
import type { ListAction } from "./state.ts";

export class ListingQueue {
  private readonly byType = new Map<string, ListAction[]>();
  private turn = 0;

  constructor(actions: readonly ListAction[] = []) {
    for (const a of actions) this.push(a);
  }

  push(action: ListAction): void {
    let list = this.byType.get(action.resourceTypeId);
    if (!list) this.byType.set(action.resourceTypeId, (list = []));
    list.push(action);
  }

  shift(): ListAction | undefined {
    if (this.byType.size === 0) return undefined;
    const types = [...this.byType.keys()];
    const type = types[this.turn++ % types.length];
    const list = this.byType.get(type)!;
    const action = list.shift()!;
    if (list.length === 0) this.byType.delete(type);
    return action;
  }

  /** The types with listings waiting, as the limit-aware order sees them (limit-aware.ts). */
  candidates(): Candidate[] {
    return [...this.byType].map(([key, list]) => ({ key, items: list.length, pages: 0 }));
  }

  /** Every waiting listing (for checkpoints). */
  all(): ListAction[] {
    return [...this.byType.values()].flat();
  }
}
