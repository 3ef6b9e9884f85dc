/**
 * A private network for partition tests: each host is a Linux network namespace with an address of its own,
 * plugged into one bridge that lives in a namespace of its own. This process reaches every host through
 * one veth of its own on that bridge, so the test and the processes it runs outside the hosts (a bus
 * replica, say) keep their link to every host while the hosts are cut off from each other.
 *
 * Cuts are iptables rules inside the hosts' namespaces; the only thing outside them is this process's veth.
 * Everything is removed by `remove()`, and what a killed test run left behind is removed by the next one.
 * Needs root (CAP_NET_ADMIN), `ip` (iproute2) and `iptables`.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export interface PrivateNetwork {
  /** Each host's own address, in host order. */
  readonly addresses: readonly string[];
  /** This process's address on the network. */
  readonly gateway: string;
  /** The command line that runs `command args` inside host `host`'s namespace (its pid is the command's). */
  inHost(host: number, command: string, args: readonly string[]): { command: string; args: string[] };
  /** Drops every packet `from` sends to `to`; unless one-way, every packet `to` sends to `from` as well. */
  cut(from: number, to: number, options?: { oneWay?: boolean }): void;
  /** Cuts the host off from every other host, both ways (this process still reaches it). */
  isolate(host: number): void;
  /** Removes every cut. */
  heal(): void;
  /** Deletes the namespaces and this process's veth. */
  remove(): void;
}

const PREFIX = 'blogp';
/** This run's names: the pid tells a later run whether their owner is gone. */
const namespaceOf = (owner: number, suffix: string) => `${PREFIX}-${owner}-${suffix}`;
const vethOf = (owner: number) => `${PREFIX}${owner}`;

/** Why this machine cannot make a private network, or undefined when it can (tried for real). */
export function privateNetworkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns, veth, iptables)';
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['iptables', ['--version']],
  ] as const) {
    try {
      execFileSync(tool, args, { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (Debian: apt-get install ${tool === 'ip' ? 'iproute2' : 'iptables'})`;
    }
  }
  // Everything the network is made of, in a namespace of its own: a veth pair and an iptables rule.
  const probe = namespaceOf(process.pid, 'probe');
  try {
    ip('netns', 'add', probe);
    ip('-n', probe, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1');
    execFileSync('ip', ['netns', 'exec', probe, 'iptables', '-A', 'INPUT', '-s', '10.0.0.1', '-j', 'DROP'], {
      stdio: 'pipe',
    });
    return undefined;
  } catch (err) {
    return `this process cannot make a private network (namespace, veth, iptables rule): ${(err as Error).message.split('\n')[0]}`;
  } finally {
    ignoreFailure(() => ip('netns', 'del', probe));
  }
}

export function createPrivateNetwork({ hosts }: { hosts: number }): PrivateNetwork {
  const unavailable = privateNetworkUnavailable();
  if (unavailable) throw new Error(`no private network: ${unavailable}`);
  removeLeftovers();
  const subnet = freeSubnet();
  const owner = process.pid;
  const bridgeSpace = namespaceOf(owner, 'bridge');
  const hostSpaces = Array.from({ length: hosts }, (_, host) => namespaceOf(owner, `h${host + 1}`));
  const addresses = hostSpaces.map((_, host) => `${subnet}.${host + 1}`);
  const gateway = `${subnet}.254`;
  const remove = () => removeOwnedBy(owner);

  try {
    ip('netns', 'add', bridgeSpace);
    ip('-n', bridgeSpace, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', bridgeSpace, 'link', 'set', 'br0', 'up');
    const plug = (port: string) => {
      ip('-n', bridgeSpace, 'link', 'set', port, 'master', 'br0');
      ip('-n', bridgeSpace, 'link', 'set', port, 'up');
    };
    for (const [host, space] of hostSpaces.entries()) {
      ip('netns', 'add', space);
      ip('-n', space, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `h${host + 1}`, 'netns', bridgeSpace);
      ip('-n', space, 'addr', 'add', `${addresses[host]}/24`, 'dev', 'eth0');
      ip('-n', space, 'link', 'set', 'eth0', 'up');
      ip('-n', space, 'link', 'set', 'lo', 'up');
      plug(`h${host + 1}`);
    }
    ip('link', 'add', vethOf(owner), 'type', 'veth', 'peer', 'name', 'gateway', 'netns', bridgeSpace);
    ip('addr', 'add', `${gateway}/24`, 'dev', vethOf(owner));
    ip('link', 'set', vethOf(owner), 'up');
    plug('gateway');
  } catch (err) {
    remove();
    throw err;
  }

  const iptables = (host: number, ...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', hostSpaces[host] as string, 'iptables', ...args], { stdio: 'pipe' });
  const network: PrivateNetwork = {
    addresses,
    gateway,
    inHost: (host, command, args) => ({
      command: 'ip',
      args: ['netns', 'exec', hostSpaces[host] as string, command, ...args],
    }),
    cut: (from, to, { oneWay = false } = {}) => {
      iptables(to, '-A', 'INPUT', '-s', addresses[from] as string, '-j', 'DROP');
      if (!oneWay) iptables(from, '-A', 'INPUT', '-s', addresses[to] as string, '-j', 'DROP');
    },
    isolate: (host) => {
      for (const other of hostSpaces.keys()) if (other !== host) network.cut(host, other);
    },
    heal: () => hostSpaces.forEach((_, host) => iptables(host, '-F', 'INPUT')),
    remove,
  };
  return network;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: 'pipe' });
}

/** A /24 in 10.200–249.x.0 that no route or address of this machine overlaps. */
function freeSubnet(): string {
  const inUse = ip('-4', 'route', 'show', 'table', 'all') + ip('-4', 'addr');
  for (let attempt = 0; attempt < 100; attempt++) {
    const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}`;
    if (!inUse.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 for a private network');
}

function removeOwnedBy(owner: number): void {
  for (const space of ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')) {
    if (!space.startsWith(`${PREFIX}-${owner}-`)) continue;
    // Deleting a namespace only removes its name: processes left in it (a killed run's servers) would live on.
    for (const pid of ip('netns', 'pids', space).split('\n').filter(Boolean))
      ignoreFailure(() => process.kill(Number(pid), 'SIGKILL'));
    ignoreFailure(() => ip('netns', 'del', space));
  }
  // Deleting the bridge's namespace deletes the veth's other end, and with it this one; just in case:
  ignoreFailure(() => ip('link', 'del', vethOf(owner)));
}

/** Namespaces and veths of earlier runs whose process is gone (killed before it could remove them). */
function removeLeftovers(): void {
  const owners = new Set<number>();
  for (const line of ip('netns', 'list').split('\n')) {
    const owner = new RegExp(`^${PREFIX}-(\\d+)-`).exec(line)?.[1];
    if (owner) owners.add(Number(owner));
  }
  for (const line of ip('-o', 'link').split('\n')) {
    const owner = new RegExp(`^\\d+: ${PREFIX}(\\d+)[@:]`).exec(line)?.[1];
    if (owner) owners.add(Number(owner));
  }
  for (const owner of owners) if (owner !== process.pid && !alive(owner)) removeOwnedBy(owner);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ignoreFailure(action: () => void): void {
  try {
    action();
  } catch {
    // Already gone.
  }
}
