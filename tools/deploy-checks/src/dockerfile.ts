/**
 * A small Dockerfile reader: stages, their instructions, and the image config a stage ends up with
 * (USER, EXPOSE, CMD, ENTRYPOINT, WORKDIR are inherited from the stage it is built FROM).
 * Enough for our Dockerfiles: `\` continuations and `#` comments; no heredocs, no ARG substitution.
 */

export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** `AS name`, lower-cased (Docker's stage names are case-insensitive). */
  name: string | undefined;
  /** The FROM image or stage. */
  from: string;
  line: number;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let pending: { args: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (pending === undefined && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending !== undefined && trimmed.startsWith('#')) return; // comment lines inside a continuation are dropped
    const continued = /\\\s*$/.test(raw);
    const content = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (pending === undefined) pending = { args: [], line: i + 1 };
    pending.args.push(content.trim());
    if (!continued) {
      const joined = pending.args.filter((part) => part !== '').join(' ');
      const match = /^(\S+)\s*(.*)$/.exec(joined);
      if (match)
        instructions.push({ keyword: (match[1] ?? '').toUpperCase(), args: match[2] ?? '', line: pending.line });
      pending = undefined;
    }
  });

  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const asIndex = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({
        from: words[0] ?? '',
        name: asIndex >= 0 ? words[asIndex + 1]?.toLowerCase() : undefined,
        line: instruction.line,
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export type CommandForm = { form: 'exec'; argv: string[] } | { form: 'shell'; command: string };

export function parseCommand(args: string): CommandForm {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((item): item is string => typeof item === 'string'))
        return { form: 'exec', argv: parsed };
    } catch {
      // not JSON: Docker runs it as a shell command
    }
  }
  return { form: 'shell', command: trimmed };
}

/** The image config a stage produces. */
export interface StageConfig {
  stage: Stage;
  /** The stages from the external base image to this one. */
  chain: Stage[];
  /** The effective USER, or undefined when no stage in the chain sets one (the base image's user: root for node images). */
  user: string | undefined;
  /** EXPOSEd ports, e.g. ['4000/tcp'], including those of the stages it builds on. */
  exposed: string[];
  cmd: CommandForm | undefined;
  entrypoint: CommandForm | undefined;
  /** Absolute WORKDIR, or undefined. */
  workdir: string | undefined;
  /** COPY/ADD instructions of this stage only. */
  copies: { from: string | undefined; sources: string[]; destination: string; line: number }[];
}

export function findStage(stages: readonly Stage[], name: string): Stage | undefined {
  return stages.find((stage) => stage.name === name.toLowerCase());
}

export function stageConfig(stages: readonly Stage[], name: string): StageConfig | undefined {
  const stage = findStage(stages, name);
  if (!stage) return undefined;
  // The stage, the stage it is built FROM, and so on down to an external image.
  const chain: Stage[] = [];
  let current: Stage | undefined = stage;
  while (current && !chain.includes(current)) {
    chain.unshift(current);
    const base = current.from.toLowerCase();
    current = stages.slice(0, stages.indexOf(current)).find((candidate) => candidate.name === base);
  }
  let user: string | undefined;
  const exposed = new Set<string>();
  let cmd: CommandForm | undefined;
  let entrypoint: CommandForm | undefined;
  let workdir: string | undefined;
  for (const link of chain) {
    for (const { keyword, args } of link.instructions) {
      if (keyword === 'USER') user = args.trim();
      if (keyword === 'EXPOSE')
        for (const port of args.split(/\s+/).filter(Boolean))
          exposed.add(port.includes('/') ? port.toLowerCase() : `${port}/tcp`);
      if (keyword === 'CMD') cmd = parseCommand(args);
      if (keyword === 'ENTRYPOINT') {
        entrypoint = parseCommand(args);
        cmd = undefined; // Docker resets CMD when ENTRYPOINT is set
      }
      if (keyword === 'WORKDIR')
        workdir = args.trim().startsWith('/') ? args.trim() : `${workdir ?? ''}/${args.trim()}`;
    }
  }
  const copies = stage.instructions
    .filter(({ keyword }) => keyword === 'COPY' || keyword === 'ADD')
    .map(({ args, line }) => {
      const words = args.split(/\s+/).filter(Boolean);
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((word) => !word.startsWith('--'));
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '', line };
    });
  return { stage, chain, user, exposed: [...exposed].sort(), cmd, entrypoint, workdir, copies };
}

/** USER node / USER 1000 / USER 1000:1000 → non-root; undefined, root, 0 → root. */
export function isNonRootUser(user: string | undefined): boolean {
  if (user === undefined) return false;
  const name = user.split(':')[0]?.trim() ?? '';
  return name !== '' && name !== 'root' && name !== '0';
}

export function isNumericUser(user: string | undefined): boolean {
  return user !== undefined && /^\d+(:\d+)?$/.test(user.trim());
}
