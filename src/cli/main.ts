#!/usr/bin/env node
// First: SIGINT/SIGTERM are handled (exit 130) from here on, while the commands load.
import './install-signals.js';
import { Command, CommanderError } from 'commander';
import { ExitCode, isVaultError } from '../core/errors.js';
import { TOOL_VERSION } from '../core/version.js';
import { registerBackup } from './backup.js';
import { COMMANDER_OUTPUT, EXIT_CODES_HELP, oneLine } from './common.js';
import { registerDemo } from './demo.js';
import { registerExportCsv } from './export-csv.js';
import { registerForget } from './forget.js';
import { registerDiff } from './diff.js';
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
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();
  registerBackup(program);
  registerVerify(program);
  registerList(program);
  registerPolicy(program);
  registerPrune(program);
  registerDemo(program);
  registerRestore(program);
  registerExportCsv(program);
  registerDiff(program);
  registerForget(program);
  for (const c of program.commands) c.addHelpText('after', EXIT_CODES_HELP).exitOverride();
  return program;
}

async function main(): Promise<void> {
  // Node 20 is supported until the SDK drops it; the SDK's own notice would clutter every run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      return;
    }
    if (isVaultError(e)) {
      process.stderr.write(`cognito-vault: error: ${oneLine(e.message)}\n`);
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
