import {
  ensureDovecot24,
  missingCommand,
  requireDovecotOrSkip,
  requireOrSkip,
} from './availability';

describe('requireDovecotOrSkip', () => {
  const savedCi = process.env.CI;

  beforeEach(() => {
    // As a non-root user, nothing is built or started, so this runs anywhere.
    jest.spyOn(process, 'getuid').mockReturnValue(1000);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it('skips with one loud line when Dovecot cannot run', async () => {
    delete process.env.CI;
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    // The chroot backend, whatever this machine would pick: it is the one that needs root.
    expect(requireDovecotOrSkip('2.4', 'chroot')).toBe(false);
    expect(requireDovecotOrSkip('2.4', 'chroot')).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(
      /^SKIPPING end-to-end tests: Dovecot 2\.4 \(chroot\) unavailable: .*needs root/,
    );
    expect(await ensureDovecot24()).toMatchObject({ ok: false });
  });

  it('fails instead under CI=true', () => {
    process.env.CI = 'true';
    let thrown: unknown;
    try {
      requireDovecotOrSkip('2.3');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ name: 'DovecotError', code: 'DOVECOT_UNAVAILABLE' });
  });

  it('applies the same rule to any other dependency: one loud line, or a failure under CI=true', () => {
    delete process.env.CI;
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const missing = missingCommand('no-such-command-dovewarden', 'apt-get install nothing');
    expect(missing).toMatch(/no-such-command-dovewarden is not on PATH/);
    expect(requireOrSkip('the widget test', missing)).toBe(false);
    expect(requireOrSkip('the widget test', missing)).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toBe(`SKIPPING the widget test: ${missing}`);
    expect(requireOrSkip('the widget test', missingCommand('sh', 'always there'))).toBe(true);
    process.env.CI = 'true';
    expect(() => requireOrSkip('the widget test', missing)).toThrow(
      /^CI=true and SKIPPING the widget test: /,
    );
  });
});
