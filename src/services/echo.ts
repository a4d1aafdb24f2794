import { z } from 'zod';
import type { Session } from '../session';
import type { Service, ServiceType } from './types';

/** `echo`: every message comes back as it was sent, text as text and binary as binary. */
export const echoType: ServiceType<Record<string, never>> = {
  type: 'echo',
  accepts: ['ws'],
  connect: null,
  properties: z.strictObject({}),
  create({ config }): Service {
    return {
      config,
      handleSession(session: Session): void {
        session.onMessage((data, isBinary) => {
          session.received(data.length);
          session.send(data, isBinary);
        });
      },
    };
  },
};
