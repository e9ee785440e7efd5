import type { WebSocket } from "ws";

import type { Envelope } from "./protocol.js";
import { CloseCode } from "./protocol.js";

/** Messages handed to a connection's socket and not yet written out, at most. */
export const MAX_QUEUED_MESSAGES = 256;
/** How long a closing peer has to answer our close frame before its socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 1000;

/** One accepted WebSocket: its user, and a send queue that cannot grow without bound. */
export class Connection {
  readonly openedAt = performance.now();
  /** The code this side closed with, if it did (the log line's `close_code`). */
  closedWith: number | undefined;
  #queued = 0;

  constructor(
    readonly socket: WebSocket,
    readonly userId: number,
    readonly requestId: string,
  ) {}

  /**
   * Queues `text` without waiting for the client: ws writes it as the socket drains, and its
   * callback says when it left. False, and the connection closed with 1013, when the queue is
   * full: the client stopped reading.
   */
  send(text: string): boolean {
    if (this.closedWith !== undefined) return false;
    if (this.#queued >= MAX_QUEUED_MESSAGES) {
      this.close(CloseCode.tryAgainLater, "Messages were not read in time");
      return false;
    }
    this.#queued++;
    this.socket.send(text, () => {
      this.#queued--;
    });
    return true;
  }

  /** Starts the close handshake; a peer that does not finish it (it stopped reading) is cut. */
  close(code: number, reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closing(code);
    this.socket.close(code, reason);
  }

  /**
   * This side is closing with `code`: ours, or ws's own close on a protocol error (1009, 1007,
   * 1002). A peer that does not answer the close frame within CLOSE_TIMEOUT_MS is cut, rather
   * than held for ws's 30 s.
   */
  closing(code: number): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = code;
    const cut = setTimeout(() => {
      this.socket.terminate();
    }, CLOSE_TIMEOUT_MS);
    this.socket.once("close", () => {
      clearTimeout(cut);
    });
  }
}

/**
 * This process's connections, by user. Fan-out serialises a message once and never waits for a
 * client: each connection's queue absorbs it or the connection is dropped.
 */
export class Hub {
  readonly #all = new Set<Connection>();
  readonly #byUser = new Map<number, Set<Connection>>();

  add(connection: Connection): void {
    this.#all.add(connection);
    const own = this.#byUser.get(connection.userId);
    if (own) own.add(connection);
    else this.#byUser.set(connection.userId, new Set([connection]));
  }

  remove(connection: Connection): void {
    this.#all.delete(connection);
    const own = this.#byUser.get(connection.userId);
    own?.delete(connection);
    if (own?.size === 0) this.#byUser.delete(connection.userId);
  }

  /** To every connection of this process (`to: null`) or to one user's. */
  deliver({ to, message }: Envelope): void {
    const targets = to === null ? this.#all : this.#byUser.get(to);
    if (!targets?.size) return;
    const text = JSON.stringify(message);
    // A copy: a connection dropped on the way leaves the set being iterated.
    for (const connection of [...targets]) {
      if (!connection.send(text)) this.remove(connection);
    }
  }

  /** Closes every connection with `code`; resolves once their sockets are closed. */
  async closeAll(code: number, reason: string): Promise<void> {
    const closed = [...this.#all].map(
      (connection) =>
        new Promise<void>((resolve) => {
          // In the hub means not closed yet: the close listener removes it.
          connection.socket.once("close", resolve);
          connection.close(code, reason);
        }),
    );
    await Promise.all(closed);
  }
}
