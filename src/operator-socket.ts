import { existsSync, unlinkSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { AuthService } from './auth/auth-service.ts';

/**
 * A Unix socket in the data folder through which operator commands on the server's own machine (e.g.
 * `katahdin token`) reach the running server — with PGlite only one process may open the database, and the
 * socket's file permissions (0600) limit it to whoever may read the data folder anyway.
 */
export function operatorSocketPath(dataDir: string): string {
  return join(dataDir, 'operator.sock');
}

export async function startOperatorSocket(dataDir: string, auth: AuthService): Promise<Server> {
  const path = operatorSocketPath(dataDir);
  if (existsSync(path)) unlinkSync(path);
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', async (chunk) => {
      buffer += chunk;
      if (!buffer.includes('\n') || buffer.length > 4096) return;
      try {
        const request = JSON.parse(buffer.split('\n')[0]) as { user?: string; client?: string };
        const issued = request.user ? await auth.mintTokenForUser(request.user) : await auth.mintTokenForClient(String(request.client));
        socket.end(`${JSON.stringify({ token: issued.accessToken })}\n`);
      } catch (err) {
        socket.end(`${JSON.stringify({ error: (err as Error).message.slice(0, 200) })}\n`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  await chmod(path, 0o600);
  return server;
}

/** Asks a running server for a token; undefined when no server is listening on this data folder. */
export function requestToken(dataDir: string, request: { user?: string; client?: string }): Promise<{ token?: string; error?: string } | undefined> {
  const path = operatorSocketPath(dataDir);
  if (!existsSync(path)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (d) => (reply += d));
    socket.on('end', () => resolve(reply ? (JSON.parse(reply) as { token?: string; error?: string }) : undefined));
    socket.on('error', () => resolve(undefined));
  });
}

/** True when a server is serving this data folder (its operator socket answers). */
export function serverRunning(dataDir: string): Promise<boolean> {
  const path = operatorSocketPath(dataDir);
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
