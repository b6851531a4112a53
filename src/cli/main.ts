#!/usr/bin/env node
// First: SIGINT/SIGTERM are handled (exit 130), and a closed stdout (`| head`) is no crash,
// from here on, while the commands load.
import './install-signals.js';
import { Command, CommanderError } from 'commander';
import { ExitCode, isVaultError } from '../core/errors.js';
import { TOOL_VERSION } from '../core/version.js';
import { registerBackup } from './backup.js';
import { COMMANDER_OUTPUT, ENV_HELP, EXIT_CODES_HELP, oneLine } from './common.js';
import { registerDemo } from './demo.js';
import { registerExportCsv } from './export-csv.js';
import { registerForget } from './forget.js';
import { registerDiff } from './diff.js';
import { registerDrill } from './drill.js';
import { registerList } from './list.js';
import { registerPolicy } from './policy.js';
import { registerPrune } from './prune.js';
import { registerRestore } from './restore.js';
import { registerVerify } from './verify.js';

export function buildProgram(): Command {
  const program = new Command('cognito-vault')
    .description('Backup and restore for Amazon Cognito user pools')
    .version(TOOL_VERSION)
    .configureOutput(COMMANDER_OUTPUT)
    .addHelpText('after', ENV_HELP)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    // Which option values came from COGNITO_VAULT_* (common.ts: an environment default for
    // the bucket owner or KMS key is ignored for a local directory; the flag is an error).
    .hook('preAction', (_program, action) => {
      const sourced = new Set(
        action.options
          .map((o) => o.attributeName())
          .filter((name) => action.getOptionValueSource(name) === 'env'),
      );
      Object.defineProperty(action.opts(), 'envSourced', { value: sourced, enumerable: false });
    });
  registerBackup(program);
  registerVerify(program);
  registerList(program);
  registerPolicy(program);
  registerPrune(program);
  registerDemo(program);
  registerRestore(program);
  registerExportCsv(program);
  registerDiff(program);
  registerDrill(program);
  registerForget(program);
  for (const c of program.commands) c.addHelpText('after', EXIT_CODES_HELP).exitOverride();
  return program;
}

/** `--json` among the arguments (before a `--`): errors found while parsing are JSON too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** A parse-time failure as runCommand prints a run's: `{"error": {…}}` on stdout. */
function printJsonError(code: string, message: string, exitCode: number): void {
  process.stdout.write(
    `${JSON.stringify({ error: { code, message, exitCode, context: {} } }, null, 2)}\n`,
  );
}

async function main(): Promise<void> {
  // Node 20 is supported until the SDK drops it; the SDK's own notice would clutter every run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    const json = wantsJson(process.argv.slice(2));
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      // Help and --version end with exit code 0 and print no error.
      if (json && e.exitCode !== 0)
        printJsonError(
          `USAGE_${e.code
            .replace(/^commander\./, '')
            .replace(/[A-Z]/g, (c) => `_${c}`)
            .toUpperCase()}`,
          oneLine(e.message.replace(/^error:\s*/, '')),
          ExitCode.Usage,
        );
      return;
    }
    if (isVaultError(e)) {
      process.stderr.write(`cognito-vault: error: ${oneLine(e.message)}\n`);
      if (json) printJsonError(e.code, oneLine(e.message), e.exitCode);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(
      `cognito-vault: error: unexpected failure: ${e instanceof Error ? e.name : 'error'}\n`,
    );
    process.exitCode = ExitCode.Unexpected;
  }
}

await main();
