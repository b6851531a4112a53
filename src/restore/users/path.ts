/**
 * The `--users` path names. Kept free of imports so the CLI can validate the flag at
 * registration time without loading the restore engine (docs/architecture.md, Start-up).
 */
import type { UsersPath } from '../types.js';

export type { UsersPath } from '../types.js';
export const USERS_PATHS: readonly UsersPath[] = ['auto', 'import-job', 'admin-create'];
export const DEFAULT_USERS_PATH: UsersPath = 'auto';
