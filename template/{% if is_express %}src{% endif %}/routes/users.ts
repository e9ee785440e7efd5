import { Router } from "express";

import { acceptsJson } from "../middleware/body.js";
import { authenticate, callerId } from "../middleware/authenticate.js";
import { forbidden, unauthorized } from "../problems.js";
import { SignUp } from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { UserService } from "../services/users.js";
import { parse } from "../validation.js";
import { resource } from "./resource.js";

export function usersRouter(deps: {
  users: UserService;
  tokens: Tokens;
  allowSignup: boolean;
}): Router {
  const { users, tokens, allowSignup } = deps;
  const router = Router();

  resource(router, "/", {
    post: [
      acceptsJson,
      async (req, res) => {
        if (!allowSignup) throw forbidden("Sign-up is closed on this service");
        const user = await users.signUp(parse(SignUp, req.body));
        res.status(201).json(user);
      },
    ],
  });

  resource(router, "/me", {
    get: [
      authenticate(tokens),
      async (_req, res) => {
        const user = await users.find(callerId(res));
        if (!user) throw unauthorized("The token's user no longer exists");
        res.json(user);
      },
    ],
  });

  return router;
}
