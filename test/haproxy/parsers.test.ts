// Parser tests on show stat outputs in the column sets of HAProxy 1.8 to 3.0, a real 2.6 capture, show info and show servers state.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNewProcess, parseInfo, processSample } from '../../src/haproxy/info';
import { adminFlags, parseServersState } from '../../src/haproxy/servers-state';
import { describeMalformed, parseStat, rowToJson, StatParseError, type StatRow } from '../../src/haproxy/stat';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const find = (rows: StatRow[], proxy: string, name: string): StatRow => {
  const r = rows.find((x) => x.proxy === proxy && x.name === name);
  if (!r) throw new Error(`no row ${proxy}/${name}`);
  return r;
};

/** The 62 columns of HAProxy 1.6's show stat (up to ttime), as in the 1.8 fixture's header. */
const COLUMNS_16 = fixture('stat-1.8.csv').slice(2, fixture('stat-1.8.csv').indexOf(',ttime,') + 6).split(',');
/** A 1.6 server row of app/NAME with STATUS, ending in the trailing comma. */
const server16 = (name: string, status: string): string =>
  COLUMNS_16.map((c) => ({ pxname: 'app', svname: name, status, type: '2', weight: '1', check_status: 'L7OK' })[c] ?? '0').join(',') + ',';
const stat16 = (rows: string[]): string => `# ${COLUMNS_16.join(',')},\n${rows.join('\n')}\n\n`;

describe.each(['1.8', '2.0', '2.4', '2.8', '3.0'])('show stat in the HAProxy %s column set', (version) => {
  const table = parseStat(fixture(`stat-${version}.csv`));

  test('every row is read, with proxy, name and type', () => {
    expect(table.rows).toHaveLength(18);
    expect(table.rows.filter((r) => r.type === 'server').map((r) => `${r.proxy}/${r.name}`)).toEqual([
      'app/web1', 'app/web2', 'app/web3', 'app/web4', 'app/web5', 'app/web6', 'agents/w1', 'agents/w2', 'agents/w3', 'agents/w4', 'static/cdn1', 'static/cdn2',
    ]);
    expect(find(table.rows, 'fe_http', 'FRONTEND').type).toBe('frontend');
    expect(find(table.rows, 'app', 'BACKEND').type).toBe('backend');
  });

  test('each status string is normalised', () => {
    const states = Object.fromEntries(table.rows.map((r) => [`${r.proxy}/${r.name}`, [r.status, r.state]]));
    expect(states).toEqual({
      'fe_http/FRONTEND': ['OPEN', 'up'],
      'app/web1': ['UP', 'up'],
      'app/web2': ['UP 1/3', 'going-down'],
      'app/web3': ['DOWN', 'down'],
      'app/web4': ['DOWN 1/2', 'going-up'],
      'app/web5': ['MAINT', 'maint'],
      'app/web6': ['MAINT (via app/web5)', 'maint'],
      'app/BACKEND': ['UP', 'up'],
      'fe_stopped/FRONTEND': ['STOP', 'down'],
      'agents/w1': ['DRAIN (agent)', 'drain'],
      'agents/w2': ['DOWN (agent)', 'down'],
      'agents/w3': ['NOLB', 'nolb'],
      'agents/w4': ['DRAIN', 'drain'],
      'agents/BACKEND': ['UP', 'up'],
      'static/cdn1': ['no check', 'no-check'],
      'static/cdn2': ['MAINT (resolution)', 'maint'],
      'static/BACKEND': ['UP', 'up'],
      'empty/BACKEND': ['DOWN', 'down'],
    });
  });

  test('numbers are numbers, text stays text, empty fields are absent', () => {
    const web2 = find(table.rows, 'app', 'web2').fields;
    expect(web2).toMatchObject({ weight: 1, scur: 0, check_duration: 1001, check_status: 'L4TOUT', check_desc: 'Layer4 timeout', addr: '10.0.0.2:8080', mode: 'http' });
    expect(web2.check_code).toBeUndefined();
    expect(web2.last_chk).toBeUndefined();
    expect(JSON.parse(JSON.stringify(web2))).not.toHaveProperty('check_code');
    expect(find(table.rows, 'static', 'cdn2').fields.lastsess).toBe(-1);
  });

  test('quoted fields keep their commas, doubled quotes and newlines', () => {
    const web3 = find(table.rows, 'app', 'web3').fields;
    expect(web3.check_desc).toBe('Layer7 wrong status, expected 200');
    expect(web3.last_chk).toBe('HTTP status check returned code <503> "Service Unavailable"');
    expect(find(table.rows, 'agents', 'w2').fields.last_agt).toBe('down#disk full, writes\nfailing');
    // The row after a multi-line field is still aligned to the header.
    expect(find(table.rows, 'agents', 'w3').fields.addr).toBe('10.0.0.3:8080');
  });

  test('module columns after "-" are separated and still read by name', () => {
    if (version === '1.8' || version === '2.0') {
      expect(table.moduleColumns).toEqual([]);
    } else {
      expect(table.moduleColumns.length).toBeGreaterThan(0);
      expect(table.columns).not.toContain('-');
      expect(find(table.rows, 'fe_http', 'FRONTEND').fields.h2_open_connections).toBe(0);
    }
  });
});

