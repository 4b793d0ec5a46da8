import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * The options for node that dovewarden runs with (a smaller young generation: Node 26 grows it
 * to 64 MB, a third of the all-in-one's memory) are given in one place, the command's first
 * line; every other way to start it must pass the same.
 */
describe("node's options for dovewarden", () => {
  const shebang = readFileSync(join(__dirname, 'main.ts'), 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!\/usr\/bin\/env -S node (.+)$/.exec(shebang)?.[1]?.trim() ?? '';

  it("are in the command's first line, and that line starts it", () => {
    expect(flags).toMatch(/--max-semi-space-size=\d+/);
    const [env = '', ...args] = shebang.slice(2).split(' ');
    const result = spawnSync(env, [...args, MAIN, '--version'], {
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('are the same for the linked command (bin/dovewarden.js), which npm links at install', () => {
    const shim = join(__dirname, '..', 'bin', 'dovewarden.js');
    expect(readFileSync(shim, 'utf8').split('\n', 1)[0]).toBe(shebang);
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ dovewarden: 'bin/dovewarden.js' });
    // Executable as checked out, and it runs the built command.
    const result = spawnSync(shim, ['--version'], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('are the same for npm start and the image', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['start']).toContain(`node ${flags} apps/cli/dist/main.js all`);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? '';
    const argv = JSON.parse(entrypoint) as string[];
    expect(argv.slice(argv.indexOf('node'), argv.indexOf('/app/apps/cli/dist/main.js'))).toEqual([
      'node',
      ...flags.split(' '),
    ]);
  });
});
