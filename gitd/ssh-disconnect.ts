/**
 * Closing an SSH connection with a reason the client prints. ssh2's own disconnect()
 * sends the reason code without a description.
 */
import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';

/** ssh2 1.17's protocol internals that send a DISCONNECT with a description (its own disconnect() sends none). */
interface Ssh2Internals {
  readonly _protocol?: {
    readonly _packetRW?: { readonly write?: { readonly allocStartKEX: number; alloc(length: number, force?: boolean): Buffer; finalize(packet: Buffer, force?: boolean): Buffer } };
    readonly _cipher?: { encrypt(packet: Buffer): void };
  };
}

/**
 * Closes an SSH connection with a DISCONNECT that says why, which OpenSSH prints as
 * "Received disconnect from HOST port PORT:14: DESCRIPTION". ssh2 has no public way to send
 * a description, so this builds the packet as its Protocol.disconnect does; if those
 * internals are not there (another ssh2 version), the client gets a plain disconnect.
 */
export function disconnectSaying(client: Connection, socket: Socket, reason: number, description: string): void {
  try {
    const proto = (client as unknown as Ssh2Internals)._protocol;
    const writer = proto?._packetRW?.write;
    if (!writer || !proto?._cipher || typeof writer.allocStartKEX !== 'number') throw new Error('ssh2 internals changed');
    const text = Buffer.from(description, 'utf8');
    const p = writer.allocStartKEX;
    const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
    packet[p] = 1; // SSH_MSG_DISCONNECT
    packet.writeUInt32BE(reason, p + 1);
    packet.writeUInt32BE(text.length, p + 5);
    text.copy(packet, p + 9);
    packet.writeUInt32BE(0, p + 9 + text.length); // no language tag
    proto._cipher.encrypt(writer.finalize(packet, true));
    socket.end();
  } catch {
    client.end();
  }
}

/** SSH_DISCONNECT reason codes (RFC 4253 11.1). */
export const disconnectReason = { protocolError: 2, noMoreAuthMethods: 14 } as const;
