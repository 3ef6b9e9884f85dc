/**
 * `npm run test:containers` — builds the real images with podman and runs the blog as containers the way
 * the manifests describe the pods, on a machine with no Docker engine and no registry (CI runs it after
 * `npm test`):
 *
 *   1. installs podman, runc and debootstrap from Debian when missing;
 *   2. makes a stand-in for the Node base image the Dockerfiles name (base.ts), unless one is kept;
 *   3. builds every image's production target and one image's dev target (images.ts);
 *   4. runs the five services and the client as containers on loopback, as the manifests say (plan.ts,
 *      stack.ts), and checks each one's probes, user, capabilities, read-only root and, where the service
 *      needs it, that better-sqlite3 loads (inspect.ts);
 *   5. runs the API flow and the browser test against them (flow.test.ts);
 *   6. stops each with SIGTERM and checks it exits 0 within its grace period;
 *   7. prints the image sizes and build times, and removes what it made except the cache (cache.ts).
 *
 * Options: --fresh (delete the cache first: a first run on a new machine), --rebuild (build every image
 * even if its inputs did not change), --purge (delete the cache at the end), --jobs=N (builds at a time,
 * default 2: on 2 cores one build's file copying overlaps the other's npm and tsc), --dev-image=blog/posts
 * (whose dev target to build and run; default blog/client).
 * BLOG_CONTAINERS_CACHE moves the cache; BLOG_CONTAINERS_STORAGE_DRIVER picks podman's driver (vfs).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePorts, http, waitFor } from '@blog/testkit';
import { ROOT } from '@blog/stack';
import { baseImageSpec, makeBaseImage, recipeKey } from './base';
import { cacheLayout, loadState, podmanStore, saveState, type CacheLayout } from './cache';
import { assertRoot, ensureTools, npmRegistry, trustedCertificates } from './host';
import { buildImages, externalBases, plannedBuilds, type BuiltImage } from './images';
import { checkContainer, stopContainer, type ContainerReport, type StopReport } from './inspect';
import { containerPlans, localEnv } from './plan';
import { formatSize, Podman } from './podman';
import { run, seconds, stopChildren } from './proc';
import { CONTAINER_PREFIX, ContainerStack, portIsFree, type ContainerSpec } from './stack';

interface Options {
  fresh: boolean;
  rebuild: boolean;
  purge: boolean;
  jobs: number;
  devImage: string;
  driver: string;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    fresh: false,
    rebuild: false,
    purge: false,
    jobs: 2,
    devImage: 'blog/client',
    driver: process.env.BLOG_CONTAINERS_STORAGE_DRIVER || 'vfs',
  };
  for (const arg of argv) {
    const [flag, value] = arg.split('=', 2);
    if (flag === '--fresh') options.fresh = true;
    else if (flag === '--rebuild') options.rebuild = true;
    else if (flag === '--purge') options.purge = true;
    else if (flag === '--jobs' && value && /^[1-9]\d*$/.test(value)) options.jobs = Number(value);
    else if (flag === '--dev-image' && value) options.devImage = value;
    else throw new Error(`unknown option ${arg} (see the top of tools/containers/src/main.ts)`);
  }
  return options;
}

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const started = Date.now();
const log = (line = '') => console.log(line);
const section = (title: string) => log(`\n== ${title} (${seconds(Date.now() - started)} s)`);

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(headers), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Containers left by a run that was interrupted, and the run's scratch folders. */
async function removeLeftovers(podman: Podman, layout: CacheLayout): Promise<void> {
  if (existsSync(layout.storage)) {
    // Ours, and the working containers of a build that was killed (which only `--external` lists).
    const names = await podman.containers({ external: true });
    if (names.length > 0) {
      log(`  removing containers left by an interrupted run: ${names.join(', ')}`);
      await podman.run(['rm', '--force', '--time', '0', ...names]);
    }
  }
  rmSync(layout.tmp, { recursive: true, force: true });
}

