import argon2 from "argon2";

/**
 * argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane): ~30 ms of one core per hash,
 * where RFC 9106's 64 MiB profile costs six times that. Hashes carry their parameters, so
 * changing them keeps old hashes valid. Hashing runs on libuv's thread pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), which also bounds how many run at once.
 */
export const hashingCost = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

let dummyHash: Promise<string> | undefined;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, ...hashingCost });
}

/** Verifies against a dummy hash when there is no user, so both paths take the same time. */
export async function verifyPassword(
  password: string,
  passwordHash: string | undefined,
): Promise<boolean> {
  dummyHash ??= hashPassword("not-a-real-password");
  try {
    const matches = await argon2.verify(passwordHash ?? (await dummyHash), password);
    return matches && passwordHash !== undefined;
  } catch {
    return false; // a malformed stored hash never authenticates
  }
}
