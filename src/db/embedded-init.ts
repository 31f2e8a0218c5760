import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Creates the embedded database in `folder` when it holds none yet, in a child process. PGlite runs
 * initdb in a second engine instance (a second WebAssembly memory and the initdb module), and what they
 * allocated stays in the heap of the process that ran them: about 450 MB that a gateway would keep for
 * its lifetime. A child gives all of it back when it exits.
 */
export async function initializeEmbeddedFolder(folder: string): Promise<void> {
  if (
    await access(path.join(folder, 'PG_VERSION')).then(
      () => true,
      () => false,
    )
  )
    return;
  const engine = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = `const { PGlite } = require(process.argv[1]);
const db = new PGlite(process.argv[2]);
db.waitReady.then(() => db.close()).catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exitCode = 1;
});`;
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', script, engine, folder],
      { env: { PATH: process.env.PATH ?? '' }, maxBuffer: 1024 * 1024 },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`Could not create the embedded database in ${folder}: ${stderr.trim() || error.message}`)) : resolve(),
    );
  });
}
