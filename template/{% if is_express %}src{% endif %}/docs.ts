import { createRequire } from "node:module";
import path from "node:path";

import { Router } from "express";

// Swagger UI's files from the npm package: served by the service itself, no CDN.
const ASSETS = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** Interactive docs at /docs for the document at /openapi.json (CSP-friendly: no inline script). */
export function docsRouter(title: string): Router {
  const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(title)}</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;
  const init = 'window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });\n';

  const router = Router();
  router.get("/docs", (_req, res) => {
    res.type("html").send(page);
  });
  router.get("/docs/init.js", (_req, res) => {
    res.type("js").send(init);
  });
  for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
    router.get(`/docs/${file}`, (_req, res) => {
      res.sendFile(path.join(ASSETS, file), { maxAge: "1d" });
    });
  }
  return router;
}