test('version-specific columns appear only where that version prints them', () => {
  expect(parseStat(fixture('stat-1.8.csv')).columns).not.toContain('wrew');
  expect(parseStat(fixture('stat-2.4.csv')).columns).toContain('uweight');
  const v28 = parseStat(fixture('stat-2.8.csv'));
  expect(v28.columns.slice(-3)).toEqual(['h2req', 'h3req', 'proto']);
  expect(find(v28.rows, 'fe_http', 'FRONTEND').fields.proto).toBe('tcp');
});

test('a real HAProxy 2.6 capture parses, including its agg_* columns and module counters', () => {
  const table = parseStat(fixture('stat-2.6-captured.txt'));
  expect(table.columns).toContain('agg_check_status');
  expect(table.moduleColumns).toContain('h1_bytes_out');
  expect(table.rows.map((r) => [r.proxy, r.name, r.type, r.state])).toEqual([
    ['fe', 'FRONTEND', 'frontend', 'up'],
    ['be', 's1', 'server', 'down'],
    ['be', 's2', 'server', 'no-check'],
    ['be', 's3', 'server', 'down'],
    ['be', 'BACKEND', 'backend', 'up'],
  ]);
  expect(find(table.rows, 'be', 's3').fields).toMatchObject({ check_status: 'L4CON', agent_status: 'L4CON', last_chk: 'Connection refused', check_desc: 'Layer4 connection problem' });
});

test('rowToJson puts the identity and state first and keeps every column', () => {
  const row = find(parseStat(fixture('stat-2.4.csv')).rows, 'app', 'web3');
  const json = rowToJson(row);
  expect(Object.keys(json).slice(0, 6)).toEqual(['proxy', 'name', 'type', 'status', 'state', 'check_status']);
  expect(json).toMatchObject({ proxy: 'app', name: 'web3', type: 'server', status: 'DOWN', state: 'down', check_status: 'L7STS', check_code: 503 });
});

test('a "* " prefix (check running now) is removed from check and agent status', () => {
  const table = parseStat('# pxname,svname,status,check_status,agent_status,\nbe,s1,UP,* L7OK,* L4CON,\n');
  expect(table.rows[0]!.fields).toEqual({ check_status: 'L7OK', agent_status: 'L4CON' });
});

