// What both demos (`npm run demo`, `npm run demo:docker`) print and count: headings, commands, checks, engine calls.
let failed = 0;

/** A section heading. */
export const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);

/** Prints a command line as a user would type it. */
export const show = (argv) => process.stdout.write(`$ ${argv.map((a) => (/[\s*'"$]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);

/** A checked outcome: green when it holds, red (and counted) when it does not. */
export function check(ok, text) {
  process.stdout.write(`${ok ? '\x1b[32m✔' : '\x1b[31m✘'} ${text}\x1b[0m\n`);
  if (!ok) failed++;
}

/** One JSON request to the search engine at url. */
export async function es(url, method, path, body) {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  return res.json();
}

/** Prints the verdict and exits: 0 when every check held. */
export function finish() {
  say(failed ? `${failed} demo check(s) failed` : 'demo finished: every check passed');
  process.exit(failed ? 1 : 0);
}
