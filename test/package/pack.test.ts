/**
 * The package as a shop gets it: `npm pack`, unpacked into a project of its own, then
 * `import { defineConsumer } from 'orderflow'` run by plain `node` and type-checked by `tsc`
 * against the shipped declarations. Real child processes, nothing mocked.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** What the package's `exports`, `types` and `bin` point at: without them, build first. */
const BUILT_ENTRY = ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js'];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a non-zero exit is returned, not thrown. */
function run(file: string, args: readonly string[], cwd: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_PATH'];
  delete env['NODE_OPTIONS'];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 },
      (error, stdout, stderr) => {
        // A string code (ENOENT) or a kill (the timeout) means it did not run to its end.
        if (error && typeof error.code !== 'number') {
          reject(new Error(error.message, { cause: error }));
        } else {
          resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
        }
      },
    );
  });
}

async function mustRun(file: string, args: readonly string[], cwd: string): Promise<Run> {
  const result = await run(file, args, cwd);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

interface PackedPackage {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly bin?: Record<string, string>;
}

const CONSUMER_JS = `import { defineConsumer } from 'orderflow';

const definition = { name: 'fraud-review', on: ['COMPLETED'], handle: async () => {} };
const defined = defineConsumer(definition);
let rejected = '';
try {
  defineConsumer({ ...definition, name: 'not a name' });
} catch (error) {
  rejected = error.constructor.name;
}
console.log(
  JSON.stringify({
    same: defined === definition,
    name: defined.name,
    on: defined.on,
    rejected,
    resolved: import.meta.resolve('orderflow'),
  }),
);
`;

const CONSUMER_TS = `import { defineConsumer, type ConsumerDefinition } from 'orderflow';

export const fraudReview: ConsumerDefinition = defineConsumer({
  name: 'fraud-review',
  on: ['COMPLETED'],
  handle: async ({ order, once }) => {
    await once(\`review:\${order.orderId}\`, () => Promise.resolve());
  },
});
`;

/** Must not compile: proves the shipped types are real, not \`any\`. */
const WRONG_TS = `import { defineConsumer } from 'orderflow';

export const wrong = defineConsumer({ name: 'w', on: ['SHIPPED'], handle: () => Promise.resolve() });
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  },
  include: ['*.ts'],
};

describe('the packed package, installed in a project of its own', () => {
  let work: string;
  let consumer: string;
  let installed: string;
  let packedFiles: string[];
  let manifest: PackedPackage;

  beforeAll(async () => {
    if (BUILT_ENTRY.some((file) => !existsSync(path.join(REPO_ROOT, file)))) {
      await mustRun('npm', ['run', 'build'], REPO_ROOT);
    }
    work = await mkdtemp(path.join(os.tmpdir(), 'orderflow-pack-'));
    const packDir = path.join(work, 'pack');
    await mkdir(packDir);
    // --ignore-scripts: `prepare` would rebuild dist/ while other test files run the CLI
    // from it; dist/ is fresh here (built above, or by `npm test` before vitest).
    const packed = await mustRun(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir],
      REPO_ROOT,
    );
    const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    packedFiles = report.files.map((file) => file.path);

    consumer = path.join(work, 'consumer');
    installed = path.join(consumer, 'node_modules', 'orderflow');
    await mkdir(installed, { recursive: true });
    await writeFile(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'orderflow-consumer', private: true, type: 'module' }),
    );
    // Installed by hand, offline: npm's own install of the tarball would fetch the
    // package's dependencies' metadata from the registry (the npm cache holds tarballs,
    // not the metadata `--offline` needs), and it would rebuild better-sqlite3 from source.
    // So: unpack the tarball as npm does (its root folder is `package/`) into
    // node_modules/orderflow, then link each dependency the packed package.json declares
    // to the repo's installed copy. Node resolves a link to its real path, so the
    // dependencies' own dependencies come from the repo's tree; anything the package
    // imports without declaring it (a dev dependency) is not found: that fails here.
    // NODE_PATH would not do: ESM resolution ignores it.
    await mustRun(
      'tar',
      ['-xzf', path.join(packDir, report.filename), '-C', installed, '--strip-components=1'],
      work,
    );
    manifest = JSON.parse(
      await readFile(path.join(installed, 'package.json'), 'utf8'),
    ) as PackedPackage;
    for (const name of [...Object.keys(manifest.dependencies ?? {}), '@types/node']) {
      const target = path.join(REPO_ROOT, 'node_modules', name);
      if (!existsSync(target)) throw new Error(`dependency ${name} is not installed in the repo`);
      const link = path.join(consumer, 'node_modules', name);
      await mkdir(path.dirname(link), { recursive: true });
      await symlink(target, link, 'dir');
    }
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the built entry, its declarations, the CLI, the dashboard and the README, not the sources', () => {
    expect(manifest.name).toBe('orderflow');
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/workflow/define-consumer.js',
        'dist/src/cli/main.js',
        'dist/dashboard/index.html',
      ]),
    );
    const unwanted = packedFiles.filter(
      (file) =>
        /^(src|test|bench|examples|dashboard)\//.test(file) ||
        /^dist\/(?!src\/|dashboard\/)/.test(file),
    );
    expect(unwanted).toEqual([]);
  });

  it('loads under plain node by its name, and defineConsumer returns the definition', async () => {
    await writeFile(path.join(consumer, 'consumer.js'), CONSUMER_JS);
    const result = await mustRun(process.execPath, ['consumer.js'], consumer);
    const out = JSON.parse(result.stdout) as {
      same: boolean;
      name: string;
      on: string[];
      rejected: string;
      resolved: string;
    };
    expect(out).toEqual({
      same: true,
      name: 'fraud-review',
      on: ['COMPLETED'],
      rejected: 'TypeError',
      resolved: expect.any(String) as string,
    });
    expect(fileURLToPath(out.resolved)).toBe(path.join(installed, 'dist/src/index.js'));
  });

  it('type-checks a consumer against the shipped declarations, and rejects a wrong status', async () => {
    await writeFile(path.join(consumer, 'consumer.ts'), CONSUMER_TS);
    await writeFile(path.join(consumer, 'wrong.ts'), WRONG_TS);
    await writeFile(path.join(consumer, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer);
    const errors = result.stdout.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^wrong\.ts\(3,\d+\): error TS2322: .*"SHIPPED"/);
  });

  it('runs its `orderflow` bin', async () => {
    const bin = manifest.bin?.['orderflow'];
    expect(bin).toBeDefined();
    const file = path.join(installed, bin ?? '');
    expect((await readFile(file, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const result = await mustRun(process.execPath, [file, '--help'], consumer);
    expect(result.stdout).toContain('Usage: orderflow');
  });
});
