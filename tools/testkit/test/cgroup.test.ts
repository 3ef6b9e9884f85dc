import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MemoryCgroup, peakResidentBytes } from '@blog/testkit';

const MiB = 2 ** 20;
const made: MemoryCgroup[] = [];
afterEach(() => {
  for (const cgroup of made.splice(0)) cgroup.remove();
});

function cgroup(limitBytes: number): MemoryCgroup {
  const created = MemoryCgroup.create(`blog-test-${process.pid}-${made.length}`, limitBytes);
  if (typeof created === 'string') throw new Error(created);
  made.push(created);
  return created;
}

/** A node process that holds `mib` MiB of touched memory, then says so and waits to be stopped. */
function holder(mib: number) {
  const child = spawn(
    process.execPath,
    ['-e', `const b = Buffer.alloc(${mib} * 1048576, 1); console.log('held', b.length); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return child;
}

describe('MemoryCgroup', () => {
  it('records the peak of a process within its limit, and the process lives', async () => {
    const group = cgroup(256 * MiB);
    const child = holder(64);
    group.add(child.pid as number);
    await once(child.stdout, 'data');
    expect(peakResidentBytes(child.pid as number)).toBeGreaterThan(64 * MiB);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const memory = group.memory();
    expect(memory.peakBytes).toBeGreaterThan(64 * MiB);
    expect(memory.oomKills).toBe(0);
  });

  it("kills a process that goes past its limit, as a pod's limit does", async () => {
    const group = cgroup(48 * MiB);
    const child = holder(128);
    group.add(child.pid as number);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(group.memory().oomKills).toBe(1);
  });
});
