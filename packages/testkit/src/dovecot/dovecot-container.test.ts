/** The backend choice, one fresh module per case: it is decided once per process. */
function backendWith(env: string | undefined): () => string {
  return () => {
    const saved = process.env.DOVEWARDEN_DOVECOT_BACKEND;
    if (env === undefined) delete process.env.DOVEWARDEN_DOVECOT_BACKEND;
    else process.env.DOVEWARDEN_DOVECOT_BACKEND = env;
    try {
      let chosen = '';
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const module = require('./dovecot-container') as typeof import('./dovecot-container');
        chosen = module.defaultDovecotBackend();
      });
      return chosen;
    } finally {
      if (saved === undefined) delete process.env.DOVEWARDEN_DOVECOT_BACKEND;
      else process.env.DOVEWARDEN_DOVECOT_BACKEND = saved;
    }
  };
}

describe('defaultDovecotBackend', () => {
  it('takes the backend DOVEWARDEN_DOVECOT_BACKEND names', () => {
    expect(backendWith('chroot')()).toBe('chroot');
    expect(backendWith('container')()).toBe('container');
  });

  it('refuses any other name, saying which there are', () => {
    expect(backendWith('vm')).toThrow('DOVEWARDEN_DOVECOT_BACKEND=vm: use chroot or container');
  });

  it('picks the container when a Docker engine answers, else the chroot', () => {
    const { dockerMissing } =
      jest.requireActual<typeof import('./dovecot-container')>('./dovecot-container');
    expect(backendWith(undefined)()).toBe(dockerMissing() === null ? 'container' : 'chroot');
  });
});
