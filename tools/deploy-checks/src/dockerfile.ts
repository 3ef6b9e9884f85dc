/**
 * A Dockerfile as the checks see it: stages, their instructions, and the image config a stage ends up with
 * (USER, EXPOSE, ENV, CMD, ENTRYPOINT, WORKDIR are inherited from the stage it is built FROM). Parsing is
 * dockerfile-ast's (continuations, comments inside them, parser directives, quoting, flags); ARG values are not
 * substituted.
 */
import {
  Add,
  Cmd,
  Copy,
  DockerfileParser,
  Entrypoint,
  Env,
  From,
  ModifiableInstruction,
  type Instruction as AstInstruction,
} from 'dockerfile-ast';

export interface Instruction {
  /** Upper-case, e.g. RUN. */
  keyword: string;
  /** The arguments after the flags, as Docker splits them (quotes and JSON brackets kept). */
  arguments: string[];
  /** The flags (`--from=build` → { from: 'build' }); a flag without a value maps to ''. */
  flags: Record<string, string>;
  /** 1-based line where the instruction starts. */
  line: number;
}

/** A COPY or ADD. */
export interface CopyInstruction {
  keyword: 'COPY' | 'ADD';
  /** The stage or image of --from, or undefined when it reads the build context. */
  from: string | undefined;
  sources: string[];
  destination: string;
  line: number;
}

export type CommandForm = { form: 'exec'; argv: string[] } | { form: 'shell'; command: string };

export interface Stage {
  /** `AS name`, lower-cased (Docker's stage names are case-insensitive). */
  name: string | undefined;
  /** The FROM image or stage. */
  from: string;
  line: number;
  instructions: Instruction[];
  copies: CopyInstruction[];
  /** The ENV variables this stage sets, in order (a later one wins). */
  env: [name: string, value: string][];
  /** CMD / ENTRYPOINT of this stage (the last one wins), undefined when it sets none. */
  cmd: CommandForm | undefined;
  entrypoint: CommandForm | undefined;
}

const lineOf = (instruction: AstInstruction): number => instruction.getRange().start.line + 1;

function flagsOf(instruction: AstInstruction): Record<string, string> {
  const flags: Record<string, string> = {};
  if (instruction instanceof ModifiableInstruction)
    for (const flag of instruction.getFlags()) flags[flag.getName()] = flag.getValue() ?? '';
  return flags;
}

/**
 * The exec form when the arguments (continuations joined, as dockerfile-ast gives them) parse as a JSON array
 * of strings, else the shell form: Docker's own rule. (dockerfile-ast's getJSONStrings() drops the spaces inside
 * each string, so the text is parsed here.)
 */
function commandOf(instruction: AstInstruction): CommandForm {
  const content = (instruction.getArgumentsContent() ?? '').trim();
  try {
    const parsed: unknown = JSON.parse(content);
    if (Array.isArray(parsed) && parsed.every((item): item is string => typeof item === 'string'))
      return { form: 'exec', argv: parsed };
  } catch {
    // not JSON: Docker runs it with /bin/sh -c
  }
  return { form: 'shell', command: content };
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const line = lineOf(instruction);
    if (instruction instanceof From) {
      stages.push({
        from: instruction.getImage() ?? '',
        name: instruction.getBuildStage()?.toLowerCase() ?? undefined,
        line,
        instructions: [],
        copies: [],
        env: [],
        cmd: undefined,
        entrypoint: undefined,
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue; // ARGs before the first FROM
    const flags = flagsOf(instruction);
    const args = instruction.getArguments().map((argument) => argument.getValue());
    stage.instructions.push({ keyword, arguments: args, flags, line });
    if (instruction instanceof Copy || instruction instanceof Add)
      stage.copies.push({
        keyword: instruction instanceof Add ? 'ADD' : 'COPY',
        from: flags.from,
        sources: args.slice(0, -1),
        destination: args.at(-1) ?? '',
        line,
      });
    if (instruction instanceof Env)
      for (const property of instruction.getProperties())
        stage.env.push([property.getName(), property.getValue() ?? '']);
    if (instruction instanceof Cmd) stage.cmd = commandOf(instruction);
    if (instruction instanceof Entrypoint) stage.entrypoint = commandOf(instruction);
  }
  return stages;
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
  /** The ENV variables set along the chain (not those of the external base image). */
  env: Record<string, string>;
  cmd: CommandForm | undefined;
  entrypoint: CommandForm | undefined;
  /** Absolute WORKDIR, or undefined. */
  workdir: string | undefined;
  /** COPY/ADD instructions of this stage only. */
  copies: CopyInstruction[];
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
  const env: Record<string, string> = {};
  let cmd: CommandForm | undefined;
  let entrypoint: CommandForm | undefined;
  let workdir: string | undefined;
  for (const link of chain) {
    for (const { keyword, arguments: args } of link.instructions) {
      if (keyword === 'USER') user = args.join(' ');
      if (keyword === 'EXPOSE')
        for (const port of args) exposed.add(port.includes('/') ? port.toLowerCase() : `${port}/tcp`);
      if (keyword === 'WORKDIR') {
        const path = args.join(' ');
        workdir = path.startsWith('/') ? path : `${workdir ?? ''}/${path}`;
      }
    }
    for (const [variable, value] of link.env) env[variable] = value;
    if (link.entrypoint) {
      entrypoint = link.entrypoint;
      cmd = undefined; // Docker resets CMD when ENTRYPOINT is set
    }
    if (link.cmd) cmd = link.cmd;
  }
  return { stage, chain, user, exposed: [...exposed].sort(), env, cmd, entrypoint, workdir, copies: stage.copies };
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