/** The npm settings and CA bundle every build's `npm ci` gets (mounted at /usr/local/etc, see images.ts). */
async function writeBuildConfig(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const { pem, sources } = await trustedCertificates();
  writeFileSync(path.join(dir, 'blog-ci-ca.crt'), pem);
  const registry = await npmRegistry();
  writeFileSync(
    path.join(dir, 'npmrc'),
    [
      '# Written by tools/containers for builds on this machine only; never part of an image.',
      `registry=${registry}`,
      'cafile=/usr/local/etc/blog-ci-ca.crt',
      'cache=/mnt',
      'update-notifier=false',
      'fund=false',
      'audit=false',
      '',
    ].join('\n'),
  );
  return sources;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  assertRoot();
  const layout = cacheLayout();
  const podman = new Podman(podmanStore(layout, options.driver));
  const removeScratch = () => {
    rmSync(layout.tmp, { recursive: true, force: true });
    rmSync(layout.run, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: removing the containers and scratch folders of the container step`);
      stopChildren();
      podman.removeAllContainersNow();
      removeScratch();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    return await containerStep(options, layout, podman);
  } finally {
    removeScratch();
    if (options.purge) rmSync(layout.root, { recursive: true, force: true });
  }
}

async function containerStep(options: Options, layout: CacheLayout, podman: Podman): Promise<number> {
  const failures: string[] = [];
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  log(
    `Container step: cache ${layout.root}, podman storage driver ${options.driver}, logs in ${path.relative(ROOT, ARTIFACTS)}/`,
  );

  // ---- 1. tools ----
  section('1. podman, runc, debootstrap');
  const installed = await ensureTools(path.join(ARTIFACTS, 'apt.log'));
  log(installed.length > 0 ? `  installed ${installed.join(', ')}` : '  already installed');
  log(
    `  ${(await run('podman', ['--version'])).stdout.trim()}, ${(await run('runc', ['--version'])).stdout.split('\n')[0] ?? ''}`,
  );
  if (options.fresh && existsSync(layout.root)) {
    log(`  --fresh: deleting ${layout.root}`);
    await removeLeftovers(podman, layout);
    rmSync(layout.root, { recursive: true, force: true });
  }
  for (const dir of [layout.storage, layout.npm, layout.tmp]) mkdirSync(dir, { recursive: true });
  await removeLeftovers(podman, layout);
  const state = loadState(layout);

  // ---- 2. the base image ----
  section('2. base image');
  const builds = plannedBuilds(options.devImage);
  const bases = externalBases(builds);
  if (bases.length !== 1 || !bases[0])
    throw new Error(
      `the Dockerfiles build FROM ${bases.join(', ') || 'nothing'}; the container step stands in for exactly one base image`,
    );
  const spec = baseImageSpec(bases[0]);
  const baseStarted = Date.now();
  const keptBase = state.base?.key === recipeKey(spec) ? await podman.image(spec.name) : undefined;
  let baseSeconds: number | undefined;
  if (keptBase && keptBase.id === state.base?.id) {
    log(
      `  ${spec.name}: kept stand-in ${keptBase.id.slice(0, 12)} (Node ${state.base.nodeVersion}, ${formatSize(keptBase.size)})`,
    );
  } else {
    log(
      `  ${spec.name}: making the stand-in (debootstrap ${spec.suite} minbase, Node ${spec.nodeMajor} and npm ${spec.npmMajor} from the npm registry)`,
    );
    state.base = await makeBaseImage(podman, spec, {
      workDir: path.join(layout.tmp, 'base'),
      npmCache: layout.npm,
      logFile: path.join(ARTIFACTS, 'base.log'),
    });
    state.images = {}; // built on another base
    saveState(layout, state);
    baseSeconds = (Date.now() - baseStarted) / 1000;
    log(
      `  made ${state.base.id.slice(0, 12)} with Node ${state.base.nodeVersion} in ${seconds(Date.now() - baseStarted)} s`,
    );
  }
  const base = await podman.image(spec.name);
  if (!base) throw new Error(`${spec.name} is missing from the store`);

  // ---- 3. the images ----
  section(`3. images (${builds.length} builds, ${options.jobs} at a time)`);
  const npmConfigDir = path.join(layout.tmp, 'build-etc');
  const caSources = await writeBuildConfig(npmConfigDir);
  log(`  npm in the builds trusts Node's CAs plus ${caSources.join(', ') || 'nothing else'}; cache ${layout.npm}`);
  const buildsStarted = Date.now();
  let built: BuiltImage[];
  try {
    built = await buildImages(builds, {
      podman,
      baseId: base.id,
      mounts: { npmConfigDir, npmCache: layout.npm },
      state,
      jobs: options.jobs,
      force: options.rebuild,
      logDir: ARTIFACTS,
      log,
    });
  } finally {
    saveState(layout, state);
  }
  const buildSeconds = (Date.now() - buildsStarted) / 1000;

  // ---- 4. the containers ----
  section('4. containers');
  const production = built.filter((image) => image.build.target === 'production');
  const { manifests, containers: plans } = containerPlans(production.map((image) => image.build.image));
  const wanted = plans.map((plan) => plan.containerPort);
  const manifestPortsFree = (await Promise.all(wanted.map(portIsFree))).every(Boolean);
  const [devPort = 0, ...spare] = await freePorts(plans.length + 1);
  const ports = manifestPortsFree ? wanted : spare;
  if (!manifestPortsFree)
    log(`  some of the manifests' ports (${wanted.join(', ')}) are taken here: using ${ports.join(', ')}`);
  const portOf = (name: string) => ports[plans.findIndex((plan) => plan.name === name)];
  const specs: ContainerSpec[] = plans.map((plan, index) => {
    const port = ports[index] ?? 0;
    return {
      plan,
      name: `${CONTAINER_PREFIX}${plan.name}`,
      tag: plan.image,
      port,
      env: localEnv(plan, port, portOf, manifests),
    };
  });
  const devBuild = built.find((image) => image.build.target === 'dev');
  const devPlan = plans.find((plan) => plan.image === devBuild?.build.image);
  const devSpec: ContainerSpec | undefined =
    devBuild && devPlan
      ? {
          plan: devPlan,
          name: `${CONTAINER_PREFIX}${devPlan.name}-dev`,
          tag: devBuild.build.tag,
          port: devPort,
          env: localEnv(devPlan, devPort, portOf, manifests),
        }
      : undefined;

  const stack = new ContainerStack(podman, path.join(layout.tmp, 'volumes'), path.join(ARTIFACTS, 'logs'));
  const reports: ContainerReport[] = [];
  const stops: StopReport[] = [];
  const readyMs = new Map<string, number>();
  let flowPassed = false;
  try {
    const startAll = Date.now();
    await Promise.all(specs.map((spec) => stack.start(spec)));
    log(`  started ${specs.length} containers in ${seconds(Date.now() - startAll)} s`);
    await Promise.all(specs.map(async (spec) => readyMs.set(spec.name, await stack.waitReady(spec))));
    log(`  all ready ${seconds(Date.now() - startAll)} s after the first start`);
    if (devSpec) {
      const devStarted = Date.now();
      await stack.start(devSpec);
      readyMs.set(devSpec.name, await stack.waitReady(devSpec));
      // The dev client serves the page through Vite's dev server, which starts after /readyz already says 200.
      if (devSpec.plan.name === 'client') {
        let last = 'no answer';
        const url = `${stack.url(devSpec)}/`;
        const viteMs = await waitFor(
          async () => {
            const page = await http(url);
            last = `HTTP ${page.status} ${page.text.slice(0, 80)}`;
            return page.status === 200 && page.text.includes('/@vite/client') && Date.now();
          },
          {
            what: `${devSpec.name} to serve Vite's dev page`,
            timeoutMs: devSpec.plan.startupBudgetMs,
            detail: () => `last GET /: ${last}`,
          },
        ).catch((err: unknown) => {
          failures.push(`${devSpec.name}: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        });
        if (viteMs !== undefined)
          log(`  ${devSpec.name}: Vite's dev page served ${seconds(viteMs - devStarted)} s after the start`);
      }
    }
    for (const spec of [...specs, ...(devSpec ? [devSpec] : [])]) {
      const report = await checkContainer(podman, spec, stack.url(spec));
      reports.push(report);
      for (const problem of report.problems) failures.push(`${spec.name}: ${problem}`);
    }
    log(
      table(
        [
          'container',
          'image',
          'port',
          'ready after',
          'probes',
          'uid:gid',
          'PID 1',
          'root fs',
          'writable',
          'caps',
          'sqlite',
          'checks',
        ],
        reports.map((report) => {
          const spec = [...specs, devSpec].find((candidate) => candidate?.name === report.name);
          return [
            report.name,
            spec?.tag ?? '',
            String(spec?.port ?? ''),
            `${seconds(readyMs.get(report.name) ?? 0)} s`,
            `${report.health}/${report.ready}`,
            `${report.facts.uid}:${report.facts.gid}`,
            report.facts.argv.join(' ').slice(0, 48),
            report.facts.rootReadOnly ? 'read-only' : 'WRITABLE',
            report.facts.writable.join(' ') || '-',
            /[^0]/.test(report.facts.capEff) ? report.facts.capEff : 'none',
            report.sqlite ?? '-',
            report.problems.length === 0 ? 'ok' : `${report.problems.length} FAILED`,
          ];
        }),
      ),
    );

    // ---- 5. the flow ----
    section('5. API flow and browser test against the containers');
    const client = specs.find((spec) => spec.plan.name === 'client');
    const bus = specs.find((spec) => spec.plan.name === 'event-bus');
    if (!client || !bus) throw new Error('the manifests run no client or no event-bus');
    const jest = await run(
      process.execPath,
      [
        require.resolve('jest/bin/jest', { paths: [ROOT] }),
        '--config',
        path.join(__dirname, '..', 'jest.config.js'),
        '--ci',
      ],
      {
        cwd: ROOT,
        inherit: true,
        env: {
          ...process.env,
          BLOG_URL: stack.url(client),
          BLOG_EVENT_BUS_URL: stack.url(bus),
          BLOG_EVENTS_TOKEN: bus.plan.env.EVENTS_TOKEN ?? '',
          BLOG_ARTIFACTS: ARTIFACTS,
        },
      },
    );
    flowPassed = jest.code === 0;
    if (!flowPassed) failures.push(`the flow against the containers failed (jest exit ${jest.code ?? jest.signal})`);

    // ---- 6. SIGTERM ----
    section('6. SIGTERM');
    // Everything that talks to the bus first, then the bus, as a rollout would drain them.
    const last = specs.filter((spec) => spec.plan.name === 'event-bus');
    const first = [...specs.filter((spec) => !last.includes(spec)), ...(devSpec ? [devSpec] : [])];
    for (const group of [first, last])
      stops.push(...(await Promise.all(group.map((spec) => stopContainer(podman, spec)))));
    for (const stop of stops) {
      const grace = [...specs, devSpec].find((spec) => spec?.name === stop.name)?.plan.graceSeconds ?? 0;
      if (stop.killed) failures.push(`${stop.name}: still running ${grace} s after SIGTERM; it had to be killed`);
      else if (stop.exitCode !== 0)
        failures.push(`${stop.name}: exited with ${stop.exitCode ?? 'no exit code'} after SIGTERM, expected 0`);
    }
    log(
      table(
        ['container', 'grace period', 'exited after', 'exit code', 'SIGKILL needed'],
        stops.map((stop) => [
          stop.name,
          `${[...specs, devSpec].find((spec) => spec?.name === stop.name)?.plan.graceSeconds ?? '?'} s`,
          `${stop.seconds.toFixed(1)} s`,
          String(stop.exitCode ?? '-'),
          stop.killed ? 'YES' : 'no',
        ]),
      ),
    );
  } finally {
    await stack.remove();
  }

  // ---- 7. sizes, times, cleanup ----
  section('7. images and build times');
  const imageRows = [
    [
      `${spec.name} (stand-in)`,
      'base',
      formatSize(base.size),
      baseSeconds === undefined ? 'kept' : `${seconds(baseSeconds * 1000)} s`,
    ],
    ...built.map((image) => [
      image.build.tag,
      image.build.target,
      formatSize(image.size),
      image.seconds === undefined ? 'kept' : `${seconds(image.seconds * 1000)} s`,
    ]),
  ];
  const imageTable = table(['image', 'target', 'size', 'build'], imageRows);
  log(imageTable);
  const rebuilt = built.filter((image) => image.seconds !== undefined).length;
  const timeLine = `Total build time: ${seconds(buildSeconds * 1000)} s for ${rebuilt} of ${built.length} images${baseSeconds === undefined ? '' : `, plus ${seconds(baseSeconds * 1000)} s for the base image`}.`;
  log(timeLine);

  const keep = new Set([base.id, ...built.map((image) => image.id)]);
  const stale = (await podman.images()).filter((image) => !keep.has(image.id));
  if (stale.length > 0) await podman.run(['rmi', '--force', ...stale.map((image) => image.id)]);
  log(
    options.purge
      ? `Removing the containers, the scratch folders and the whole cache (${layout.root}).`
      : `Removed the containers and ${stale.length} stale image(s); removing the scratch folders; kept for the next run: ${layout.root} (${formatSize(await folderSize(layout.storage))} of images, ${formatSize(await folderSize(layout.npm))} of npm cache; delete the folder to start over).`,
  );

  writeFileSync(path.join(ARTIFACTS, 'summary.md'), `${imageTable}\n\n${timeLine}\n`);
  const total = `${seconds(Date.now() - started)} s`;
  if (failures.length > 0) {
    log(`\nContainer step FAILED after ${total}:\n${failures.map((failure) => `  - ${failure}`).join('\n')}`);
    return 1;
  }
  log(
    `\nContainer step passed in ${total}: ${built.length} images, ${reports.length} containers checked, the flow ${flowPassed ? 'passed' : 'did not run'}, ${stops.length} clean SIGTERM exits.`,
  );
  return 0;
}

async function folderSize(dir: string): Promise<number> {
  const result = await run('du', ['-sb', dir]);
  return Number(result.stdout.split(/\s/)[0]) || 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(
      `\nContainer step FAILED after ${seconds(Date.now() - started)} s: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exitCode = 1;
  },
);
