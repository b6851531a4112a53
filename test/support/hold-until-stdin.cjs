// Preloaded (node --require) into a CLI child process: blocks until one byte arrives on stdin,
// so a test can close the child's stdout (or stderr) before the CLI writes a single byte —
// the failed writes (EPIPE) then happen every run, not only when a reader wins a race.
const { Buffer } = require('node:buffer');
const fs = require('node:fs');

const buf = Buffer.alloc(1);
for (;;) {
  try {
    fs.readSync(0, buf, 0, 1, null);
    break;
  } catch (e) {
    if (e.code !== 'EAGAIN') throw e;
  }
}
