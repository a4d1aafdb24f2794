import { buildConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/log';
import { SERVICE_TYPES } from '../../src/services';
import type { ServiceType } from '../../src/services/types';
import { stompJmsType } from '../../src/services/stomp-jms';
import type { GatewayReply } from './protocol';

/**
 * The Gangway process of `bench:stomp-jms`: one `stomp.jms` service on 127.0.0.1 (port 0) in
 * front of the broker named by argv[2], with credentials argv[3]/argv[4]. Sends its port over IPC.
 */
async function main(): Promise<void> {
  const [connect, username, password] = process.argv.slice(2) as [string, string, string];
  const types = new Map<string, ServiceType>([...SERVICE_TYPES, ['stomp.jms', stompJmsType as ServiceType]]);
  const config = buildConfig(
    {
      services: [
        {
          name: 'jms',
          type: 'stomp.jms',
          accept: 'ws://127.0.0.1:0/stomp',
          connect,
          properties: { credentials: { username, password }, maxQueuedMessages: 100000 },
          limits: { connectionsPerSecondPerIp: 1000000, maxConnections: 100000, idleTimeoutMs: 0, pingIntervalMs: 0, maxBufferedBytes: 8388608 },
        },
      ],
      gangway: { limits: { maxConnections: 100000 } },
    },
    { source: 'bench', types, env: {} },
  );
  const gateway = new Gateway(config, createLogger('warn'), types);
  await gateway.start();
  const reply: GatewayReply = { type: 'listening', port: gateway.port() };
  process.send?.(reply);
  process.on('disconnect', () => {
    void gateway.stop().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  const reply: GatewayReply = { type: 'failed', error: err instanceof Error ? err.message : String(err) };
  process.send?.(reply);
  process.exit(1);
});
