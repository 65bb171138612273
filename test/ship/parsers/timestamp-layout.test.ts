// The timestamp parser reads custom layouts' fields with Luxon and takes the zone's offset once per minute:
// every stamp must get the instant Luxon itself gives, also around zone changes (DST, half-hour and
// 45-minute zones), and a stamp Luxon refuses must stay refused. Seeded generated stamps.
import { DateTime } from 'luxon';
import { z } from 'zod';
import { eventOf, type Event } from '../../../src/ship/parsers/parser';
import { timestamp, timestampSchema } from '../../../src/ship/parsers/timestamp';

/** One step for all the texts (its per-minute offsets carry from stamp to stamp), the stamps it sets. */
function stampsOf(cfg: Record<string, unknown>, texts: string[]): (string | undefined)[] {
  const step = timestamp(z.parse(timestampSchema, { field: 'message', ...cfg }))();
  return texts.map((text) => {
    let out: Event | undefined;
    step.push(eventOf({ file: { key: 'k', dev: 0, ino: 0 }, path: '/a', offset: 0, next: 1, text, truncated: false }), (ev) => (out = ev));
    return out!.timestamp;
  });
}

function luxon(layout: string, zone: string, text: string): string | undefined {
  const dt = DateTime.fromFormat(text, layout, { zone, locale: 'en-US' });
  return dt.isValid ? dt.toUTC().toISO({ suppressMilliseconds: false }) ?? undefined : undefined;
}

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'America/St_Johns', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC+2', 'Pacific/Apia'];
const LAYOUTS = ['yyyy-MM-dd HH:mm:ss,SSS', 'dd/MM/yyyy HH:mm:ss', 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd HH:mm:ss.SSS ZZ', 'MMM d yyyy h:mm:ss a', 'yyyyMMdd'];

test('custom layouts give the instant Luxon gives, in every zone, around zone changes, for odd dates', () => {
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  // Around each zone change of 2026 and a few random instants; plus dates that do not exist.
  const instants: number[] = [];
  for (const zone of ZONES) {
    let dt = DateTime.fromISO('2026-01-01T00:00:00', { zone });
    for (let i = 0; i < 365 * 24; i++) {
      const next = dt.plus({ hours: 1 });
      if (next.offset !== dt.offset) for (let m = -90; m <= 90; m += 11) instants.push(next.toMillis() + m * 60_000 + Math.floor(rnd() * 60_000));
      dt = next;
    }
  }
  // Wall times (as texts in the zone's own hours) through each change, including those a change skips or repeats.
  const walls = new Map<string, number[]>();
  for (const zone of ZONES) {
    const list: number[] = [];
    let dt = DateTime.fromISO('2026-01-01T00:00:00', { zone });
    for (let i = 0; i < 365 * 24; i++) {
      const next = dt.plus({ hours: 1 });
      if (next.offset !== dt.offset) {
        const wall = dt.setZone('UTC', { keepLocalTime: true }).toMillis();
        for (let m = -60; m <= 180; m += 5) list.push(wall + m * 60_000 + Math.floor(rnd() * 60) * 1000);
      }
      dt = next;
    }
    walls.set(zone, list);
  }
  for (let i = 0; i < 300; i++) instants.push(Date.UTC(1970, 0, 1) + Math.floor(rnd() * 2 ** 41));
  let checked = 0;
  for (const zone of ZONES) {
    for (const layout of LAYOUTS) {
      const texts = instants.map((ms) => DateTime.fromMillis(ms, { zone }).toFormat(layout, { locale: 'en-US' }));
      if (!layout.includes('Z')) for (const ms of walls.get(zone)!) texts.push(DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat(layout, { locale: 'en-US' }));
      texts.push('2026-02-30 10:00:00,000', '2026-13-01 10:00:00,000', '2026-01-01 24:00:00,000', '2026-01-01 10:60:00,000', '2026-01-01 10:00:61,000', '31/04/2026 10:00:00', 'not a date');
      const stamps = stampsOf({ layout, timezone: zone }, texts);
      texts.forEach((text, i) => {
        if (stamps[i] !== luxon(layout, zone, text)) expect({ zone, layout, text, stamp: stamps[i] }).toEqual({ zone, layout, text, stamp: luxon(layout, zone, text) });
        checked++;
      });
    }
  }
  expect(checked).toBeGreaterThan(10_000);
});

test('zone-less ISO 8601 stamps give the instant Luxon gives, in every zone, around zone changes', () => {
  const expected = (text: string, zone: string): string | undefined => {
    let dt = DateTime.fromISO(text, { zone });
    if (!dt.isValid) dt = DateTime.fromSQL(text, { zone });
    return dt.isValid ? dt.toUTC().toISO() ?? undefined : undefined;
  };
  const forms = ["yyyy-MM-dd'T'HH:mm:ss.SSS", 'yyyy-MM-dd HH:mm:ss', "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss.SSS'123456'", "yyyy-MM-dd'T'HH:mm:ss.S"];
  let checked = 0;
  for (const zone of ZONES) {
    const texts: string[] = ['2026-02-30T10:00:00', '2026-13-01 10:00:00', '2026-01-01T24:00:00', '2026-01-01 10:60', '2026-01-01T10:00:60', '0099-01-01T10:00:00'];
    // Wall times every 3 minutes through each of the zone's changes in 2026 (the times it skips and repeats),
    // and every 5 hours through the year.
    const walls: number[] = [];
    let at = DateTime.fromISO('2026-01-01T00:00:00', { zone });
    for (let h = 0; h < 365 * 24; h++) {
      const next = at.plus({ hours: 1 });
      const wall = at.setZone('UTC', { keepLocalTime: true }).toMillis();
      if (next.offset !== at.offset) for (let m = -60; m <= 180; m += 3) walls.push(wall + m * 60_000 + (m % 60) * 1000);
      if (h % 5 === 0) walls.push(wall + h * 997);
      at = next;
    }
    walls.forEach((ms, i) => texts.push(DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat(forms[i % forms.length])));
    const stamps = stampsOf({ layout: 'ISO8601', timezone: zone }, texts);
    texts.forEach((text, i) => {
      if (stamps[i] !== expected(text, zone)) expect({ zone, text, stamp: stamps[i] }).toEqual({ zone, text, stamp: expected(text, zone) });
      checked++;
    });
  }
  expect(checked).toBeGreaterThan(10_000);
});
