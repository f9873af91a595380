import { expect } from "vitest";

/** The error `p` rejects with, asserted to be a `type`; a `p` that resolves fails the test. */
export async function rejection<E>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error("expected a failure");
}
