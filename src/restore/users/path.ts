/**
 * The `--users` path names. Kept free of imports so the CLI can validate the flag at
 * registration time without loading the restore engine (docs/architecture.md, Start-up).
 */
/** How users are written: CSV import jobs, AdminCreateUser, or each user by what it allows. */
export type UsersPath = 'import-job' | 'admin-create' | 'auto';
export const USERS_PATHS: readonly UsersPath[] = ['auto', 'import-job', 'admin-create'];
export const DEFAULT_USERS_PATH: UsersPath = 'auto';
