/**
 * Images: the manifests' images against skaffold's artifacts, the artifacts against their Dockerfiles,
 * the sync rules against the files, and each Dockerfile stage against the pods that run it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { minimatch } from 'minimatch';
import {
  isNonRootUser,
  isNumericUser,
  parseDockerfile,
  stageConfig,
  type Stage,
  type StageConfig,
} from '../dockerfile';
import {
  containersRunning,
  label,
  imageRepository,
  workloads,
  type IContainer,
  type Manifest,
  type Workload,
} from '../manifests';
import type { RepoView } from '../repo';
import { applyJsonPatch, dockerArtifacts, joinRelative, type DockerArtifact, type SkaffoldConfig } from '../skaffold';

const DEV_STAGE = 'dev';
/** The unprivileged user of the node images (uid 1000), which the pods' runAsUser also uses. */
const IMAGE_USERS = ['node', '1000'];
const PRODUCTION_STAGE = 'production';

/** Every container image is a skaffold artifact, and every artifact is run by some container. */
export function checkImagesMatchArtifacts(manifests: readonly Manifest[], config: SkaffoldConfig): string[] {
  const problems: string[] = [];
  const artifacts = dockerArtifacts(config);
  const artifactImages = new Set(artifacts.map((artifact) => artifact.image));
  const all = workloads(manifests);
  for (const workload of all) {
    for (const container of workload.containers) {
      const image = container.image === undefined ? undefined : imageRepository(container.image);
      if (image === undefined) problems.push(`${label(workload.manifest)} container ${container.name}: no image`);
      else if (!artifactImages.has(image))
        problems.push(
          `${label(workload.manifest)} container ${container.name}: image ${container.image ?? ''} is not built by skaffold.yaml (no artifact ${image})`,
        );
      else if (image !== container.image)
        problems.push(
          `${label(workload.manifest)} container ${container.name}: image ${container.image ?? ''} has a tag or digest; skaffold sets it, leave it out`,
        );
    }
  }
  const seen = new Set<string>();
  for (const artifact of artifacts) {
    if (seen.has(artifact.image))
      problems.push(`skaffold.yaml build.artifacts[${artifact.index}]: image ${artifact.image} is built twice`);
    seen.add(artifact.image);
    if (containersRunning(all, artifact.image).length === 0)
      problems.push(`skaffold.yaml build.artifacts[${artifact.index}]: image ${artifact.image} is used by no manifest`);
  }
  return problems;
}

/** The artifacts as each profile builds them (profile undefined = the default config). */
export function artifactsPerProfile(
  config: SkaffoldConfig,
): { profile: string | undefined; artifacts: DockerArtifact[]; problems: string[] }[] {
  const result: { profile: string | undefined; artifacts: DockerArtifact[]; problems: string[] }[] = [
    { profile: undefined, artifacts: dockerArtifacts(config), problems: [] },
  ];
  for (const profile of config.profiles ?? []) {
    const name = typeof profile.name === 'string' ? profile.name : '<unnamed>';
    try {
      result.push({
        profile: name,
        artifacts: dockerArtifacts(applyJsonPatch(config, profile.patches ?? [])),
        problems: [],
      });
    } catch (error) {
      result.push({
        profile: name,
        artifacts: [],
        problems: [`skaffold.yaml profile ${name}: its patches do not apply: ${(error as Error).message}`],
      });
    }
  }
  return result;
}

