import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createPrivateNetwork, privateNetworkUnavailable, type PrivateNetwork } from '@blog/testkit';

const unavailable = privateNetworkUnavailable();

if (unavailable) {
  test(`without network namespaces (${unavailable}), making a network says why`, () => {
    expect(() => createPrivateNetwork({ hosts: 2 })).toThrow(`no private network: ${unavailable}`);
  });
} else {
  describe('a private network of hosts in network namespaces', () => {
    let network: PrivateNetwork;
    const stops: (() => void)[] = [];
    beforeEach(() => {
      network = createPrivateNetwork({ hosts: 3 });
    });
    // The servers first, then the network they run in.
    afterEach(() => {
      stops.splice(0).forEach((stop) => stop());
      network.remove();
    });

    /** Runs a Node script inside a host; resolves with what it printed (a script that exits non-zero rejects). */
    const runIn = (host: number, script: string) =>
      new Promise<string>((resolve, reject) => {
        const { command, args } = network.inHost(host, process.execPath, ['-e', script]);
        const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], timeout: 10_000 });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('close', (code) =>
          code === 0 ? resolve(out.trim()) : reject(new Error(`script in host ${host + 1} exited ${code}: ${out}`)),
        );
      });
    /** Whether a TCP connection from `host` to `address:port` opens within a second. */
    const connects = (host: number, address: string, port: number) =>
      runIn(
        host,
        `const s = require('net').connect(${port}, '${address}', () => { console.log('open'); s.destroy(); }); s.on('error', () => console.log('refused')); setTimeout(() => { console.log('silent'); process.exit(0); }, 1000).unref();`,
      );
    const connectsFromHere = (address: string, port: number) =>
      new Promise<'open' | 'failed'>((resolve) => {
        const socket = connect(port, address, () => {
          socket.destroy();
          resolve('open');
        }).on('error', () => resolve('failed'));
      });
    /** Whether a UDP datagram from `from` reaches a listener in `to`. */
    const datagramArrives = async (from: number, to: number) => {
      const { command, args } = network.inHost(to, process.execPath, [
        '-e',
        `const s = require('dgram').createSocket('udp4'); s.on('message', () => { console.log('arrived'); process.exit(0); }); s.bind(7001, () => { console.log('ready'); setTimeout(() => { console.log('lost'); process.exit(0); }, 1500); });`,
      ]);
      const listener = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], timeout: 10_000 });
      let out = '';
      const ended = new Promise<string>((resolve) => listener.on('close', () => resolve(out)));
      // Sent only once the listener is bound: a datagram sent earlier would be lost for the wrong reason.
      await new Promise<void>((resolve) =>
        listener.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('ready')) resolve();
        }),
      );
      await runIn(
        from,
        `const s = require('dgram').createSocket('udp4'); s.send('x', 7001, '${network.addresses[to]}', () => s.close());`,
      );
      return (await ended).includes('arrived');
    };
    /** A TCP server in host `host` on port 7000, listening when this resolves; stopped after the test. */
    const serveIn = (host: number) => {
      const { command, args } = network.inHost(host, process.execPath, [
        '-e',
        `require('net').createServer((s) => s.end()).listen(7000, () => console.log('up'))`,
      ]);
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      stops.push(() => child.kill('SIGKILL'));
      return new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the server in host ${host + 1} exited ${code}`)));
      });
    };

    test('every host has its own address; the hosts and this process reach each other', async () => {
      expect(new Set(network.addresses).size).toBe(3);
      await serveIn(0);
      await expect(connects(1, network.addresses[0] as string, 7000)).resolves.toBe('open');
      await expect(connects(2, network.addresses[0] as string, 7000)).resolves.toBe('open');
      await expect(connectsFromHere(network.addresses[0] as string, 7000)).resolves.toBe('open');
    });

    test('an isolated host is cut off from the others, not from this process; healed, it is reachable again', async () => {
      await serveIn(0);
      network.isolate(0);
      await expect(connects(1, network.addresses[0] as string, 7000)).resolves.toBe('silent');
      await expect(connects(2, network.addresses[0] as string, 7000)).resolves.toBe('silent');
      await expect(connectsFromHere(network.addresses[0] as string, 7000)).resolves.toBe('open');
      network.heal();
      await expect(connects(1, network.addresses[0] as string, 7000)).resolves.toBe('open');
    });

    test('a one-way cut drops what one host sends the other, and nothing the other way', async () => {
      network.cut(0, 1, { oneWay: true });
      await expect(datagramArrives(0, 1)).resolves.toBe(false);
      await expect(datagramArrives(1, 0)).resolves.toBe(true);
      await expect(datagramArrives(0, 2)).resolves.toBe(true);
    });

    test('removed, it leaves no namespace and no link behind', () => {
      network.remove();
      const names =
        execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) +
        execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
      expect(names).not.toContain(`blogp-${process.pid}-`);
      expect(names).not.toMatch(new RegExp(`blogp${process.pid}[@:]`));
    });
  });
}
