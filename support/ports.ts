import { createServer, type Server } from 'node:net';

function listenOnAnyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (typeof addr === 'object' && addr) resolve({ server, port: addr.port });
      else reject(new Error('no port'));
    });
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A TCP port on 127.0.0.1 that nothing listens on right now (the OS's pick for port 0). */
export async function freePort(): Promise<number> {
  const { server, port } = await listenOnAnyPort();
  await close(server);
  return port;
}

/** `n` distinct free ports (each held until all are found, so that none is picked twice). */
export async function freePorts(n: number): Promise<number[]> {
  const held: Array<{ server: Server; port: number }> = [];
  try {
    for (let i = 0; i < n; i++) held.push(await listenOnAnyPort());
    return held.map((h) => h.port);
  } finally {
    await Promise.all(held.map((h) => close(h.server)));
  }
}