/** Each artifact's context and Dockerfile exist, and the Dockerfile has the target stage (in every profile). */
export function checkArtifactDockerfiles(config: SkaffoldConfig, repo: RepoView): string[] {
  const problems: string[] = [];
  (config.build?.artifacts ?? []).forEach((artifact, i) => {
    if (!artifact.docker)
      problems.push(`skaffold.yaml build.artifacts[${i}]: not a docker artifact (the checks expect docker builds)`);
  });
  for (const { profile, artifacts, problems: patchProblems } of artifactsPerProfile(config)) {
    problems.push(...patchProblems);
    const where = (artifact: DockerArtifact) =>
      `skaffold.yaml${profile ? ` (profile ${profile})` : ''} build.artifacts[${artifact.index}] ${artifact.image}`;
    for (const artifact of artifacts) {
      if (!repo.isDirectory(artifact.context)) {
        problems.push(`${where(artifact)}: context ${artifact.context} is not a folder`);
        continue;
      }
      const text = repo.readFile(artifact.dockerfile);
      if (text === undefined) {
        problems.push(`${where(artifact)}: dockerfile ${artifact.dockerfile} does not exist`);
        continue;
      }
      if (artifact.target === undefined)
        problems.push(`${where(artifact)}: no docker.target: the last stage of ${artifact.dockerfile} would be built`);
      else if (!parseDockerfile(text).some((stage) => stage.name === artifact.target?.toLowerCase()))
        problems.push(`${where(artifact)}: ${artifact.dockerfile} has no stage "${artifact.target}"`);
    }
  }
  return problems;
}

/**
 * Each manual sync rule's src glob matches at least one file Docker sends in the context (minus
 * .dockerignore, which skaffold honours), and its dest is writable in the pod: under an emptyDir mount,
 * since the root filesystem is read-only.
 */
export function checkSyncRules(config: SkaffoldConfig, manifests: readonly Manifest[], repo: RepoView): string[] {
  const problems: string[] = [];
  const all = workloads(manifests);
  for (const artifact of dockerArtifacts(config)) {
    const files = repo.isDirectory(artifact.context) ? repo.contextFiles(artifact.context) : [];
    artifact.sync.forEach((rule, i) => {
      const at = `skaffold.yaml build.artifacts[${artifact.index}] (${artifact.image}) sync.manual[${i}]`;
      if (typeof rule.src !== 'string' || rule.src === '') {
        problems.push(`${at}: no src`);
        return;
      }
      const src = rule.src;
      if (!files.some((file) => minimatch(file, src)))
        problems.push(
          `${at}: src "${src}" matches no file in the build context ${artifact.context} (after .dockerignore)`,
        );
      if (typeof rule.dest !== 'string' || !rule.dest.startsWith('/')) {
        problems.push(`${at}: dest ${JSON.stringify(rule.dest)} is not an absolute path`);
        return;
      }
      const dest = rule.dest;
      for (const { workload, container } of containersRunning(all, artifact.image)) {
        if (!isWritableIn(workload, container, dest)) {
          problems.push(
            `${at}: dest ${dest} is not on a writable emptyDir mount of ${workload.kind}/${workload.name} container ${container.name} (its root filesystem is read-only)`,
          );
        }
      }
    });
  }
  return problems;
}

function isWritableIn(workload: Workload, container: IContainer, target: string): boolean {
  if (container.securityContext?.readOnlyRootFilesystem !== true) return true;
  return (container.volumeMounts ?? []).some((mount) => {
    const volume = (workload.pod.volumes ?? []).find((v) => v.name === mount.name);
    const mountPath = mount.mountPath.replace(/\/+$/, '');
    return (
      !mount.readOnly && volume?.emptyDir !== undefined && (target === mountPath || target.startsWith(`${mountPath}/`))
    );
  });
}

/** The workspace folder an artifact builds: the folder of its Dockerfile (posts/Dockerfile → posts). */
export function workspaceOf(artifact: DockerArtifact): string {
  return path.posix.dirname(artifact.dockerfile);
}

function stagesOf(artifact: DockerArtifact, repo: RepoView): Stage[] | undefined {
  const text = repo.readFile(artifact.dockerfile);
  return text === undefined ? undefined : parseDockerfile(text);
}

function portsOf(containers: readonly IContainer[]): string[] {
  return [
    ...new Set(
      containers.flatMap((container) =>
        (container.ports ?? []).map((port) => `${port.containerPort}/${(port.protocol ?? 'TCP').toLowerCase()}`),
      ),
    ),
  ].sort();
}

/** A path inside the image: absolute, or relative to the stage's WORKDIR. */
function inImage(config: StageConfig, file: string): string {
  return path.posix.normalize(file.startsWith('/') ? file : `${config.workdir ?? '/'}/${file}`);
}

