// Every status string HAProxy prints maps to one normalised state.
import { parseStatus } from '../../src/haproxy/status';

test.each([
  ['UP', 'up'],
  ['UP 1/3', 'going-down'],
  ['UP 2/3', 'going-down'],
  ['UP 1/2', 'going-down'],
  ['DOWN', 'down'],
  ['DOWN 1/2', 'going-up'],
  ['NOLB', 'nolb'],
  ['NOLB 1/3', 'going-down'],
  ['DRAIN', 'drain'],
  ['DRAIN 1/3', 'going-down'],
  ['DRAIN (agent)', 'drain'],
  ['DOWN (agent)', 'down'],
  ['MAINT', 'maint'],
  ['MAINT (via app/web1)', 'maint'],
  ['MAINT (resolution)', 'maint'],
  ['MAINT(via)', 'maint'],
  ['no check', 'no-check'],
  ['OPEN', 'up'],
  ['FULL', 'up'],
  ['STOP', 'down'],
  ['', 'unknown'],
  ['garbage!', 'unknown'],
])('%j is %s', (status, state) => {
  expect(parseStatus(status).state).toBe(state);
});

test('progress and reason are kept', () => {
  expect(parseStatus('UP 1/3')).toEqual({ state: 'going-down', word: 'UP', progress: { done: 1, needed: 3 } });
  expect(parseStatus('MAINT (via app/web1)')).toEqual({ state: 'maint', word: 'MAINT', reason: 'via app/web1' });
  expect(parseStatus('DRAIN (agent)').reason).toBe('agent');
});
