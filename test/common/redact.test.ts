// What may be printed of URLs and command lines: the secrets in them are replaced, everything else stays as written.
import { REDACTED, redactArgs, redactCommand, redactOutput, redactText, redactUrl, secretValues } from '../../src/common/redact';

const R = REDACTED;

describe('redactUrl', () => {
  it('replaces the password of user:password@ and keeps the user name', () => {
    expect(redactUrl('http://user:pass@host/health?token=abc')).toBe(`http://user:${R}@host/health?token=${R}`);
    expect(redactUrl('https://elastic:chan%40ge@es.example:9200/')).toBe(`https://elastic:${R}@es.example:9200/`);
  });

  it('redacts a user name that stands alone, as tokens are often passed', () => {
    expect(redactUrl('https://ghp_abc123@git.example/repo')).toBe(`https://${R}@git.example/repo`);
  });

  it('redacts the values of secret-looking query parameters only, whatever their case', () => {
    expect(redactUrl('http://h/x?check=db&API_KEY=k1&Signature=s1&sig=s2&X-Amz-Credential=c&access_token=t&verbose&key=g#top')).toBe(
      `http://h/x?check=db&API_KEY=${R}&Signature=${R}&sig=${R}&X-Amz-Credential=${R}&access_token=${R}&verbose&key=${R}#top`,
    );
    expect(redactUrl('http://h/x?password=p&auth=a&secret=s&pass=q&design=d')).toBe(`http://h/x?password=${R}&auth=${R}&secret=${R}&pass=${R}&design=d`);
  });

  it('keeps URLs without secrets exactly as written, and leaves what is not a URL alone', () => {
    for (const u of ['http://127.0.0.1:9200', 'HTTP://Host:80/a/b?x=1&y=2', 'tcp://db:5432', 'unix:///var/run/docker.sock']) expect(redactUrl(u)).toBe(u);
    expect(redactUrl('db:5432')).toBe('db:5432');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('redactArgs', () => {
  it('redacts secret headers, flags, assignments and URLs, and keeps the rest', () => {
    expect(redactArgs(['curl', '-fsS', '-H', 'Authorization: Bearer x', '-H', 'Accept: text/plain', 'http://u:p@h/health?token=t'])).toEqual([
      'curl', '-fsS', '-H', `Authorization: ${R}`, '-H', 'Accept: text/plain', `http://u:${R}@h/health?token=${R}`,
    ]);
    expect(redactArgs(['app', '--password', 'hunter2', '--token=t1', '--api-key', 'k', '--name', 'web'])).toEqual(['app', '--password', R, `--token=${R}`, '--api-key', R, '--name', 'web']);
    expect(redactArgs(['env', 'PGPASSWORD=pw', 'API_TOKEN=t', 'PGHOST=db', 'pg_isready', '-U', 'postgres'])).toEqual(['env', `PGPASSWORD=${R}`, `API_TOKEN=${R}`, 'PGHOST=db', 'pg_isready', '-U', 'postgres']);
    expect(redactArgs(['wget', '--header=X-Api-Key: k', '--password-file', '/run/secrets/p', 'http://h/'])).toEqual(['wget', `--header=X-Api-Key: ${R}`, '--password-file', '/run/secrets/p', 'http://h/']);
  });

  it("knows the secrets of common health-check commands: curl's -u, redis-cli's -a, MySQL's -p", () => {
    expect(redactArgs(['curl', '-u', 'admin:s3cret', 'http://h/'])).toEqual(['curl', '-u', `admin:${R}`, 'http://h/']);
    expect(redactArgs(['redis-cli', '-a', 'pw', 'ping'])).toEqual(['redis-cli', '-a', R, 'ping']);
    expect(redactArgs(['/usr/bin/mysqladmin', 'ping', '-uroot', '-proot-pw'])).toEqual(['/usr/bin/mysqladmin', 'ping', '-uroot', `-p${R}`]);
    expect(redactArgs(['ls', '-a', 'pw', '-pretty'])).toEqual(['ls', '-a', 'pw', '-pretty']);
  });

  it('does not take a URL or another flag for the value of a secret-looking switch', () => {
    expect(redactArgs(['tool', '--no-auth', 'http://h/'])).toEqual(['tool', '--no-auth', 'http://h/']);
    expect(redactArgs(['tool', '--insecure-auth', '--verbose'])).toEqual(['tool', '--insecure-auth', '--verbose']);
  });
});

describe('redactText and redactCommand', () => {
  it('rewrites only the words of a shell line that carry a secret, quotes kept', () => {
    expect(redactText(`curl -fsS -H 'Authorization: Bearer x' "http://u:p@h/x?token=t" | grep -q ok`)).toBe(
      `curl -fsS -H 'Authorization: ${R}' "http://u:${R}@h/x?token=${R}" | grep -q ok`,
    );
    expect(redactText('PGPASSWORD=pw pg_isready -h db && redis-cli -a pw ping')).toBe(`PGPASSWORD=${R} pg_isready -h db && redis-cli -a ${R} ping`);
    expect(redactText('curl --password "two words" http://h/')).toBe(`curl --password "${R}" http://h/`);
  });

  it('finds URLs inside messages', () => {
    expect(redactText('not a valid URL: http://u:p@h:x/?token=t')).toBe(`not a valid URL: http://u:${R}@h:x/?token=${R}`);
    expect(redactText('status 503 from backend')).toBe('status 503 from backend');
  });

  it('prints an exec command by its arguments, or as a shell line', () => {
    expect(redactCommand(['curl', '-H', 'Authorization: Bearer x', 'http://h/'])).toBe(`curl -H Authorization: ${R} http://h/`);
    expect(redactCommand(["curl -H 'X-Auth-Token: t' http://h/"])).toBe(`curl -H 'X-Auth-Token: ${R}' http://h/`);
    expect(redactCommand(['test', '-f', '/tmp/ok'], true)).toBe('test -f /tmp/ok');
  });
});

describe('secretValues and redactOutput', () => {
  it('finds the values a command carries, as arguments and as a shell line', () => {
    expect(secretValues(['redis-cli', '-a', 'hunter22', 'ping'])).toEqual(['hunter22']);
    expect(secretValues(['curl', '-u', 'me:s3cr3t!', 'http://h/?token=tok-123&x=1'])).toEqual(['s3cr3t!', 'tok-123']);
    expect(secretValues(["PGPASSWORD='pw two' pg_isready -h db"], true)).toEqual(['pw two']);
    // Too short to replace in free text without garbling it; not a secret worth the name either.
    expect(secretValues(['redis-cli', '-a', 'pw', 'ping'])).toEqual([]);
    expect(secretValues(['test', '-f', '/tmp/ok'])).toEqual([]);
  });

  it("replaces the command's own secrets and URL credentials in what it printed, and nothing else", () => {
    const cmd = ['sh', '-c', 'x', '--', '--password', 'hunter22'];
    expect(redactOutput('AUTH hunter22 failed; again: hunter22\n', cmd)).toBe(`AUTH ${R} failed; again: ${R}\n`);
    expect(redactOutput('could not connect to postgres://app:pg-pass@db:5432/app', ['pg_isready'])).toBe(`could not connect to postgres://app:${R}@db:5432/app`);
    expect(redactOutput('all good: 3 replicas', cmd)).toBe('all good: 3 replicas');
  });
});
