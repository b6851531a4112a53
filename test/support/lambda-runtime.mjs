// One Lambda invocation of a Node.js function, as AWS Lambda's Node.js runtime makes it — run by
// test/support/moto-sfn-server.py for each invocation the Step Functions interpreter makes.
//
//   node lambda-runtime.mjs CODE_DIR HANDLER TIMEOUT_MS RESULT_FILE   (the event on stdin)
//
// Rules, from AWS's documentation and the runtime interface client
// (aws-lambda-nodejs-runtime-interface-client):
// - HANDLER is `file.export`: the module is CODE_DIR/file with .js, .mjs or .cjs; a missing
//   export is Runtime.HandlerNotFound, a module that fails to load Runtime.ImportModuleError.
// - The handler gets (event, context); context.getRemainingTimeInMillis() counts down from the
//   function's timeout.
// - A returned value is the response (undefined → null). A thrown error becomes the error
//   document { errorType: error.name, errorMessage: error.message, trace: stack lines }
//   (Errors.toRapidResponse); Step Functions uses errorType as the error name its Retry and
//   Catch match.
// - At the timeout the invocation ends with Sandbox.Timedout ("Task timed out after N seconds").
// The outcome goes to RESULT_FILE as { ok, result } or { ok: false, error }; stdout and stderr
// are the function's log.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { pathToFileURL } from 'node:url';

const [codeDir, handlerSpec, timeoutText, resultFile] = process.argv.slice(2);
const timeoutMs = Number(timeoutText);
const deadline = Date.now() + timeoutMs;

const finish = (outcome) => {
  writeFileSync(resultFile, JSON.stringify(outcome));
  process.exit(0);
};
const toRapidResponse = (e) =>
  e instanceof Error
    ? { errorType: e.name, errorMessage: e.message, trace: String(e.stack ?? '').split('\n') }
    : { errorType: typeof e, errorMessage: String(e), trace: [] };

const timer = setTimeout(
  () =>
    finish({
      ok: false,
      error: {
        errorType: 'Sandbox.Timedout',
        errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
      },
    }),
  timeoutMs,
);

const dot = handlerSpec.lastIndexOf('.');
const file = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);
const modulePath = ['.js', '.mjs', '.cjs']
  .map((ext) => path.join(codeDir, file + ext))
  .find((p) => existsSync(p));

let handler;
try {
  if (!modulePath) throw new Error(`Cannot find module '${file}'`);
  handler = (await import(pathToFileURL(modulePath).href))[exportName];
} catch (e) {
  finish({
    ok: false,
    error: { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${e.message}` },
  });
}
if (typeof handler !== 'function') {
  finish({
    ok: false,
    error: {
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${handlerSpec} is undefined or not exported`,
    },
  });
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const text = Buffer.concat(chunks).toString('utf8');
const event = text ? JSON.parse(text) : null;
const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
const context = {
  functionName: name,
  functionVersion: '$LATEST',
  invokedFunctionArn: process.env.AWS_LAMBDA_FUNCTION_ARN ?? '',
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${name}`,
  logStreamName: `local/${randomUUID()}`,
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
try {
  const result = await handler(event, context);
  clearTimeout(timer);
  finish({ ok: true, result: result === undefined ? null : result });
} catch (e) {
  clearTimeout(timer);
  finish({ ok: false, error: toRapidResponse(e) });
}
