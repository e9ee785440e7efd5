/**
 * The contract's Content-Security-Policy, the same on every response: nothing inline, everything
 * from this origin. Swagger UI at /docs works under it (its script and styles are files here).
 */
export const CSP_HEADER = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** What the application sets on its responses (helmet, above all), for those written without it. */
export const BARE_SECURITY_HEADERS = {
  "Content-Security-Policy": CSP_HEADER,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
};