/**
 * The dev and production stages of every artifact's Dockerfile: EXPOSE equals the containerPorts of the
 * pods running the image; they run as a non-root user (and a non-numeric one only with a numeric
 * runAsUser in the pod, else the kubelet cannot verify runAsNonRoot); CMD is in exec form; production's
 * CMD is `node <the workspace's main>`, a file the stage copies in.
 */
export function checkDockerfileStages(
  config: SkaffoldConfig,
  manifests: readonly Manifest[],
  repo: RepoView,
): string[] {
  const problems: string[] = [];
  const all = workloads(manifests);
  for (const artifact of dockerArtifacts(config)) {
    const stages = stagesOf(artifact, repo);
    if (!stages) continue; // reported by checkArtifactDockerfiles
    const running = containersRunning(all, artifact.image);
    const last = stages.at(-1);
    if (last && last.name !== PRODUCTION_STAGE)
      problems.push(
        `${artifact.dockerfile}: the last stage is ${last.name ?? 'unnamed'}, not ${PRODUCTION_STAGE}: a docker build without --target would not build the production image`,
      );
    for (const stageName of [DEV_STAGE, PRODUCTION_STAGE]) {
      const at = `${artifact.dockerfile} stage ${stageName}`;
      const stage = stageConfig(stages, stageName);
      if (!stage) {
        problems.push(`${artifact.dockerfile}: no "${stageName}" stage`);
        continue;
      }
      const expected = portsOf(running.map(({ container }) => container));
      if (running.length > 0 && stage.exposed.join(' ') !== expected.join(' ')) {
        problems.push(
          `${at}: EXPOSE ${stage.exposed.join(' ') || '(none)'} but the pods running ${artifact.image} listen on ${expected.join(' ') || '(no containerPort)'}`,
        );
      }
      if (!isNonRootUser(stage.user))
        problems.push(
          `${at}: runs as ${stage.user ?? 'the base image user (root)'}: add USER node (uid 1000, as the pods' runAsUser)`,
        );
      else if (!IMAGE_USERS.includes(stage.user?.split(':')[0] ?? ''))
        problems.push(
          `${at}: USER ${stage.user ?? ''}: expected node or 1000 (the node image's unprivileged user, the pods' runAsUser)`,
        );
      else if (!isNumericUser(stage.user)) {
        for (const { workload, container } of running) {
          const runAsUser = container.securityContext?.runAsUser ?? workload.pod.securityContext?.runAsUser;
          const runAsNonRoot = container.securityContext?.runAsNonRoot ?? workload.pod.securityContext?.runAsNonRoot;
          if (runAsNonRoot === true && (runAsUser === undefined || runAsUser === 0)) {
            problems.push(
              `${at}: USER ${stage.user} is not numeric and ${workload.kind}/${workload.name} sets runAsNonRoot without a numeric runAsUser: the kubelet refuses to start it ("cannot verify user is non-root")`,
            );
          }
        }
      }
      if (stage.entrypoint && stage.entrypoint.form !== 'exec')
        problems.push(`${at}: ENTRYPOINT is in shell form: signals would go to /bin/sh, not the service`);
      if (!stage.cmd) problems.push(`${at}: no CMD`);
      else if (stage.cmd.form !== 'exec')
        problems.push(
          `${at}: CMD is in shell form (${stage.cmd.command}): use the JSON exec form so that SIGTERM reaches the process`,
        );
      else if (stageName === PRODUCTION_STAGE)
        problems.push(...checkProductionCommand(artifact, stage, stage.cmd.argv, repo));
    }
  }
  return problems;
}

