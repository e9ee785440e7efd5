import { callerGone } from "../errors.js";
import { authenticate, callerId } from "../middleware/authenticate.js";
import { acceptsJson } from "../middleware/body.js";
import { forbidden } from "../problems.js";
import { SignUp, User } from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { UserService } from "../services/users.js";
import { parse } from "../validation.js";
import { DocumentedRouter } from "./documented-router.js";

export function usersRouter(deps: {
  users: UserService;
  tokens: Tokens;
  allowSignup: boolean;
}): DocumentedRouter {
  const { users, tokens, allowSignup } = deps;
  const routes = new DocumentedRouter("users");

  routes.resource("/", {
    post: {
      summary: "Sign up",
      body: SignUp,
      responses: { 201: ["Created", User], 403: ["Sign-up closed"], 409: ["Taken"] },
      handlers: [
        acceptsJson,
        async (req, res) => {
          if (!allowSignup) throw forbidden("Sign-up is closed on this service");
          const user = await users.signUp(parse(SignUp, req.body));
          res.status(201).json(user);
        },
      ],
    },
  });

  routes.resource("/me", {
    get: {
      summary: "The caller",
      secured: true,
      responses: { 200: ["", User] },
      handlers: [
        authenticate(tokens),
        async (_req, res) => {
          const user = await users.find(callerId(res));
          if (!user) throw callerGone();
          res.json(user);
        },
      ],
    },
  });

  return routes;
}
