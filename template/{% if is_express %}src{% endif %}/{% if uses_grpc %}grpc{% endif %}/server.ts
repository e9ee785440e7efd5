import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { Store } from "express-rate-limit";
import { protoPath as healthProtoPath } from "grpc-health-check";

import type { Config } from "../config.js";
import type { Database } from "../db/database.js";
import { TaskServiceService } from "../gen/tasks/v1/tasks.js";
import { cannotListen } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import type { Hub } from "../realtime/hub.js";
import { Tokens } from "../security/tokens.js";
import { type TaskEvents, TaskService } from "../services/tasks.js";
import { UserService } from "../services/users.js";
import type { CallOptions } from "./calls.js";
import { Health } from "./health.js";
import { taskServiceImplementation } from "./tasks.js";
import { Watchers } from "./watchers.js";

/** What `make proto` compiled proto/ to, from src/grpc/ and from dist/grpc/ alike. */
const DESCRIPTOR_SET = fileURLToPath(new URL("../../src/gen/descriptors.binpb", import.meta.url));
export const TASK_SERVICE = "tasks.v1.TaskService";

/** The reflection service's own protos, v1alpha (what grpcurl asks for) and v1. */
const REFLECTION_PROTOS = ["v1alpha", "v1"].map((version) =>
  createRequire(import.meta.url).resolve(
    `@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`,
  ),
);

/**
 * What reflection serves: the health and reflection protos, and proto/'s files as buf compiled
 * them. Those keep their names and imports, which tools need to resolve google.protobuf's types;
 * the descriptors proto-loader makes of .proto files lose both. Reflection lists itself, as
 * grpc-python's and grpc-go's do: @grpc/reflection lists only the services it is given.
 */
function reflected(): PackageDefinition {
  const files: Buffer[] = [];
  // A FileDescriptorSet has one field: `repeated FileDescriptorProto file = 1`.
  const set = new BinaryReader(readFileSync(DESCRIPTOR_SET));
  while (set.pos < set.len) {
    set.tag();
    files.push(Buffer.from(set.bytes()));
  }
  // Reflection reads only the definitions' fileDescriptorProtos.
  const proto = { fileDescriptorProtos: files } as unknown as PackageDefinition[string];
  return { ...loadSync([healthProtoPath, ...REFLECTION_PROTOS]), [TASK_SERVICE]: proto };
}

export interface GrpcDependencies {
  config: Config;
  db: Database;
  logger: Logger;
  /** The HTTP app's: a change made here is announced as one made over HTTP. */
  events: TaskEvents;
  /** Where task events reach this process's subscribers (watch streams among them). */
  hub: Hub;
  /** /readyz's checks: the health service's SERVING. */
  ready: () => Promise<boolean>;
  /** The HTTP rate limit's counts: a client's calls share its budget. */
  rateLimitStore?: Store;
}

export interface RunningGrpcServer {
  server: Server;
  port: number;
  /**
   * Health turns NOT_SERVING and watch streams end with UNAVAILABLE at once; calls in flight
   * get the grace period, then are cut.
   */
  stop(): Promise<void>;
}

/** The port `server` listens on at `address`, or a ListenError saying why it cannot. */
function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(cannotListen("gRPC", address, "GRPC_PORT", error));
      else resolve(port);
    });
  });
}

/** The gRPC side of the service on HOST:GRPC_PORT: TaskService, health, reflection. */
export async function serveGrpc({
  config,
  db,
  logger,
  events,
  hub,
  ready,
  rateLimitStore,
}: GrpcDependencies): Promise<RunningGrpcServer> {
  const options: CallOptions = {
    logger,
    tokens: new Tokens(config),
    rateLimit:
      rateLimitStore && config.rateLimitPerMinute > 0
        ? { store: rateLimitStore, perMinute: config.rateLimitPerMinute }
        : undefined,
  };
  // A larger request is refused with RESOURCE_EXHAUSTED before it is read (HTTP's 413).
  const server = new Server({ "grpc.max_receive_message_length": config.maxBodyBytes });
  const watchers = new Watchers(hub);
  server.addService(
    TaskServiceService,
    taskServiceImplementation(
      { tasks: new TaskService(db, events), users: new UserService(db), watchers },
      options,
    ),
  );
  const health = new Health(["", TASK_SERVICE], ready, options);
  health.addTo(server);
  // Reflection describes what the server serves, so tools need no copy of the proto.
  new ReflectionService(reflected()).addToServer(server);

  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const port = await bind(server, `${host}:${config.grpcPort}`).catch((error: unknown) => {
    server.forceShutdown();
    throw error;
  });
  let stopping: Promise<void> | undefined;
  return {
    server,
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        health.stop();
        watchers.closeAll();
        const force = setTimeout(() => {
          logger.warn("gRPC calls still running after the grace period: cut");
          server.forceShutdown();
          resolve();
        }, config.shutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopping;
    },
  };
}
