import { readFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { opt, type OptionName } from '../../core/options.js';

/**
 * Reads a JSON file an option names (`--map-arns`, `--idp-secrets`): exit 2 naming the option,
 * the path and the problem, never the contents (they may hold secrets).
 */
export async function readOptionJson(file: string, option: OptionName): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      'BAD_INPUT',
      `cannot read ${opt(option)} ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { path: file, option },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError('BAD_INPUT', `${opt(option)} ${file} is not valid JSON`, {
      path: file,
      option,
    });
  }
}
