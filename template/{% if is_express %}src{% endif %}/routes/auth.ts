import express from "express";

import { accepts, FORM_TYPE, JSON_TYPES } from "../middleware/body.js";
import { unauthorized } from "../problems.js";
import { Credentials, CredentialsForm, Token } from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { UserService } from "../services/users.js";
import { parse } from "../validation.js";
import { DocumentedRouter } from "./documented-router.js";

export function authRouter(deps: {
  users: UserService;
  tokens: Tokens;
  maxBodyBytes: number;
}): DocumentedRouter {
  const { users, tokens, maxBodyBytes } = deps;
  const routes = new DocumentedRouter("auth");

  // JSON, or a form as OAuth2's password flow (and Swagger UI's Authorize button) sends it.
  routes.resource("/token", {
    post: {
      summary: "Exchange credentials for an access token",
      body: Credentials,
      form: CredentialsForm,
      responses: { 200: ["Token", Token], 401: ["Bad credentials"] },
      handlers: [
        accepts(...JSON_TYPES, FORM_TYPE),
        express.urlencoded({ extended: false, limit: maxBodyBytes }),
        async (req, res) => {
          const form = req.is(FORM_TYPE) === FORM_TYPE;
          const { username, password } = parse(form ? CredentialsForm : Credentials, req.body);
          const user = await users.authenticate({ username, password });
          if (!user) throw unauthorized("Incorrect username or password");
          const token: Token = {
            access_token: await tokens.issue(user.id),
            token_type: "bearer",
            expires_in: tokens.ttlS,
          };
          res.set("Cache-Control", "no-store").json(token);
        },
      ],
    },
  });

  return routes;
}
