import { createSecretKey, type KeyObject } from "node:crypto";

import { errors, jwtVerify, SignJWT } from "jose";

import type { Config } from "../config.js";
import { UnauthenticatedError } from "../errors.js";

const ALGORITHM = "HS256";
/** Verified tokens remembered (least recently used dropped first): a client sends the same one. */
const VERIFIED_CACHE_SIZE = 10_000;

interface Verified {
  userId: number;
  expiresAtMs: number;
}

/** HS256 access tokens whose subject is the user id. */
export class Tokens {
  readonly #key: KeyObject;
  readonly #ttlS: number;
  // Signature checks cost more than the rest of an authenticated read; the expiry is rechecked.
  readonly #verified = new Map<string, Verified>();

  constructor(config: Pick<Config, "jwtSecret" | "jwtTtlS">) {
    // Imported once: jose would import raw bytes again on every sign and verify.
    this.#key = createSecretKey(Buffer.from(config.jwtSecret));
    this.#ttlS = config.jwtTtlS;
  }

  get ttlS(): number {
    return this.#ttlS;
  }

  issue(userId: number): Promise<string> {
    return new SignJWT()
      .setProtectedHeader({ alg: ALGORITHM })
      .setSubject(String(userId))
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlS}s`)
      .sign(this.#key);
  }

  /** The user id in a valid, unexpired token; an UnauthenticatedError otherwise. */
  async userIdFrom(token: string): Promise<number> {
    const known = this.#verified.get(token);
    if (known) {
      this.#verified.delete(token); // re-inserted below: most recently used last
      if (known.expiresAtMs > Date.now()) {
        this.#verified.set(token, known);
        return known.userId;
      }
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        requiredClaims: ["sub", "exp"],
      });
      const userId = Number(payload.sub);
      if (Number.isSafeInteger(userId) && userId > 0 && payload.exp !== undefined) {
        this.#remember(token, { userId, expiresAtMs: payload.exp * 1000 });
        return userId;
      }
    } catch (error) {
      if (!(error instanceof errors.JOSEError)) throw error;
    }
    throw new UnauthenticatedError("Invalid or expired token");
  }

  #remember(token: string, verified: Verified): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, verified);
  }
}