test('with a column subset, a quoted newline after the last wanted column does not shift the next row', () => {
  const text = '# pxname,svname,status,a,b,c,\nbe,s1,UP,1,"x\ny",2,\nbe,s2,DOWN,3,plain,4,\nbe,s3,UP,5,"q,r",6,\n\n';
  const table = parseStat(text, { columns: ['a'] });
  expect(table.rows.map((r) => [r.name, r.state, r.fields.a])).toEqual([
    ['s1', 'up', 1],
    ['s2', 'down', 3],
    ['s3', 'up', 5],
  ]);
  expect(parseStat(text).rows.map((r) => r.fields.b)).toEqual(['x\ny', 'plain', 'q,r']);
});

test('the columns option reads only what is asked for', () => {
  const table = parseStat(fixture('stat-2.8.csv'), { columns: ['check_status'] });
  expect(find(table.rows, 'app', 'web3').fields).toEqual({ check_status: 'L7STS' });
  expect(find(table.rows, 'app', 'web3').state).toBe('down');
});

describe('malformed show stat', () => {
  test('a truncated last row is an error naming the line, not a partial result', () => {
    const text = fixture('stat-2.4.csv');
    const cut = text.slice(0, text.indexOf('static,cdn1') + 40);
    expect(() => parseStat(cut)).toThrow(StatParseError);
    expect(() => parseStat(cut)).toThrow(/line 17: \d+ fields where the header has \d+/);
  });
  test('text that is not a show stat output is refused', () => {
    expect(() => parseStat('Unknown command\n')).toThrow(/not a show stat output/);
    expect(() => parseStat('# foo,bar,\n1,2,\n')).toThrow(/lacks pxname, svname, status/);
  });
  test('a row whose field count does not match the header (trailing comma included) is skipped and reported, not shifted', () => {
    // haproxy_exporter #45: HAProxy before 1.6.4 printed "DRAIN (agent)" without the comma after it. With the 1.6
    // header (62 columns and a trailing comma) the row has 61 values plus the trailing comma.
    const text = stat16([server16('web1', 'UP'), server16('web2', 'DRAIN (agent)').replace('DRAIN (agent),', 'DRAIN (agent)'), server16('web3', 'DOWN')]);
    const table = parseStat(text);
    expect(table.rows.map((r) => `${r.proxy}/${r.name}:${r.type}:${r.state}`)).toEqual(['app/web1:server:up', 'app/web3:server:down']);
    expect(table.malformed).toEqual([{ line: 3, fields: 62, expected: 63, proxy: 'app', name: 'web2', text: expect.stringMatching(/^app,web2,0,/) }]);
    expect(describeMalformed(table.malformed[0]!)).toMatch(/^show stat line 3 \(app\/web2\): 62 fields where the header has 63 \(trailing comma included\); row skipped: "app,web2,0,.*"$/);
    // The column subset watch reads checks the count too, though it does not read the rest of the row.
    expect(parseStat(text, { columns: ['check_status'] }).malformed).toMatchObject([{ line: 3, fields: 62, expected: 63 }]);
    // One field too many, or a missing trailing comma, is as wrong as one too few.
    const extra = parseStat(stat16([server16('web1', 'UP') + 'x,']));
    const noTrailing = parseStat(stat16([server16('web1', 'UP').slice(0, -1)]));
    expect([extra.rows, noTrailing.rows]).toEqual([[], []]);
    expect([extra.malformed[0]!.fields, noTrailing.malformed[0]!.fields]).toEqual([64, 62]);
    // Without a trailing comma on the header, rows have none either.
    expect(parseStat('# pxname,svname,status\nbe,s1,UP\nbe,s2\n').malformed).toMatchObject([{ line: 3, fields: 2, expected: 3, name: 's2' }]);
  });
  test('an unterminated quote is an error', () => {
    expect(() => parseStat('# pxname,svname,status,\nbe,"s1,UP,\n')).toThrow(/unterminated quoted field/);
  });
});

