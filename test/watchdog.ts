/*
 * Loaded into every test process (`node --test --import ./test/watchdog.ts`): a test file whose
 * tests are all done but that still holds a handle (a server or child process a failed test did not
 * stop) exits a minute later with its own result instead of hanging the run. (`--test-force-exit` is not
 * used: in the parent runner it ends the run before every file has reported.)
 */

import { after } from 'node:test';

after(() => {
  setTimeout(() => {
    process.stderr.write('test/watchdog.ts: this test file still held handles a minute after its last test; exiting\n');
    process.exit(process.exitCode ?? 0);
  }, 60_000).unref();
});
