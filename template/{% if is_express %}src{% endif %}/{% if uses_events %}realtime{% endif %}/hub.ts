/** Messages handed to a subscriber and not yet written out, at most: past that it is dropped. */
export const MAX_QUEUED_MESSAGES = 256;

/** What the hub carries: a JSON object with a type, which each subscriber takes or leaves. */
export interface Message {
  readonly type: string;
  readonly [member: string]: unknown;
}

/** A message on its way to every subscriber (`to: null`) or to one user's subscribers. */
export interface Envelope<Carried extends Message = Message> {
  to: number | null;
  message: Carried;
}

/** One message on its way out, its JSON made once for every subscriber that sends text. */
export class Delivery {
  #text: string | undefined;

  constructor(readonly message: Message) {}

  get text(): string {
    this.#text ??= JSON.stringify(this.message);
    return this.#text;
  }
}

/** One of a user's open channels to this process, which takes the messages meant for them. */
export interface Subscriber {
  readonly userId: number;
  /**
   * Takes a message without waiting for the client; false when it cannot (it is closing, or
   * too far behind), and the hub lets it go.
   */
  receive(delivery: Delivery): boolean;
}

/**
 * This process's subscribers, by user. Fan-out never waits for a client: each subscriber's
 * queue absorbs a message or the subscriber is dropped.
 */
export class Hub {
  readonly #all = new Set<Subscriber>();
  readonly #byUser = new Map<number, Set<Subscriber>>();

  add(subscriber: Subscriber): void {
    this.#all.add(subscriber);
    const own = this.#byUser.get(subscriber.userId);
    if (own) own.add(subscriber);
    else this.#byUser.set(subscriber.userId, new Set([subscriber]));
  }

  remove(subscriber: Subscriber): void {
    this.#all.delete(subscriber);
    const own = this.#byUser.get(subscriber.userId);
    own?.delete(subscriber);
    if (own?.size === 0) this.#byUser.delete(subscriber.userId);
  }

  /** To every subscriber of this process (`to: null`) or to one user's. */
  deliver({ to, message }: Envelope): void {
    const targets = to === null ? this.#all : this.#byUser.get(to);
    if (!targets?.size) return;
    const delivery = new Delivery(message);
    // A copy: a subscriber dropped on the way leaves the set being iterated.
    for (const subscriber of [...targets]) {
      if (!subscriber.receive(delivery)) this.remove(subscriber);
    }
  }
}
