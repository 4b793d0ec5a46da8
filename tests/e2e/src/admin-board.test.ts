import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { SyncQueue, createRedis } from '@dovewarden/shared';
import {
  DovewardenProcess,
  FakeDoveadm,
  SHARED_REDIS,
  deleteNamespace,
  freePorts,
  uniqueNamespace,
  dovewardenEnv,
  type Bound,
  describeIf,
  hangGuard,
  nodeStartReference,
  relativeBound,
  waitUntil,
} from '@dovewarden/testkit';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(__dirname, '..', 'output');

/**
 * An operator's path through Bull Board in a real headless Chromium: log in, find the user
 * whose sync failed, retry it, and see it complete.
 */
const chromiumMissing = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is missing (apt-get install chromium)`;

/** Hang guards, in bare node process starts on this machine (hangGuard). */
const TEST_TIMEOUT = hangGuard(2250);

describeIf('the browser test', chromiumMissing)('admin board in a browser', () => {
  it(
    'logs in, retries a failed user and sees it complete',
    async () => {
      // Waits on the worker and the page: multiples of one start of the dovewarden command.
      const start = await nodeStartReference();
      const within = (multiple: number): Bound => relativeBound(start, multiple);
      const namespace = uniqueNamespace('e2e-board');
      let failOnce = true;
      const fake = await FakeDoveadm.start({
        password: 'pw-doveadm',
        behaviour: (call) => {
          if (call.user === 'flaky@example.com' && failOnce) {
            failOnce = false;
            return 67;
          }
          return 'success';
        },
      });
      const [adminPort, adminOps, workerOps] = await freePorts(3);
      const common = {
        ...dovewardenEnv(namespace),
        DOVEWARDEN_DOVEADM_URL: fake.url,
        DOVEWARDEN_DOVEADM_PASSWORD: 'pw-doveadm',
        DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:1',
      };
      const worker = DovewardenProcess.start({
        args: ['worker'],
        env: { ...common, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}` },
        metricsPort: workerOps,
      });
      const admin = DovewardenProcess.start({
        args: ['admin'],
        env: {
          ...common,
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${adminOps}`,
          DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
          DOVEWARDEN_ADMIN_USER: 'ops',
          DOVEWARDEN_ADMIN_PASSWORD: 'board-pw-123',
        },
        metricsPort: adminOps,
      });
      const producer = createRedis(SHARED_REDIS, 'wait-for-redis', 'board-test');
      const queue = new SyncQueue(producer, namespace);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        await worker.waitUntilReady();
        await admin.waitUntilReady();
        await queue.enqueue({
          user: 'flaky@example.com',
          reason: { kind: 'manual' },
          requestedAt: Date.now(),
        });
        await waitUntil(
          async () => (await queue.queue.getFailedCount()) > 0,
          within(20),
          'the job to fail',
          50,
        );
        expect(await queue.queue.getFailedCount()).toBe(1);

        const context = await browser.newContext({
          httpCredentials: { username: 'ops', password: 'board-pw-123' },
        });
        const page = await context.newPage();
        await page.goto(`http://127.0.0.1:${adminPort}/queue/replication?status=failed`);
        await page
          .getByText('flaky@example.com')
          .first()
          .waitFor({ timeout: within(30).ms });
        mkdirSync(OUTPUT, { recursive: true });
        await page.screenshot({ path: join(OUTPUT, 'board-failed.png'), fullPage: true });
        // The job card's actions are icon buttons without labels; retry is the first of them.
        await page
          .locator('xpath=//button[normalize-space()="Clean all"]/following::button[1]')
          .click();
        const confirm = page.getByRole('button', { name: /^(Confirm|Yes|Retry)$/ });
        if (await confirm.count()) await confirm.first().click();

        await waitUntil(
          async () => (await queue.queue.getCompletedCount()) > 0,
          within(20),
          'the retried job to complete',
          50,
        );
        expect(await queue.queue.getCompletedCount()).toBe(1);
        expect(await queue.queue.getFailedCount()).toBe(0);

        await page.goto(`http://127.0.0.1:${adminPort}/queue/replication?status=completed`);
        await page
          .getByText('flaky@example.com')
          .first()
          .waitFor({ timeout: within(30).ms });
        mkdirSync(OUTPUT, { recursive: true });
        await page.screenshot({ path: join(OUTPUT, 'board-retry-completed.png'), fullPage: true });
        await context.close();
      } finally {
        await browser.close();
        expect((await worker.stop()).code).toBe(0);
        expect((await admin.stop()).code).toBe(0);
        await queue.queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
        await producer.quit();
        await fake.stop();
        await deleteNamespace(SHARED_REDIS, namespace);
      }
    },
    TEST_TIMEOUT.ms,
  );
});
