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
  });
}
