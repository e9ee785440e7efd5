import type { Envelope } from "./hub.js";

/** Carries messages to the hub of every instance, this one included. */
export interface Broker {
  /** Resolves once the message is on its way; rejects when it cannot be. */
  publish(envelope: Envelope): Promise<void>;
  close(): Promise<void>;
}
