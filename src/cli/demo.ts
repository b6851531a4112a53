import { type Command, InvalidArgumentError } from 'commander';
import { runDemo } from '../demo/run.js';
import {
  addOutputOptions,
  addRateOptions,
  type CommonFlags,
  rateOptions,
  runCommand,
} from './common.js';

interface DemoFlags extends CommonFlags {
  users: number;
  groups: number;
  dir: string;
}

function positiveInt(max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return n;
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description(
      'the whole round trip on a local emulator (moto), no AWS account: seed a pool, back it up, restore it into a new pool, compare the two by API',
    )
    .option('--users <n>', 'users in the seeded pool', positiveInt(100_000), 2000)
    .option(
      '--groups <n>',
      'groups in the seeded pool (> 60 exercises paging)',
      positiveInt(1000),
      70,
    )
    .option('--dir <dir>', 'where the snapshot and the restore state go', './cognito-vault-demo');
  addRateOptions(cmd);
  addOutputOptions(cmd);
  cmd.action(async (flags: DemoFlags) => {
    await runCommand(
      flags,
      async ({ signal, progress }) => {
        const custom = flags.rateShare !== undefined || (flags.maxRps?.length ?? 0) > 0;
        return runDemo({
          users: flags.users,
          groups: flags.groups,
          dir: flags.dir,
          ...(custom ? { rate: rateOptions(flags) } : {}),
          signal,
          onProgress: progress,
        });
      },
      (r, say) => {
        const c = r.comparison.summary;
        say('');
        say(`cognito-vault demo — round trip on a local emulator (${r.emulator}, stopped now)`);
        say(
          `  seeded     ${r.sourceUserPoolId}: ${r.seeded.users} users (${r.seeded.disabled} disabled), ${r.seeded.groups} groups, ${r.seeded.memberships} memberships, 2 app clients, 1 identity provider, 1 resource server  [${seconds(r.durationMs.seed)}]`,
        );
        say(
          `  backed up  ${r.backup.users} users, ${r.backup.groups} groups, ${r.backup.memberships} memberships, ${r.backup.clients} clients, ${r.backup.identityProviders} IdPs, ${r.backup.resourceServers} resource servers  [${seconds(r.durationMs.backup)}]`,
        );
        say(
          `  restored   into new pool ${r.restoredUserPoolId}: ${r.restore.users.created} users created, ${r.restore.users.failed} failed, ${r.restore.disabled} disabled again, ${r.restore.memberships} memberships, ${r.restore.clients} clients (new ids), ${r.restore.signIn.confirmed} CONFIRMED with a random password and ${r.restore.signIn.forceChangePassword} never-confirmed left FORCE_CHANGE_PASSWORD (status checked), no message sent to anyone  [${seconds(r.durationMs.restore)}]`,
        );
        say(
          `  compared   by API: ${r.comparison.equal ? 'IDENTICAL' : `${r.comparison.differenceCount} DIFFERENCES`} — ${c.users.matched}/${c.users.a} users matched attribute by attribute, ${c.memberships.b}/${c.memberships.a} memberships, ${c.groups.b}/${c.groups.a} groups${c.subMap ? `, sub map ${c.subMap.checked - c.subMap.wrong}/${c.subMap.entries} correct` : ''}  [${seconds(r.durationMs.compare)}]`,
        );
        say(`  snapshot   ${r.snapshot}`);
        say(`  sub map    ${r.subMap}   (old sub → new sub, for your application's data)`);
        say(`  client map ${r.clientMap}`);
        for (const w of r.restore.warnings) say(`  note       ${w}`);
        if (c.settingsNotCompared?.length) {
          say(
            `  note       not compared (the emulator does not return them): ${c.settingsNotCompared.join(', ')}`,
          );
        }
        if (r.requestValidation) {
          say(
            `  API model  ${r.requestValidation.checked} Cognito requests checked against Cognito's API model: ${r.requestValidation.violations.length} violations`,
          );
          for (const v of r.requestValidation.violations) say(`  violation  ${v}`);
        }
        say(
          `  total ${seconds(r.durationMs.total)}; the emulator enforces no Cognito quotas — \`npm run bench\` measures quota-paced runs.`,
        );
      },
    );
  });
}
