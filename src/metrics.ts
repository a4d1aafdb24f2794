import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Per-service counters. The hot path bumps plain numbers; Prometheus collectors read them at
 * scrape time, so a message costs no label lookup.
 */
export class ServiceMetrics {
  sessionsCurrent = 0;
  sessionsTotal = 0;
  /** Bytes and messages from clients (in) and to clients (out). */
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  readonly errors = new Map<string, number>();
  /** Validated frames by direction and kind (`toServer SEND`), for protocol-aware services. */
  readonly frames = new Map<string, number>();

  constructor(
    readonly service: string,
    private readonly connectHistogram: Histogram<'service'>,
  ) {}

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Counts validated frames of one kind in one direction. */
  frame(direction: 'toServer' | 'toClient', kind: string, n = 1): void {
    const key = `${direction} ${kind}`;
    this.frames.set(key, (this.frames.get(key) ?? 0) + n);
  }

  /** Records how long reaching the back end took. */
  backendConnected(seconds: number): void {
    this.connectHistogram.observe({ service: this.service }, seconds);
  }
}

/** The gateway's Prometheus registry with every Gangway metric. */
export class Metrics {
  readonly registry = new Registry();
  private readonly byService = new Map<string, ServiceMetrics>();
  private readonly connectHistogram: Histogram<'service'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const all = (): Iterable<ServiceMetrics> => this.byService.values();
    const registers = [this.registry];
    new Gauge({
      name: 'gangway_sessions',
      help: 'Sessions open now, per service.',
      labelNames: ['service'],
      registers,
      collect() {
        for (const m of all()) this.set({ service: m.service }, m.sessionsCurrent);
      },
    });
    const counter = (name: string, help: string, read: (m: ServiceMetrics) => number, extra: Record<string, string> = {}): void => {
      new Counter({
        name,
        help,
        labelNames: ['service', ...Object.keys(extra)],
        registers,
        collect() {
          this.reset();
          for (const m of all()) this.inc({ service: m.service, ...extra }, read(m));
        },
      });
    };
    counter('gangway_sessions_total', 'Sessions opened since start, per service.', (m) => m.sessionsTotal);
    new Counter({
      name: 'gangway_bytes_total',
      help: 'Payload bytes through sessions; direction "in" is from clients, "out" is to clients.',
      labelNames: ['service', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const m of all()) {
          this.inc({ service: m.service, direction: 'in' }, m.bytesIn);
          this.inc({ service: m.service, direction: 'out' }, m.bytesOut);
        }
      },
    });
    new Counter({
      name: 'gangway_messages_total',
      help: 'WebSocket messages through sessions; direction "in" is from clients, "out" is to clients.',
      labelNames: ['service', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const m of all()) {
          this.inc({ service: m.service, direction: 'in' }, m.messagesIn);
          this.inc({ service: m.service, direction: 'out' }, m.messagesOut);
        }
      },
    });
    new Counter({
      name: 'gangway_errors_total',
      help: 'Errors by catalogue code, per service ("-" for requests that matched no service).',
      labelNames: ['service', 'code'],
      registers,
      collect() {
        this.reset();
        for (const m of all()) for (const [code, n] of m.errors) this.inc({ service: m.service, code }, n);
      },
    });
    new Counter({
      name: 'gangway_frames_total',
      help: 'Validated protocol frames by direction ("toServer" from clients, "toClient" from back ends) and kind (command, method, element).',
      labelNames: ['service', 'direction', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const m of all()) {
          for (const [key, n] of m.frames) {
            const space = key.indexOf(' ');
            this.inc({ service: m.service, direction: key.slice(0, space), kind: key.slice(space + 1) }, n);
          }
        }
      },
    });
    this.connectHistogram = new Histogram({
      name: 'gangway_backend_connect_seconds',
      help: 'Time to reach the back end (TCP connect, and TLS handshake for tls://), per service.',
      labelNames: ['service'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /** The counters of one service (created on first use). */
  service(name: string): ServiceMetrics {
    let m = this.byService.get(name);
    if (!m) {
      m = new ServiceMetrics(name, this.connectHistogram);
      this.byService.set(name, m);
    }
    return m;
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