function checkProductionCommand(
  artifact: DockerArtifact,
  config: StageConfig,
  argv: string[],
  repo: RepoView,
): string[] {
  const at = `${artifact.dockerfile} stage ${PRODUCTION_STAGE}`;
  const [program, script] = argv;
  if (program !== 'node')
    return [
      `${at}: CMD ${JSON.stringify(argv)} does not run node directly (npm/sh would stand between the service and SIGTERM)`,
    ];
  if (script === undefined) return [`${at}: CMD ${JSON.stringify(argv)} names no script`];
  const problems: string[] = [];
  const workspace = workspaceOf(artifact);
  const packageText = repo.readFile(joinRelative(workspace, 'package.json'));
  const main = packageText === undefined ? undefined : (JSON.parse(packageText) as { main?: unknown }).main;
  if (typeof main === 'string') {
    const expected = inImage(config, joinRelative(workspace, main));
    if (inImage(config, script) !== expected)
      problems.push(
        `${at}: CMD runs ${script}, but ${workspace}/package.json's main is ${main} (${expected} in the image)`,
      );
  }
  // What each COPY puts where: a folder (a context folder, or anything from another stage) lands at its
  // destination; a file lands at the destination, or inside it when the destination ends with /.
  const scriptInImage = inImage(config, script);
  const copied = config.copies.some(({ from, sources, destination }) =>
    sources.some((source) => {
      const folder =
        from !== undefined || source.endsWith('/') || repo.isDirectory(joinRelative(artifact.context, source));
      const landsAt = inImage(
        config,
        !folder && (destination.endsWith('/') || sources.length > 1)
          ? `${destination}/${path.posix.basename(source)}`
          : destination,
      ).replace(/\/+$/, '');
      return scriptInImage === landsAt || (folder && scriptInImage.startsWith(`${landsAt}/`));
    }),
  );
  if (!copied) problems.push(`${at}: CMD runs ${script}, which no COPY of the stage puts in the image`);
  return problems;
}

/** The lockfile's packages installed in a workspace's own node_modules (not hoisted to the root). */
export function nestedPackages(lockfileText: string, workspaces: readonly string[]): string[] {
  const lock = JSON.parse(lockfileText) as { packages?: Record<string, { link?: boolean }> };
  return Object.entries(lock.packages ?? {})
    .filter(
      ([key, entry]) => !entry.link && workspaces.some((workspace) => key.startsWith(`${workspace}/node_modules/`)),
    )
    .map(([key]) => key)
    .sort();
}

/** The repo file a stage COPYs to the place a command's program is found (`dev.sh` → infra/docker/dev.sh). */
function copiedProgram(config: StageConfig, artifact: DockerArtifact, program: string): string | undefined {
  for (const link of [...config.chain].reverse()) {
    const linkConfig = { ...config, stage: link };
    for (const { keyword, from, sources, destination } of link.copies) {
      if (keyword !== 'COPY' || from !== undefined || sources.length !== 1) continue;
      const source = sources[0] ?? '';
      const target = destination.endsWith('/') ? `${destination}${path.posix.basename(source)}` : destination;
      if (
        target === program ||
        (!program.includes('/') && path.posix.basename(target) === program) ||
        inImage(linkConfig, target) === program
      )
        return joinRelative(artifact.context, source);
    }
  }
  return undefined;
}

/**
 * The dev stage's entry script (dev.sh) runs the service from a copy of the sources in /tmp/dev. Run it
 * (with /app and /tmp/dev moved into a temporary folder) against a model of the image's /app — what the
 * stages' COPY instructions put there (with the real tsconfig files), a root node_modules, and the
 * packages the lockfile installs in the workspace's and common's own node_modules — and check that those
 * packages can still be resolved from /tmp/dev/<workspace> and that every tsconfig's `extends` resolves
 * in /tmp/dev. Also, the script must be executable (COPY keeps the mode).
 */
export function checkDevEntrypoints(config: SkaffoldConfig, repo: RepoView): string[] {
  const problems: string[] = [];
  const lockfile = repo.readFile('package-lock.json');
  for (const artifact of dockerArtifacts(config)) {
    const stages = stagesOf(artifact, repo);
    const dev = stages && stageConfig(stages, DEV_STAGE);
    if (!dev || dev.cmd?.form !== 'exec') continue;
    const [program, ...args] = dev.cmd.argv;
    if (program === undefined) continue;
    const script = copiedProgram(dev, artifact, program);
    if (script === undefined) continue; // a program of the base image (node, npm…)
    const at = `${artifact.dockerfile} stage ${DEV_STAGE}: CMD ${program} (${script})`;
    const text = repo.readFile(script);
    if (text === undefined) {
      problems.push(`${at}: the file does not exist`);
      continue;
    }
    if (!repo.isExecutable(script)) problems.push(`${at}: the file is not executable (chmod +x; COPY keeps the mode)`);
    const folder = args[0];
    if (!text.includes('/tmp/dev') || folder === undefined || lockfile === undefined || dev.workdir !== '/app')
      continue;
    const nested = nestedPackages(lockfile, [folder, 'common']);
    problems.push(...simulateDevScript(at, text, { artifact, dev, repo, folder, nested }));
  }
  return problems;
}

