// One-time engine setup for the target data stream: lifecycle policy (ILM on Elasticsearch, ISM on OpenSearch),
// index template with the ECS mappings of our fields, and the data stream itself. Safe to run again.
import { errors, type Client } from '@elastic/elasticsearch';
import { createClient } from './client';
import { detectEngine, type Flavor } from './flavor';
import type { SinkOptions } from './sink';

export interface PolicyOptions {
  /** Roll over to a new backing index at this primary size, e.g. "50gb". */
  rolloverMaxSize?: string;
  /** Delete backing indices this long after rollover, e.g. "30d". */
  deleteAfter?: string;
}

export type SetupOptions = Pick<SinkOptions, 'urls' | 'index' | 'flavor' | 'auth' | 'tls' | 'requestTimeoutMs'> & { policy?: PolicyOptions };

/** The mappings of the fields the encoder writes; configured extra fields are mapped dynamically. */
export const MAPPINGS = {
  dynamic: true,
  properties: {
    '@timestamp': { type: 'date' },
    message: { type: 'text' },
    log: {
      properties: {
        file: { properties: { path: { type: 'keyword' } } },
        offset: { type: 'long' },
        flags: { type: 'keyword' },
      },
    },
    host: { properties: { name: { type: 'keyword' } } },
    agent: { properties: { type: { type: 'keyword' }, version: { type: 'keyword' } } },
  },
};

/** Creates or updates the lifecycle policy and index template, creates the data stream; returns what it did. */
export async function setup(opts: SetupOptions): Promise<string[]> {
  const info = await detectEngine(opts, opts.flavor);
  const client = createClient(opts, info.flavor);
  const done: string[] = [`engine: ${info.flavor} ${info.version}`];
  const name = opts.index;
  const policyName = `${name}-policy`;
  try {
    const policyApplied = await putPolicy(client, info.flavor, policyName, opts, done);
    await client.transport.request({
      method: 'PUT',
      path: `/_index_template/${encodeURIComponent(`${name}-template`)}`,
      body: {
        index_patterns: [name],
        data_stream: {},
        // Above the built-in logs-*-* template (priority 100) on Elasticsearch, so ours decides for this stream.
        priority: 200,
        template: {
          settings: info.flavor === 'elasticsearch' && policyApplied ? { 'index.lifecycle.name': policyName } : {},
          mappings: MAPPINGS,
        },
        _meta: { managed_by: 'sidekick-ship' },
      },
    });
    done.push(`index template ${name}-template: created or updated`);
    if (await exists(client, `/_data_stream/${encodeURIComponent(name)}`)) {
      done.push(`data stream ${name}: already exists`);
    } else {
      await client.transport.request({ method: 'PUT', path: `/_data_stream/${encodeURIComponent(name)}` });
      done.push(`data stream ${name}: created`);
    }
  } finally {
    await client.close();
  }
  return done;
}

async function exists(client: Client, path: string): Promise<boolean> {
  try {
    await client.transport.request({ method: 'GET', path });
    return true;
  } catch (err) {
    if (err instanceof errors.ResponseError && err.statusCode === 404) return false;
    throw err;
  }
}

/** Returns whether a policy is in place (OpenSearch without the ISM plugin has none). */
async function putPolicy(client: Client, flavor: Flavor, policyName: string, opts: SetupOptions, done: string[]): Promise<boolean> {
  const rollover = opts.policy?.rolloverMaxSize ?? '50gb';
  const deleteAfter = opts.policy?.deleteAfter ?? '30d';
  if (flavor === 'elasticsearch') {
    await client.transport.request({
      method: 'PUT',
      path: `/_ilm/policy/${encodeURIComponent(policyName)}`,
      body: {
        policy: {
          phases: {
            hot: { actions: { rollover: { max_primary_shard_size: rollover, max_age: '30d' } } },
            delete: { min_age: deleteAfter, actions: { delete: {} } },
          },
          _meta: { managed_by: 'sidekick-ship' },
        },
      },
    });
    done.push(`ILM policy ${policyName}: created or updated (rollover at ${rollover}, delete after ${deleteAfter})`);
    return true;
  }
  const path = `/_plugins/_ism/policies/${encodeURIComponent(policyName)}`;
  const policy = {
    policy: {
      description: `sidekick-ship: ${opts.index}`,
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [{ rollover: { min_primary_shard_size: rollover } }],
          transitions: [{ state_name: 'delete', conditions: { min_rollover_age: deleteAfter } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      // Backing indices of a data stream are .ds-<name>-NNNNNN; ISM attaches the policy to each one created.
      ism_template: [{ index_patterns: [`.ds-${opts.index}-*`], priority: 100 }],
    },
  };
  let current: { _seq_no?: number; _primary_term?: number } | undefined;
  try {
    current = await client.transport.request({ method: 'GET', path });
  } catch (err) {
    if (!(err instanceof errors.ResponseError)) throw err;
    if (err.statusCode === 404 && isIsmNotFound(err)) {
      current = undefined;
    } else if (err.statusCode === 400 || err.statusCode === 404 || err.statusCode === 405) {
      // No ISM plugin: the route does not exist ("no handler found for uri").
      done.push(`ISM policy ${policyName}: skipped, the Index State Management plugin is not installed`);
      return false;
    } else {
      throw err;
    }
  }
  if (current && typeof current._seq_no === 'number') {
    await client.transport.request({
      method: 'PUT',
      path,
      querystring: { if_seq_no: current._seq_no, if_primary_term: current._primary_term },
      body: policy,
    });
    done.push(`ISM policy ${policyName}: updated`);
  } else {
    await client.transport.request({ method: 'PUT', path, body: policy });
    done.push(`ISM policy ${policyName}: created (rollover at ${rollover}, delete after ${deleteAfter})`);
  }
  return true;
}

/** ISM answers a missing policy with 404 and a JSON error; a missing route is a 400/404 without that shape. */
function isIsmNotFound(err: InstanceType<typeof errors.ResponseError>): boolean {
  const body = err.body as { error?: { type?: string; reason?: string } | string } | undefined;
  if (!body || typeof body !== 'object') return false;
  const e = body.error;
  const text = typeof e === 'string' ? e : `${e?.type ?? ''} ${e?.reason ?? ''}`;
  return /policy not found|status_exception|index_not_found/i.test(text) && !/no handler/i.test(text);
}
