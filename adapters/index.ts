/**
 * Broker bindings by name: a new broker is a folder under `adapters/` implementing
 * `Binding` (adapters/jms/binding.ts) and one line here.
 */
import type { BindingCapabilities, BindingFactory } from './jms';
import { STOMP_CAPABILITIES, stompBinding } from './stomp';
import { AMQP091_CAPABILITIES, amqp091Binding } from './amqp091';
import { AMQP10_CAPABILITIES, amqp10Binding } from './amqp10';

/** One registered binding. */
export interface BindingEntry {
  /** The connect URI scheme that selects this binding by default (without `:`). */
  readonly scheme: string;
  readonly capabilities: BindingCapabilities;
  readonly create: BindingFactory;
}

/** Bindings by name. */
export const BINDINGS: ReadonlyMap<string, BindingEntry> = new Map<string, BindingEntry>([
  ['stomp', { scheme: 'stomp', capabilities: STOMP_CAPABILITIES, create: stompBinding }],
  ['amqp091', { scheme: 'amqp', capabilities: AMQP091_CAPABILITIES, create: amqp091Binding }],
  ['amqp10', { scheme: 'amqp10', capabilities: AMQP10_CAPABILITIES, create: amqp10Binding }],
]);

/** The binding a connect URI scheme selects (`stomp` → stomp, `amqp` → amqp091, `amqp10` → amqp10). */
export function bindingForScheme(scheme: string): string | undefined {
  const s = scheme.endsWith(':') ? scheme.slice(0, -1) : scheme;
  for (const [name, b] of BINDINGS) if (b.scheme === s) return name;
  return undefined;
}
