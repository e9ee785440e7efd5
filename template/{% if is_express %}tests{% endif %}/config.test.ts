import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { ConfigError, INSECURE_JWT_SECRET, loadConfig, loadDotEnv } from "../src/config.js";

describe("configuration", () => {
  it("has the contract's defaults", () => {
    const config = loadConfig({});

    expect(config).toMatchObject({
      appEnv: "development",
      host: "127.0.0.1",
      port: 8000,
      databaseUrl: "sqlite:///./var/app.db",
      jwtSecret: INSECURE_JWT_SECRET,
      jwtTtlS: 3600,
      allowSignup: true,
      logLevel: "info",
      logFormat: "console",
      corsOrigins: [],
      rateLimitPerMinute: 600,
      maxBodyBytes: 1_048_576,
      shutdownGraceMs: 10_000,
    });
  });

  it("reads and converts the environment; empty values count as unset", () => {
    const config = loadConfig({
      APP_ENV: "test",
      PORT: "9000",
      ALLOW_SIGNUP: "false",
      LOG_LEVEL: "WARNING",
      LOG_FORMAT: "",
      CORS_ORIGINS: " https://a.example, ,https://b.example ",
    });

    expect(config.port).toBe(9000);
    expect(config.allowSignup).toBe(false);
    expect(config.logLevel).toBe("warning");
    expect(config.logFormat).toBe("json");
    expect(config.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
  });

  it.each([
    { APP_ENV: "production" },
    { APP_ENV: "production", JWT_SECRET: "too-short" },
    { PORT: "99999" },
    { LOG_LEVEL: "loud" },
  ])("refuses %j", (env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
  });

  it("starts in production with a real secret", () => {
    const config = loadConfig({ APP_ENV: "production", JWT_SECRET: "s".repeat(48) });

    expect(config.isDevelopment).toBe(false);
    expect(config.logFormat).toBe("json");
  });

  it("reads .env without overriding the environment", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "env-")), ".env");
    writeFileSync(file, "DOTENV_PROBE_A=from-file\nDOTENV_PROBE_B=from-file\n");
    process.env.DOTENV_PROBE_A = "from-environment";

    loadDotEnv(file);
    loadDotEnv(`${file}.missing`);

    expect(process.env.DOTENV_PROBE_A).toBe("from-environment");
    expect(process.env.DOTENV_PROBE_B).toBe("from-file");
  });
});
