// Parser for `show servers state`: operational state and admin state bits, which `show stat` merges into one string.

export type OpState = 'stopped' | 'starting' | 'running' | 'stopping';
export type AdminFlag = 'fmaint' | 'imaint' | 'cmaint' | 'fdrain' | 'idrain' | 'rmaint' | 'hmaint';

const OP_STATES: OpState[] = ['stopped', 'starting', 'running', 'stopping'];
const ADMIN_BITS: [number, AdminFlag][] = [
  [0x01, 'fmaint'], // forced by the admin (disable server, set server state maint)
  [0x02, 'imaint'], // inherited from a tracked server
  [0x04, 'cmaint'], // configured "disabled"
  [0x08, 'fdrain'], // forced drain (set server state drain, agent "drain")
  [0x10, 'idrain'], // inherited drain
  [0x20, 'rmaint'], // DNS resolution failed
  [0x40, 'hmaint'], // no FQDN/address yet
];

export interface ServerStateRow {
  backendId: number;
  backend: string;
  serverId: number;
  server: string;
  address?: string;
  opState: OpState;
  adminFlags: AdminFlag[];
  maint: boolean;
  drain: boolean;
  /** Every column of the header, "-" (none) absent, numbers typed. */
  fields: Record<string, string | number>;
}

export class ServersStateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServersStateParseError';
  }
}

export function adminFlags(bits: number): AdminFlag[] {
  return ADMIN_BITS.filter(([bit]) => (bits & bit) !== 0).map(([, flag]) => flag);
}

export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length < 2 || !/^\d+$/.test(lines[0]!) || !lines[1]!.startsWith('# ')) {
    throw new ServersStateParseError(`not a show servers state output: expected a version line and a "# be_id ..." header, got ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (lines[0] !== '1') throw new ServersStateParseError(`show servers state format version ${lines[0]} is not supported; expected 1`);
  const names = lines[1]!.slice(2).trim().split(/\s+/);
  const rows: ServerStateRow[] = [];
  for (let n = 2; n < lines.length; n++) {
    const cells = lines[n]!.trim().split(/\s+/);
    // Older versions print fewer columns than newer headers and vice versa; only the core ones are required.
    if (cells.length < 7) throw new ServersStateParseError(`show servers state line ${n + 1}: ${cells.length} fields, expected at least 7`);
    const fields: Record<string, string | number> = {};
    names.forEach((name, i) => {
      const v = cells[i];
      if (v === undefined || v === '-' || v === '') return;
      fields[name] = /^-?\d+$/.test(v) && name !== 'srv_name' && name !== 'be_name' ? Number(v) : v;
    });
    const op = Number(fields.srv_op_state);
    const admin = Number(fields.srv_admin_state);
    if (!Number.isInteger(op) || !Number.isInteger(admin)) {
      throw new ServersStateParseError(`show servers state line ${n + 1}: srv_op_state or srv_admin_state is not a number`);
    }
    const flags = adminFlags(admin);
    const row: ServerStateRow = {
      backendId: Number(fields.be_id),
      backend: String(fields.be_name),
      serverId: Number(fields.srv_id),
      server: String(fields.srv_name),
      opState: OP_STATES[op] ?? 'stopped',
      adminFlags: flags,
      maint: (admin & (0x01 | 0x02 | 0x04 | 0x20 | 0x40)) !== 0,
      drain: (admin & (0x08 | 0x10)) !== 0,
      fields,
    };
    if (fields.srv_addr !== undefined) row.address = String(fields.srv_addr);
    rows.push(row);
  }
  return rows;
}