describe('show info', () => {
  test('a real 2.6 capture: typed values and the reload identity', () => {
    const info = parseInfo(fixture('info-2.6-captured.txt'));
    expect(info.version).toBe('2.6.12-1+deb12u4');
    expect(typeof info.pid).toBe('number');
    expect(typeof info.startTime).toBe('number');
    expect(info.values.Uptime).toMatch(/^\dd \dh\d\dm\d\ds$/);
    expect(info.values['Build info']).toBe('2.6.12-1+deb12u4');
    expect(processSample(info, 0, 5)).toEqual({ pid: info.pid, startTime: info.startTime, uptimeSec: info.uptimeSec, sentAt: 0, answeredAt: 5 });
    expect(isNewProcess(processSample(info, 0), processSample({ ...info, startTime: info.startTime! + 1 }, 1000))).toBe(true);
  });
  test('values with colons are split on the first ": " only', () => {
    const info = parseInfo('Name: HAProxy\nPid: 12\nnode: lb-1:eu\ndescription: a: b\n');
    expect(info.values).toEqual({ Name: 'HAProxy', Pid: 12, node: 'lb-1:eu', description: 'a: b' });
  });
  test('1.8 (no Start_time_sec): the same pid and an uptime that keeps pace is the same process', () => {
    const a = processSample(parseInfo('Name: HAProxy\nPid: 7\nUptime_sec: 100\n'), 1_000_000_000);
    const b = processSample(parseInfo('Name: HAProxy\nPid: 7\nUptime_sec: 101\n'), 1_000_001_000);
    const c = processSample(parseInfo('Name: HAProxy\nPid: 7\nUptime_sec: 101\n'), 1_000_001_990);
    // An answer that took 4 s: the uptime was read some time between sending and answering.
    const slow = processSample(parseInfo('Name: HAProxy\nPid: 7\nUptime_sec: 102\n'), 1_000_002_000, 1_000_006_000);
    const next = processSample(parseInfo('Name: HAProxy\nPid: 7\nUptime_sec: 107\n'), 1_000_007_000);
    expect([isNewProcess(a, b), isNewProcess(b, c), isNewProcess(a, c), isNewProcess(c, slow), isNewProcess(slow, next)]).toEqual([false, false, false, false, false]);
  });
  test('other text is refused', () => {
    expect(() => parseInfo('Permission denied\n')).toThrow(/not a show info output/);
  });
});

describe('show servers state', () => {
  test('a real 2.6 capture: op state and admin bits', () => {
    const rows = parseServersState(fixture('servers-state-2.6-captured.txt'));
    expect(rows.map((r) => [r.backend, r.server, r.opState])).toEqual([
      ['be', 's1', 'stopped'],
      ['be', 's2', 'running'],
      ['be', 's3', 'stopped'],
    ]);
    expect(rows[2]!.fields.srv_agent_port).toBe(18084);
    expect(rows[0]!.fields).not.toHaveProperty('srv_fqdn');
  });
  test('admin bits separate forced maintenance, drain and inherited states', () => {
    const text = '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n3 app 1 web1 10.0.0.1 2 8 1\n3 app 2 web2 10.0.0.2 0 1 1\n3 app 3 web3 10.0.0.3 0 2 1\n3 app 4 web4 - 3 32 1\n';
    const rows = parseServersState(text);
    expect(rows.map((r) => [r.server, r.opState, r.adminFlags, r.maint, r.drain])).toEqual([
      ['web1', 'running', ['fdrain'], false, true],
      ['web2', 'stopped', ['fmaint'], true, false],
      ['web3', 'stopped', ['imaint'], true, false],
      ['web4', 'stopping', ['rmaint'], true, false],
    ]);
    expect(rows[3]!.address).toBeUndefined();
    expect(adminFlags(0x7f)).toEqual(['fmaint', 'imaint', 'cmaint', 'fdrain', 'idrain', 'rmaint', 'hmaint']);
  });
  test('an unknown format version is refused', () => {
    expect(() => parseServersState('2\n# be_id be_name\n')).toThrow(/format version 2/);
  });
});
