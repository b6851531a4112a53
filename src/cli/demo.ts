import { type Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { USERS_PATHS, type UsersPath } from '../restore/users/path.js';
import {
  addOutputOptions,
  addRateOptions,
  type CommonFlags,
  rateOptions,
  runCommand,
} from './common.js';
import { parseInteger, parseLocalDir } from './validate.js';

interface DemoFlags extends CommonFlags {
  usersPath?: string;
  users: number;
  groups: number;
  dir: string;
}

const positiveInt = (max: number) => parseInteger(1, max);

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
    .addOption(
      new Option('--dir <dir>', 'where the snapshot and the restore state go')
        .default('./cognito-vault-demo')
        .argParser(parseLocalDir('--dir')),
    )
    .addOption(
      new Option(
        '--users-path <path>',
        'how the restore writes users: auto (import jobs, the recommended path), import-job, admin-create',
      )
        .default('auto')
        .choices([...USERS_PATHS]),
    );
  addRateOptions(cmd);
  addOutputOptions(cmd);
  cmd.action(async (flags: DemoFlags) => {
    await runCommand(
      flags,
      async ({ signal, progress }) => {
        const [{ assertWritableDir }, { runDemo }, { loadTestbed }] = await Promise.all([
          import('../storage/local.js'),
          import('../demo/run.js'),
          import('../demo/testbed.js'),
        ]);
        // From an installed package: says it needs a clone before anything is written.
        await loadTestbed();
        await assertWritableDir(flags.dir, '--dir');
        const custom = flags.rateShare !== undefined || (flags.maxRps?.length ?? 0) > 0;
        const usersPath = flags.usersPath ?? 'auto';
        if (!(USERS_PATHS as readonly string[]).includes(usersPath)) {
          throw new UsageError(
            'BAD_FLAG',
            `--users-path expects ${USERS_PATHS.join(', ')}, got "${usersPath}"`,
          );
        }
        return runDemo({
          users: flags.users,
          usersPath: usersPath as UsersPath,
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
          `  restored   into new pool ${r.restoredUserPoolId} (--users ${r.restore.usersPath}): ${r.restore.users.imported} users imported by ${r.restore.importJobs.length} CSV import job(s) (RESET_REQUIRED), ${r.restore.users.created} created with AdminCreateUser (${r.restore.signIn.confirmed} CONFIRMED with a random password, ${r.restore.signIn.forceChangePassword} never-confirmed left FORCE_CHANGE_PASSWORD), ${r.restore.users.failed} failed, ${r.restore.disabled} disabled again, ${r.restore.memberships} memberships, ${r.restore.clients} clients (new ids), no message sent to anyone  [${seconds(r.durationMs.restore)}]`,
        );
        say(
          `  statuses   ${Object.entries(r.restore.statuses)
            .map(([s, n]) => `${n} ${s}`)
            .join(
              ', ',
            )}  (status checked per user; everyone can use "Forgot password?": see docs/restore.md)`,
        );
        say(
          `  compared   by API: ${r.comparison.equal ? 'IDENTICAL' : `${r.comparison.differenceCount} DIFFERENCES`} — ${c.users.matched}/${c.users.a} users matched attribute by attribute, ${c.memberships.b}/${c.memberships.a} memberships, ${c.groups.b}/${c.groups.a} groups${c.subMap ? `, sub map ${c.subMap.checked - c.subMap.wrong}/${c.subMap.entries} correct` : ''}  [${seconds(r.durationMs.compare)}]`,
        );
        say(`  snapshot   ${r.snapshot}`);
        say(`  sub map    ${r.subMap}   (old sub → new sub, for your application's data)`);
        say(`  client map ${r.clientMap}`);
        // moto implements neither tags, UI customization, log delivery, risk configuration nor
        // managed login branding reads: it answers them with HTTP 500.
        const refused = (r.backup.warnings ?? []).filter((w) =>
          /refused \(HTTP 500\)/.test(w.message),
        ).length;
        if (refused)
          say(
            `  note       the ${refused} "refused (HTTP 500)" warning(s) above are reads the emulator (moto) does not implement, not failures; on AWS they are captured`,
          );
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
