import { createRequire } from 'node:module';

interface PromClient {
  register: { getMetricsAsJSON(): Promise<unknown[]> | unknown[] };
}

/**
 * The app's own prom-client metrics, from the copy of prom-client the app itself loads (its
 * default registry, where its counters are), as JSON for the primary to aggregate; [] when
 * the app has no prom-client. Resolved once, from the app's entry script.
 */
export class AppMetrics {
  readonly #app: string;
  #client: PromClient | null | undefined;

  constructor(app: string) {
    this.#app = app;
  }

  async collect(): Promise<unknown[]> {
    if (this.#client === undefined) {
      try {
        this.#client = createRequire(this.#app)('prom-client') as PromClient;
      } catch {
        this.#client = null;
      }
    }
    if (this.#client === null) return [];
    try {
      return await this.#client.register.getMetricsAsJSON();
    } catch {
      return [];
    }
  }
}
