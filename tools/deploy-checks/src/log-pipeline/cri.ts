/**
 * A container's output as a CRI runtime (containerd) writes it to the node for the kubelet: one line per line
 * printed, `<time, RFC3339Nano> <stream> <F|P> <content>`, a line longer than the runtime's limit (16 KiB by
 * default) split into P parts and a last F part; the file /var/log/containers/<pod>_<namespace>_<container>-<id>.log.
 */

/** containerd's default max_container_log_line_size. */
export const CRI_MAX_LINE = 16 * 1024;

/** Go's time.RFC3339Nano of a UTC time: the fraction without its trailing zeros, none at all when it is zero. */
export function rfc3339Nano(nanoseconds: bigint): string {
  const milliseconds = Number(nanoseconds / 1_000_000n);
  const base = new Date(milliseconds).toISOString().slice(0, 19);
  const fraction = (nanoseconds % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${fraction === '' ? '' : `.${fraction}`}Z`;
}

/** The lines a runtime writes for what a container printed on one stream, the first at `start`, 1 µs apart. */
export function criLines(printed: readonly string[], stream: 'stdout' | 'stderr', start: bigint): string[] {
  return printed.flatMap((line, index) => {
    const time = rfc3339Nano(start + BigInt(index) * 1000n);
    const parts: string[] = [];
    for (let at = 0; at < line.length || parts.length === 0; at += CRI_MAX_LINE)
      parts.push(line.slice(at, at + CRI_MAX_LINE));
    return parts.map((part, n) => `${time} ${stream} ${n === parts.length - 1 ? 'F' : 'P'} ${part}`);
  });
}

/** Where the kubelet links a container's log: the name the kubernetes filter reads pod, namespace and container from. */
export function containerLogPath(pod: string, namespace: string, container: string, containerId: string): string {
  return `/var/log/containers/${pod}_${namespace}_${container}-${containerId}.log`;
}
