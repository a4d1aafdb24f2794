import { z } from 'zod';
import { isUtf8 } from 'node:buffer';
import { GATEWAY_ERRORS } from '../errors';
import type { Session } from '../session';
import { BackendDataError, pipePropertiesShape, probeBackend, runPipe, type Transform } from './pipe';
import type { Service, ServiceType } from './types';

const propertiesSchema = z.strictObject({
  /**
   * How bytes from the back end reach the client: `binary` messages, `text` messages (UTF-8
   * checked; a character split across reads is held back until complete), or `mirror`: the type of
   * the client's latest message, binary until it sends one. @default "mirror"
   */
  messageType: z.enum(['binary', 'text', 'mirror']).default('mirror'),
  ...pipePropertiesShape,
});

export type ProxyProperties = z.infer<typeof propertiesSchema>;

/** Byte length of the longest prefix of `buf` that ends on a UTF-8 character boundary. */
export function utf8CompleteLength(buf: Buffer): number {
  const len = buf.length;
  for (let i = len - 1; i >= 0 && i >= len - 4; i--) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len - i >= need ? len : i;
  }
  return len;
}

/** Bytes pass unchanged; only the message type toward the client is chosen. */
function byteTransform(mode: ProxyProperties['messageType']): Transform {
  let binary = mode !== 'text';
  let carry: Buffer | null = null;
  return {
    fromClient(data, isBinary) {
      if (mode === 'mirror') binary = isBinary;
      return data;
    },
    fromBackend(chunk, send) {
      if (binary) {
        send(chunk, true);
        return;
      }
      let data = carry ? Buffer.concat([carry, chunk]) : chunk;
      carry = null;
      const complete = utf8CompleteLength(data);
      if (complete < data.length) {
        carry = Buffer.from(data.subarray(complete));
        data = data.subarray(0, complete);
      }
      if (!isUtf8(data)) throw new BackendDataError(GATEWAY_ERRORS.BACKEND_INVALID_UTF8, 'back end sent bytes that are not UTF-8 for a text message');
      if (data.length > 0) send(data, false);
    },
  };
}

/**
 * `proxy`: each WebSocket session gets its own TCP (or TLS) connection to `connect`; bytes flow
 * both ways unchanged, with flow control in both directions and the back end's fate reported in
 * the close code (refused 1011, timeout 1014, closed 1000, lost 1011).
 */
export const proxyType: ServiceType<ProxyProperties> = {
  type: 'proxy',
  accepts: ['ws'],
  connect: { required: true, schemes: ['tcp', 'tls'] },
  properties: propertiesSchema,
  create(ctx): Service {
    const { config } = ctx;
    return {
      config,
      handleSession(session: Session): void {
        runPipe(session, ctx, byteTransform(config.properties.messageType));
      },
      ready: () => probeBackend(config),
    };
  },
};
