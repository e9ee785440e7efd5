/**
 * What the services and the token checks refuse, in their own words. They know nothing of
 * HTTP: the one error middleware (problems.ts) answers each with its problem+json.
 */
export abstract class DomainError extends Error {}

/** Something the caller does not have: missing, or another owner's. */
export class NotFoundError extends DomainError {
  override name = "NotFoundError";
}

/** A write that would break a uniqueness rule (a username taken). */
export class ConflictError extends DomainError {
  override name = "ConflictError";
}

/** The caller is not who they claim: a token that is invalid, expired, or whose user is gone. */
export class UnauthenticatedError extends DomainError {
  override name = "UnauthenticatedError";
}

export const callerGone = () => new UnauthenticatedError("The token's user no longer exists");

/** An `Idempotency-Key` sent again with another request than the one it was first used for. */
export class IdempotencyKeyReusedError extends DomainError {
  override name = "IdempotencyKeyReusedError";

  constructor() {
    super("The Idempotency-Key was used with another body");
  }
}
