/**
 * Performatives (OASIS AMQP 1.0 part 2 §2.7) and SASL frames (part 5 §5.3.3): descriptor codes,
 * fields in list order, their types and which are mandatory.
 */

/**
 * The type a field must have: its constructors are checked before the value is decoded; null is
 * always accepted for optional fields. `symbols` is a multiple symbol (one symbol or an array of
 * symbols); `error` a described `amqp:error:list`; `described` any described value.
 */
export type FieldType =
  | 'string'
  | 'symbol'
  | 'symbols'
  | 'uint'
  | 'ushort'
  | 'ubyte'
  | 'ulong'
  | 'boolean'
  | 'binary'
  | 'map'
  | 'described'
  | 'error'
  | 'any';

/** One field: camelCase name, type, mandatory. */
export type FieldSpec = readonly [name: string, type: FieldType, mandatory: boolean];

/** One performative or SASL frame body. */
export interface PerformativeSpec {
  readonly code: number;
  /** `open`, `transfer`, `sasl-init`... */
  readonly name: string;
  /** The symbolic descriptor, e.g. `amqp:open:list`. */
  readonly symbol: string;
  /** 0x00 AMQP frame, 0x01 SASL frame. */
  readonly frameType: 0 | 1;
  readonly fields: readonly FieldSpec[];
}

function p(code: number, name: string, symbol: string, frameType: 0 | 1, fields: string): PerformativeSpec {
  const list = fields.split(' ').map((f): FieldSpec => {
    const [n, t] = f.split(':') as [string, string];
    const mandatory = n.endsWith('!');
    return [mandatory ? n.slice(0, -1) : n, t as FieldType, mandatory];
  });
  return Object.freeze({ code, name, symbol, frameType, fields: Object.freeze(list) });
}

/** Every performative and SASL frame the validator knows. */
export const PERFORMATIVES: readonly PerformativeSpec[] = [
  p(0x10, 'open', 'amqp:open:list', 0, 'containerId!:string hostname:string maxFrameSize:uint channelMax:ushort idleTimeOut:uint outgoingLocales:symbols incomingLocales:symbols offeredCapabilities:symbols desiredCapabilities:symbols properties:map'),
  p(0x11, 'begin', 'amqp:begin:list', 0, 'remoteChannel:ushort nextOutgoingId!:uint incomingWindow!:uint outgoingWindow!:uint handleMax:uint offeredCapabilities:symbols desiredCapabilities:symbols properties:map'),
  p(0x12, 'attach', 'amqp:attach:list', 0, 'name!:string handle!:uint role!:boolean sndSettleMode:ubyte rcvSettleMode:ubyte source:described target:described unsettled:map incompleteUnsettled:boolean initialDeliveryCount:uint maxMessageSize:ulong offeredCapabilities:symbols desiredCapabilities:symbols properties:map'),
  p(0x13, 'flow', 'amqp:flow:list', 0, 'nextIncomingId:uint incomingWindow!:uint nextOutgoingId!:uint outgoingWindow!:uint handle:uint deliveryCount:uint linkCredit:uint available:uint drain:boolean echo:boolean properties:map'),
  p(0x14, 'transfer', 'amqp:transfer:list', 0, 'handle!:uint deliveryId:uint deliveryTag:binary messageFormat:uint settled:boolean more:boolean rcvSettleMode:ubyte state:described resume:boolean aborted:boolean batchable:boolean'),
  p(0x15, 'disposition', 'amqp:disposition:list', 0, 'role!:boolean first!:uint last:uint settled:boolean state:described batchable:boolean'),
  p(0x16, 'detach', 'amqp:detach:list', 0, 'handle!:uint closed:boolean error:error'),
  p(0x17, 'end', 'amqp:end:list', 0, 'error:error'),
  p(0x18, 'close', 'amqp:close:list', 0, 'error:error'),
  p(0x40, 'sasl-mechanisms', 'amqp:sasl-mechanisms:list', 1, 'saslServerMechanisms!:symbols'),
  p(0x41, 'sasl-init', 'amqp:sasl-init:list', 1, 'mechanism!:symbol initialResponse:binary hostname:string'),
  p(0x42, 'sasl-challenge', 'amqp:sasl-challenge:list', 1, 'challenge!:binary'),
  p(0x43, 'sasl-response', 'amqp:sasl-response:list', 1, 'response!:binary'),
  p(0x44, 'sasl-outcome', 'amqp:sasl-outcome:list', 1, 'code!:ubyte additionalData:binary'),
];

/** Performatives by descriptor code. */
export const PERFORMATIVE_BY_CODE: ReadonlyMap<number, PerformativeSpec> = new Map(PERFORMATIVES.map((s) => [s.code, s] as const));

/** Performatives by symbolic descriptor. */
export const PERFORMATIVE_BY_SYMBOL: ReadonlyMap<string, PerformativeSpec> = new Map(PERFORMATIVES.map((s) => [s.symbol, s] as const));

/** Descriptor of the error composite (part 2 §2.8.14). */
export const ERROR_CODE = 0x1d;
export const ERROR_SYMBOL = 'amqp:error:list';
