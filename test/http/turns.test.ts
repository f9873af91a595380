/**
 * nextTurn(): response processing takes event-loop turns of its own, so I/O that becomes ready while one response
 * is being processed is handled before the next response's processing starts.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { nextTurn } from "../../src/http/turns.ts";

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin: stands for parsing and storing a large page
  }
}

/** A TCP server on loopback and a client socket connected to it, with the server's side of the connection. */
async function loopbackPair(): Promise<{ server: Server; serverSide: Socket; socket: Socket }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const socket: Socket = connect(port, "127.0.0.1");
  const [serverSide] = await Promise.all([accepted, new Promise<void>((resolve) => socket.once("connect", () => resolve()))]);
  return { server, serverSide, socket };
}

describe("nextTurn", () => {
  it("resolves waiters in order, each in an event-loop turn of its own", async () => {
    const order: string[] = [];
    const waiters = [1, 2, 3].map((n) =>
      nextTurn().then(() => {
        order.push(`w${n}`);
        if (n === 1) busy(5); // the timer below is due when this ends, and runs before the next waiter
      }),
    );
    setTimeout(() => order.push("timer"), 1);
    await Promise.all(waiters);
    expect(order.filter((s) => s.startsWith("w"))).toEqual(["w1", "w2", "w3"]);
    expect(order.indexOf("timer")).toBeGreaterThan(0);
    expect(order.indexOf("timer")).toBeLessThan(order.length - 1);
  });

  it("handles socket data that arrived during one waiter's work before the next waiter runs", async () => {
    const { server, serverSide, socket } = await loopbackPair();
    try {
      const events: string[] = [];
      socket.on("data", () => events.push("data"));
      const first = nextTurn().then(() => {
        serverSide.write("ping"); // readable on the other end long before this busy work ends
        busy(50);
        events.push("first done");
      });
      const second = nextTurn().then(() => events.push("second"));
      await Promise.all([first, second]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Two waiters queued in the same turn must not run back to back while the socket's data waits.
      expect(events).toEqual(["first done", "data", "second"]);
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("runs what that socket data queued with setImmediate (as undici does to reuse a socket) before the next waiter", async () => {
    const { server, serverSide, socket } = await loopbackPair();
    try {
      const events: string[] = [];
      socket.on("data", () => {
        events.push("data");
        // undici's keep-alive reuse: one immediate, which queues another (the idle-socket check), then the write.
        setImmediate(() => {
          events.push("reuse");
          setImmediate(() => events.push("write"));
        });
      });
      const first = nextTurn().then(() => {
        serverSide.write("ping");
        busy(50);
        events.push("first done");
      });
      const second = nextTurn().then(() => events.push("second"));
      await Promise.all([first, second]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // The reuse's first hop runs before the next response's processing (with one turn between waiters it ran
      // after it); the second hop may share the next waiter's turn.
      expect(events.slice(0, 4)).toEqual(["first done", "data", "reuse", "second"]);
      expect(events).toContain("write");
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
