// Records every module a Node process loads, for start-up tests (test/integration/cli-startup)
// and bench/startup.mjs. Use: node --import ./test/support/module-trace.mjs … with
// MODULE_TRACE_FILE=/path set. Written to the file, one per line:
//   esm <url>      every ESM resolution (also the first require of a CJS package from ESM)
//   cjs <path>     every CommonJS module in require.cache at exit (the SDK's internals)
//   rss <bytes>    the peak resident set size at exit
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.MODULE_TRACE_FILE;
if (file) {
  const hooks = `
    import { appendFileSync } from 'node:fs';
    let file;
    export function initialize(data) { file = data.file; }
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      appendFileSync(file, 'esm ' + r.url + '\\n');
      return r;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url, {
    data: { file },
  });
  const Module = createRequire(import.meta.url)('node:module');
  process.on('exit', () => {
    const cjs = Object.keys(Module._cache ?? {}).map((p) => `cjs ${p}`);
    appendFileSync(file, `${cjs.join('\n')}\nrss ${process.resourceUsage().maxRSS * 1024}\n`);
  });
}
