/**
 * An insertion-ordered map that can also hand out its values as an array for offset paging. The array is built
 * once and reused until the next change, so paging through a role of 20,000 users costs one array build, not
 * one per page.
 */
export class IndexedList<K, V> {
  #map = new Map<K, V>();
  #array: V[] | null = null;

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Adds at the end, or replaces in place when the key exists (order kept). */
  set(key: K, value: V): void {
    this.#map.set(key, value);
    this.#array = null;
  }

  delete(key: K): boolean {
    const deleted = this.#map.delete(key);
    if (deleted) this.#array = null;
    return deleted;
  }

  /** The values in insertion order. Do not mutate the returned array. */
  values(): readonly V[] {
    this.#array ??= [...this.#map.values()];
    return this.#array;
  }

  [Symbol.iterator](): IterableIterator<V> {
    return this.#map.values();
  }
}