interface DevModel {
  artifact: DockerArtifact;
  dev: StageConfig;
  repo: RepoView;
  folder: string;
  nested: readonly string[];
}

/** Builds the model of /app: the files the chain's COPYs (from the context) put under WORKDIR, and node_modules. */
function buildAppModel(app: string, { artifact, dev, repo, nested }: DevModel): void {
  mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  for (const link of dev.chain) {
    for (const { keyword, from, sources, destination } of link.copies) {
      if (keyword !== 'COPY' || from !== undefined) continue;
      const target = destination.startsWith('/') ? destination : `/app/${destination}`;
      if (!target.startsWith('/app/') && target !== '/app') continue;
      const base = path.join(app, path.posix.relative('/app', target));
      for (const source of sources) {
        const relative = joinRelative(artifact.context, source);
        if (source.endsWith('/') || repo.isDirectory(relative)) {
          mkdirSync(path.join(base, 'src'), { recursive: true });
          writeFileSync(path.join(base, 'src', 'index.ts'), '');
          // The real tsconfig files, whose `extends` must still resolve in the copy.
          const prefix = `${relative.replace(/\/+$/, '')}/`;
          for (const file of repo.contextFiles(artifact.context)) {
            const inContext = joinRelative(artifact.context, file);
            if (!inContext.startsWith(prefix) || !/^tsconfig[\w.-]*\.json$/.test(path.posix.basename(file))) continue;
            const destination = path.join(base, inContext.slice(prefix.length));
            mkdirSync(path.dirname(destination), { recursive: true });
            writeFileSync(destination, repo.readFile(inContext) ?? '');
          }
        } else {
          const file =
            destination.endsWith('/') || sources.length > 1 ? path.join(base, path.posix.basename(source)) : base;
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, '');
        }
      }
    }
  }
  for (const key of nested) {
    mkdirSync(path.join(app, key), { recursive: true });
    writeFileSync(path.join(app, key, 'package.json'), '{}');
  }
}

/** Files below a folder, not following symbolic links (node_modules links point back into the model). */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesBelow(full) : entry.isFile() ? [full] : [];
  });
}

