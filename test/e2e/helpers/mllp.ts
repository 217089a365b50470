/** Sends one HL7 v2 message over MLLP and resolves with the acknowledgement text. */
import { connect } from 'node:net';

export function sendMllp(port: number, message: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write(`\x0b${message}\x1c\r`));
    let buf = '';
    socket.setTimeout(15_000, () => { socket.destroy(); reject(new Error('MLLP timeout')); });
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      const end = buf.indexOf('\x1c');
      if (end >= 0) {
        socket.end();
        resolve(buf.slice(1, end));
      }
    });
    socket.on('error', reject);
    // A server that hangs up without an acknowledgement (e.g. plain text sent to a TLS listener) must fail the send,
    // not leave it pending; after an acknowledgement this rejection is a no-op.
    socket.on('close', () => reject(new Error('MLLP connection closed before an acknowledgement')));
  });
}
