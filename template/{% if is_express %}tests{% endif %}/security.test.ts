import { SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";

import { UnauthenticatedError } from "../src/errors.js";
import { hashPassword, verifyPassword } from "../src/security/passwords.js";
import { Tokens } from "../src/security/tokens.js";

const SECRET = "a-secret-that-is-long-enough-for-tests";
const key = new TextEncoder().encode(SECRET);

describe("passwords", () => {
  it("verifies the password of a salted argon2id hash only", async () => {
    const hash = await hashPassword("correct horse");

    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await hashPassword("correct horse")).not.toBe(hash);
    expect(await verifyPassword("correct horse", hash)).toBe(true);
    expect(await verifyPassword("wrong horse", hash)).toBe(false);
    expect(await verifyPassword("correct horse", undefined)).toBe(false);
    expect(await verifyPassword("correct horse", "not-a-hash")).toBe(false);
  });
});

describe("tokens", () => {
  const tokens = new Tokens({ jwtSecret: SECRET, jwtTtlS: 60 });

  it("round-trips the user id", async () => {
    expect(await tokens.userIdFrom(await tokens.issue(42))).toBe(42);
  });

  it.each([
    ["expired", new SignJWT().setSubject("1").setExpirationTime(0)],
    ["without expiry", new SignJWT().setSubject("1")],
    ["with a non-numeric subject", new SignJWT().setSubject("admin").setExpirationTime("1m")],
  ])("refuses a token %s", async (_case, token) => {
    const signed = await token.setProtectedHeader({ alg: "HS256" }).sign(key);

    await expect(tokens.userIdFrom(signed)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it("remembers a verified token until it expires", async () => {
    // The test's own clock: on the real one, a 1 s token issued late in a second has expired
    // a few milliseconds later, in the next (a JWT counts whole seconds).
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2030-01-01T00:00:00.000Z"));
      const shortLived = new Tokens({ jwtSecret: SECRET, jwtTtlS: 1 });
      const token = await shortLived.issue(7);

      expect(await shortLived.userIdFrom(token)).toBe(7);
      vi.setSystemTime(new Date("2030-01-01T00:00:00.999Z"));
      expect(await shortLived.userIdFrom(token)).toBe(7); // from memory
      vi.setSystemTime(new Date("2030-01-01T00:00:01.000Z"));

      await expect(shortLived.userIdFrom(token)).rejects.toThrow(UnauthenticatedError);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a token signed with another secret", async () => {
    const other = new Tokens({ jwtSecret: "another-secret-entirely-different", jwtTtlS: 60 });

    await expect(tokens.userIdFrom(await other.issue(1))).rejects.toThrow(UnauthenticatedError);
  });
});
