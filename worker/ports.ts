import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it): for servers started beside the
 * process — the Temporal SDK's metrics, and the dev launcher's and tests' services. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
