import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { putFile, UploadRefusedError } from '../../src/restore/users/import/jobs.js';

// An HTTP server on loopback: an integration test (unit tests make no network calls).
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cv-upload-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('putFile PUTs the file with SSE-KMS and reports a refused URL', async () => {
  const file = path.join(dir, 'users-000.csv');
  const content = 'cognito:username,email\nu000,\nu001,\n';
  await writeFile(file, content);
  const seen: { header?: string; body: string }[] = [];
  let refuse = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ header: req.headers['x-amz-server-side-encryption'] as string, body });
      res.statusCode = refuse ? 403 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    await putFile(`http://127.0.0.1:${port}/up?sig=1`, file, new AbortController().signal);
    expect(seen[0]).toEqual({ header: 'aws:kms', body: content });
    refuse = true;
    await expect(
      putFile(`http://127.0.0.1:${port}/up`, file, new AbortController().signal),
    ).rejects.toBeInstanceOf(UploadRefusedError);
  } finally {
    server.close();
  }
});
