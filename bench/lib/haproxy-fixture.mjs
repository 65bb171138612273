// Generates a `show stat` answer for N servers in HAProxy 2.6's real column set (shared by the haproxy benchmarks).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const captured = readFileSync(join(here, '..', '..', 'test', 'haproxy', 'fixtures', 'stat-2.6-captured.txt'), 'utf8');
export const HEADER = captured.slice(0, captured.indexOf('\n'));
const COLUMNS = HEADER.slice(2).split(',').slice(0, -1);

const STATUSES = ['UP', 'UP', 'UP', 'UP', 'UP', 'UP', 'UP 1/3', 'DOWN', 'DOWN 1/2', 'DRAIN (agent)', 'MAINT', 'no check', 'NOLB'];

function line(values) {
  return COLUMNS.map((c) => {
    const v = values[c];
    if (v === undefined) return c === '-' ? '-' : '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(',') + ',';
}

/**
 * `servers` servers spread over backends of `perBackend`; `down` is a set of "backend/server" keys shown DOWN
 * (so a benchmark can flip states between polls).
 */
export function generateStat(servers = 10000, perBackend = 100, down = new Set()) {
  const out = [HEADER];
  out.push(line({ pxname: 'fe_main', svname: 'FRONTEND', scur: 120, smax: 900, slim: 100000, stot: 9812345, bin: 123456789, bout: 987654321, status: 'OPEN', pid: 1, iid: 2, sid: 0, type: 0, mode: 'http' }));
  const backends = Math.ceil(servers / perBackend);
  let n = 0;
  for (let b = 0; b < backends; b++) {
    const px = `be_svc_${b}`;
    for (let s = 0; s < perBackend && n < servers; s++, n++) {
      const name = `srv_${b}_${s}`;
      const status = down.has(`${px}/${name}`) ? 'DOWN' : STATUSES[n % STATUSES.length];
      const checkFailed = status.startsWith('DOWN') || status.startsWith('UP ');
      out.push(
        line({
          pxname: px, svname: name, qcur: 0, qmax: 3, scur: n % 7, smax: 40, stot: 100000 + n, bin: 5000000 + n, bout: 90000000 + n, dresp: 0, econ: n % 3, eresp: 0, wretr: 0, wredis: 0,
          status, weight: 1, act: 1, bck: 0, chkfail: n % 5, chkdown: n % 2, lastchg: 3600 + n, downtime: n % 100, pid: 1, iid: 3 + b, sid: s + 1, lbtot: 100000 + n, type: 2, rate: n % 9, rate_max: 50,
          check_status: checkFailed ? 'L7STS' : 'L7OK', check_code: checkFailed ? 503 : 200, check_duration: n % 4,
          hrsp_1xx: 0, hrsp_2xx: 99000 + n, hrsp_3xx: 10, hrsp_4xx: 50, hrsp_5xx: n % 11, hrsp_other: 0, cli_abrt: 1, srv_abrt: 0, lastsess: n % 60,
          last_chk: checkFailed ? 'HTTP status check returned code <503> "Service Unavailable"' : 'OK', qtime: 0, ctime: 1, rtime: 12, ttime: 40,
          check_desc: checkFailed ? 'Layer7 wrong status, expected 200' : 'Layer7 check passed', check_rise: 2, check_fall: 3, check_health: checkFailed ? 0 : 4,
          addr: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}:8080`, mode: 'http', reuse: 0, srv_icur: 0, qtime_max: 3, ctime_max: 9, rtime_max: 200, ttime_max: 900, eint: 0, idle_conn_cur: 0, safe_conn_cur: 0, used_conn_cur: 0, need_conn_est: 0, uweight: 1, agg_server_status: 0, agg_server_check_status: 0, agg_check_status: 0,
          ssl_sess: 0, ssl_reused_sess: 0, ssl_failed_handshake: 0, h1_open_connections: 0, h1_total_connections: 0,
        }),
      );
    }
    out.push(line({ pxname: px, svname: 'BACKEND', qcur: 0, qmax: 3, scur: 12, smax: 300, slim: 10000, stot: 1000000, status: 'UP', weight: perBackend, act: perBackend, bck: 0, chkdown: 3, lastchg: 86400, downtime: 0, pid: 1, iid: 3 + b, sid: 0, lbtot: 1000000, type: 1, mode: 'http', algo: 'roundrobin' }));
  }
  return out.join('\n') + '\n';
}

export function generateInfo(pid = 4242, start = 1795000000) {
  return `Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\nNbthread: 2\nPid: ${pid}\nUptime: 0d 1h00m00s\nUptime_sec: 3600\nStart_time_sec: ${start}\nStopping: 0\nnode: bench\n`;
}
