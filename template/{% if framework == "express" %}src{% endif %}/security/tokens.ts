import { createSecretKey, type KeyObject } from "node:crypto";

import { errors, jwtVerify, SignJWT } from "jose";

import type { Config } from "../config.js";
import { unauthorized } from "../problems.js";

const ALGORITHM = "HS256";

/** HS256 access tokens whose subject is the user id. */
export class Tokens {
  readonly #key: KeyObject;
  readonly #ttlS: number;

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

  /** The user id in a valid, unexpired token; 401 otherwise. */
  async userIdFrom(token: string): Promise<number> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        requiredClaims: ["sub", "exp"],
      });
      const userId = Number(payload.sub);
      if (Number.isSafeInteger(userId) && userId > 0) return userId;
    } catch (error) {
      if (!(error instanceof errors.JOSEError)) throw error;
    }
    throw unauthorized("Invalid or expired token");
  }
}