function simulateDevScript(at: string, script: string, model: DevModel): string[] {
  const sandbox = mkdtempSync(path.join(tmpdir(), 'infra-devsh-'));
  try {
    const app = path.join(sandbox, 'app');
    const dev = path.join(sandbox, 'dev');
    buildAppModel(app, model);
    // /app and /tmp/dev wherever they appear as paths (also in ${var#/app/}), in one pass.
    const relocated = script.replace(/(?<![\w.-])(\/tmp\/dev|\/app)(?![\w.-])/g, (match) =>
      match === '/app' ? app : dev,
    );
    writeFileSync(path.join(sandbox, 'entry.sh'), relocated);
    // Run it with the interpreter its shebang names, as the image does.
    const interpreter = /^#!\s*(\S+)/.exec(script)?.[1] ?? '/bin/sh';
    const run = spawnSync(interpreter, [path.join(sandbox, 'entry.sh'), model.folder, 'true'], {
      cwd: sandbox,
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (run.error || run.status !== 0)
      return [
        `${at}: could not run it against a model of the image: ${run.error?.message ?? `exit status ${String(run.status)} ${run.stderr.trim()}`.trim()}`,
      ];
    const problems: string[] = [];
    for (const key of model.nested) {
      const [workspace, ...rest] = key.split('/node_modules/');
      const name = rest.join('/node_modules/');
      // Node looks in the node_modules of the importing file's folder and of every folder above it.
      const candidates = [path.join(dev, workspace ?? ''), dev].map((dir) =>
        path.join(dir, 'node_modules', name, 'package.json'),
      );
      if (!candidates.some((candidate) => existsSync(candidate))) {
        problems.push(
          `${at}: package-lock.json installs ${name} in ${workspace}/node_modules, which the script does not bring into /tmp/dev: code run from /tmp/dev/${workspace} cannot import ${name}`,
        );
      }
    }
    for (const file of filesBelow(dev)) {
      if (!/^tsconfig[\w.-]*\.json$/.test(path.basename(file))) continue;
      let extended: unknown;
      try {
        extended = (JSON.parse(readFileSync(file, 'utf8')) as { extends?: unknown }).extends;
      } catch {
        continue; // JSON with comments: not checked
      }
      for (const target of [extended].flat()) {
        if (typeof target !== 'string' || !target.startsWith('.')) continue;
        if (!existsSync(path.resolve(path.dirname(file), target))) {
          const shown = path.relative(dev, file);
          problems.push(`${at}: /tmp/dev/${shown} extends ${target}, which the script does not copy into /tmp/dev`);
        }
      }
    }
    return problems;
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
}

/**
 * A persistent volume (a volumeClaimTemplate or a persistentVolumeClaim) is mounted for a reason: the
 * process must be told to write there. Its mountPath must appear as a path in the container's env,
 * command or args, in a ConfigMap the container reads through envFrom, in the image's Dockerfile (ENV),
 * or in the sources of the image's workspace or of common. Otherwise the data the volume is meant to keep
 * lives in memory or on the container's filesystem and is lost on restart.
 */
export function checkPersistentMountsUsed(
  config: SkaffoldConfig,
  manifests: readonly Manifest[],
  repo: RepoView,
): string[] {
  const problems: string[] = [];
  const artifacts = dockerArtifacts(config);
  const configMaps = manifests.filter((m) => m.object.kind === 'ConfigMap');
  for (const workload of workloads(manifests)) {
    const persistent = new Set([
      ...workload.claimTemplates,
      ...(workload.pod.volumes ?? [])
        .filter((volume) => volume.persistentVolumeClaim !== undefined)
        .map((volume) => volume.name),
    ]);
    for (const container of workload.containers) {
      for (const mount of container.volumeMounts ?? []) {
        if (!persistent.has(mount.name)) continue;
        const mountPath = mount.mountPath.replace(/\/+$/, '');
        const escaped = mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const mentions = new RegExp(`(^|[^\\w/.-])${escaped}(?=$|[/"'\`\\s,:;)])`, 'm');
        const texts: string[] = [
          ...(container.env ?? []).map((variable) => variable.value ?? ''),
          ...(container.command ?? []),
          ...(container.args ?? []),
          ...(container.envFrom ?? []).flatMap((source) => {
            const found = configMaps.find((m) => m.object.metadata?.name === source.configMapRef?.name);
            return Object.values((found?.object as { data?: Record<string, string> } | undefined)?.data ?? {});
          }),
        ];
        const artifact = artifacts.find((a) => a.image === imageRepository(container.image ?? ''));
        if (artifact) {
          const workspace = workspaceOf(artifact);
          texts.push(repo.readFile(artifact.dockerfile) ?? '');
          const sources = repo
            .contextFiles(artifact.context)
            .filter(
              (file) =>
                /\.(ts|js|mjs|cjs)$/.test(file) &&
                (file.startsWith(`${workspace}/src/`) || file.startsWith('common/src/')),
            );
          for (const file of sources) texts.push(repo.readFile(joinRelative(artifact.context, file)) ?? '');
        }
        if (!texts.some((text) => mentions.test(text))) {
          problems.push(
            `${label(workload.manifest)} container ${container.name}: the persistent volume ${mount.name} is mounted at ${mountPath}, but nothing tells the process to use ${mountPath} (not in its env, args, ConfigMap, Dockerfile or ${artifact ? workspaceOf(artifact) : 'its'} sources): what it should keep is lost on restart`,
          );
        }
      }
    }
  }
  return problems;
}
