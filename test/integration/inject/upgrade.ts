/**
 * What a TCP tap must show of a back-end link Gangway upgraded with STARTTLS: Gangway's request
 * and the server's agreement in plaintext, in that order; then TLS records only, in both
 * directions, Gangway's ClientHello before the server's ServerHello; and no secret anywhere.
 */
import type { TapConnection } from '../proxies/support';

/** The upgrade of one protocol, and the secrets that must not be seen. */
export interface UpgradeExpectation {
  /** Gangway's request as sent: `STARTTLS\r\n`, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`. */
  readonly request: string;
  /** The server's agreement in its plaintext, matched whole: the `<proceed/>` element, the `670` line. */
  readonly agreement: RegExp;
  /** Strings that must appear in neither direction (the password, the base64 PLAIN message). */
  readonly secrets: readonly string[];
}

/** Largest TLS record on the wire: 2^14 bytes of plaintext plus expansion (RFC 8446 §5.2). */
const MAX_RECORD = 16384 + 256;

/**
 * The content types of the TLS records in `bytes` (RFC 8446 §5.1: type 20–24, legacy version
 * 0x0301–0x0304, length). The last record may be cut short by what the tap has read so far.
 */
function tlsRecordTypes(bytes: Buffer, who: string): number[] {
  const types: number[] = [];
  let i = 0;
  while (i + 5 <= bytes.length) {
    const type = bytes[i] as number;
    const length = bytes.readUInt16BE(i + 3);
    if (type < 20 || type > 24 || bytes[i + 1] !== 3 || (bytes[i + 2] as number) < 1 || (bytes[i + 2] as number) > 4 || length > MAX_RECORD) {
      throw new Error(`${who}: byte ${i} after the upgrade does not start a TLS record (${bytes.subarray(i, i + 8).toString('hex')})`);
    }
    types.push(type);
    i += 5 + length;
  }
  return types;
}

/** Index in the transcript of the chunk of `from` that holds that side's byte `offset`. */
function chunkAt(conn: TapConnection, from: 'gangway' | 'server', offset: number): number {
  let seen = 0;
  for (const [index, chunk] of conn.transcript.entries()) {
    if (chunk.from !== from) continue;
    if (offset < seen + chunk.data.length) return index;
    seen += chunk.data.length;
  }
  throw new Error(`the tap holds no byte ${offset} from ${from}`);
}

/** Asserts the upgrade as the tap saw it, both ways (see the file comment). */
export function expectUpgradedLink(conn: TapConnection, e: UpgradeExpectation): void {
  const sent = conn.sent();
  const received = conn.received();

  const requestAt = sent.indexOf(e.request);
  expect(requestAt).toBeGreaterThanOrEqual(0);
  const gangwayTls = requestAt + Buffer.byteLength(e.request);
  const agreement = e.agreement.exec(received.toString('latin1'));
  if (agreement === null) throw new Error(`the server's agreement ${String(e.agreement)} is not in what it sent`);
  const serverTls = agreement.index + agreement[0].length;

  // Plaintext request → plaintext agreement → Gangway's ClientHello → the server's ServerHello.
  expect(chunkAt(conn, 'gangway', requestAt)).toBeLessThan(chunkAt(conn, 'server', agreement.index));
  expect(chunkAt(conn, 'server', serverTls - 1)).toBeLessThan(chunkAt(conn, 'gangway', gangwayTls));
  expect(chunkAt(conn, 'gangway', gangwayTls)).toBeLessThan(chunkAt(conn, 'server', serverTls));

  // Only TLS records after the upgrade, both ways, each starting with a handshake (22).
  const fromGangway = tlsRecordTypes(sent.subarray(gangwayTls), 'Gangway → server');
  const fromServer = tlsRecordTypes(received.subarray(serverTls), 'server → Gangway');
  expect(fromGangway[0]).toBe(22);
  expect(fromServer[0]).toBe(22);

  for (const secret of e.secrets) {
    expect(sent.includes(Buffer.from(secret))).toBe(false);
    expect(received.includes(Buffer.from(secret))).toBe(false);
  }
}

/** The base64 of a SASL PLAIN message (RFC 4616) without and with an authorization identity. */
export function plainBlobs(username: string, password: string): string[] {
  return [`\0${username}\0${password}`, `${username}\0${username}\0${password}`].map((m) => Buffer.from(m, 'utf8').toString('base64'));
}
