// tsc compiles only .ts: the SQL migrations, read at run time next to migrate.js, are copied beside it.
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/db/migrations', { recursive: true, force: true });
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
