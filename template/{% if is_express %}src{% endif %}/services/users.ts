import {
  insertReturningId,
  isUniqueViolation,
  timestamp,
  toIso,
  type Database,
} from "../db/database.js";
import type { UserRow } from "../db/schema.js";
import { ConflictError } from "../errors.js";
import type { Credentials, SignUp, User } from "../schemas.js";
import { hashPassword, verifyPassword } from "../security/passwords.js";

export function toUser(row: Pick<UserRow, "id" | "username" | "created_at">): User {
  return { id: row.id, username: row.username, created_at: toIso(row.created_at) };
}

/** Accounts: sign-up, credentials, lookup. No HTTP here: refusals are domain errors. */
export class UserService {
  constructor(private readonly db: Database) {}

  async signUp({ username, password }: SignUp): Promise<User> {
    const values = {
      username,
      password_hash: await hashPassword(password),
      created_at: timestamp(this.db, new Date()),
    };
    try {
      // In a transaction: a sign-up answered with an error is not committed behind its back.
      const id = await this.db
        .transaction()
        .execute((trx) => insertReturningId(trx, trx.insertInto("users").values(values)));
      return toUser({ id, ...values });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`The username ${username} is taken`);
      throw error;
    }
  }

  /** The user these credentials belong to, or undefined. */
  async authenticate({ username, password }: Credentials): Promise<User | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where("username", "=", username)
      .executeTakeFirst();
    const valid = await verifyPassword(password, row?.password_hash);
    return valid && row ? toUser(row) : undefined;
  }

  async find(id: number): Promise<User | undefined> {
    const row = await this.db
      .selectFrom("users")
      .select(["id", "username", "created_at"])
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toUser(row);
  }
}
