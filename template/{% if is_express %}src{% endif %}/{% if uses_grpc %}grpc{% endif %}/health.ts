import { type handleServerStreamingCall, type Server, status } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

import { type CallOptions, GrpcError, openUnary } from "./calls.js";

type ServingStatus = "SERVING" | "NOT_SERVING";

interface HealthCheckRequest {
  service: string;
}

interface HealthCheckResponse {
  status: ServingStatus;
}

/** How often a Watch asks again, to tell its client when readiness changed. */
const WATCH_INTERVAL_MS = 5000;

/**
 * `grpc.health.v1.Health` for `""` (the server) and each service it names: SERVING while the
 * readiness checks of /readyz pass, asked anew at each Check (so bounded as /readyz is),
 * NOT_SERVING when one fails and from shutdown on.
 */
export class Health {
  #stopping = false;
  readonly #watches = new Set<() => void>();

  constructor(
    private readonly services: readonly string[],
    private readonly ready: () => Promise<boolean>,
    private readonly options: CallOptions,
  ) {}

  addTo(server: Server): void {
    server.addService(healthService, {
      check: openUnary(this.options, (request: HealthCheckRequest) =>
        this.#check(request.service).then((serving) => ({ status: serving })),
      ),
      watch: this.#watch,
    });
  }

  /** NOT_SERVING from now on; open Watch streams end. */
  stop(): void {
    this.#stopping = true;
    for (const end of this.#watches) end();
  }

  async #check(service: string): Promise<ServingStatus> {
    if (service !== "" && !this.services.includes(service)) {
      throw new GrpcError(status.NOT_FOUND, `Unknown service ${service}`);
    }
    return !this.#stopping && (await this.ready()) ? "SERVING" : "NOT_SERVING";
  }

  /** The status now, then each change, until the client leaves or the server stops. */
  readonly #watch: handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => {
    let last: ServingStatus | undefined;
    const send = (serving: ServingStatus) => {
      if (serving !== last) call.write({ status: serving });
      last = serving;
    };
    const poll = () => {
      this.#check(call.request.service).then(send, (error: unknown) => {
        end();
        call.emit("error", error);
      });
    };
    const timer = setInterval(poll, WATCH_INTERVAL_MS);
    const stop = () => {
      end();
      send("NOT_SERVING");
      call.end();
    };
    const end = () => {
      clearInterval(timer);
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    call.once("cancelled", end);
    poll();
  };
}
