import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScpPeer } from '../../dimse/scp.js';
import type { ConfigService } from '../system/config-service.js';
import { CallingAePolicy, parseAllowedCallers } from './admission.js';
import type { PacsNodeRow, PacsRepository } from './repository.js';

function node(aet: string, address: string, mayStore: boolean): PacsNodeRow {
  return {
    id: 1,
    name: aet,
    type: 'PACS',
    address,
    port: 104,
    aet,
    aec: 'ROENTGEN',
    is_enabled: 1,
    is_default: 0,
    params: '{}',
    created_at: '',
    updated_at: '',
    may_store: mayStore ? 1 : 0,
    may_query: 0,
    may_retrieve: 0,
    charset: '',
  };
}

function policy(nodes: PacsNodeRow[], configs: Record<string, string>): CallingAePolicy {
  const repo = { enabledByAet: (aet: string) => Promise.resolve(nodes.filter((n) => n.aet === aet)) } as unknown as PacsRepository;
  const values = {
    'dicom.scp_allowed_aets': '',
    'dicom.scp_accept_any_aet': 'false',
    'dicom.scp_check_node_address': 'true',
    ...configs,
  } as Record<string, string>;
  const config = {
    getString: (key: string) => Promise.resolve(values[key]),
    getBoolean: (key: string) => Promise.resolve(values[key] === 'true'),
  } as unknown as ConfigService;
  return new CallingAePolicy(repo, config);
}

const peer = (callingAet: string, address = '10.0.0.5'): ScpPeer => ({ associationId: 'a', callingAet, calledAet: 'ROENTGEN', address });

test('the allow-list reads AET and AET@address entries, blanks ignored', () => {
  assert.deepEqual(parseAllowedCallers(' CT1, ,MR2@10.0.0.7 ,'), [{ aet: 'CT1' }, { aet: 'MR2', address: '10.0.0.7' }]);
});

test('nodes: admitted from their address with their may_store; elsewhere only when the address check is off', async () => {
  const nodes = [node('CT1', '10.0.0.5', true), node('RO', '10.0.0.5', false)];
  assert.deepEqual(await policy(nodes, {}).admit(peer('CT1')), { accepted: true, mayStore: true });
  assert.deepEqual(await policy(nodes, {}).admit(peer('RO')), { accepted: true, mayStore: false });
  assert.deepEqual(await policy(nodes, {}).admit(peer('CT1', '10.0.0.6')), { accepted: false });
  assert.deepEqual(await policy(nodes, { 'dicom.scp_check_node_address': 'false' }).admit(peer('CT1', '10.0.0.6')), {
    accepted: true,
    mayStore: true,
  });
  assert.deepEqual(await policy(nodes, {}).admit(peer('ct1')), { accepted: false }, 'AE titles compare exactly');
});

test("a node's own may_store wins over the allow-list; accept-any does not let a node's AE in from elsewhere", async () => {
  const nodes = [node('RO', '10.0.0.5', false)];
  assert.deepEqual(await policy(nodes, { 'dicom.scp_allowed_aets': 'RO' }).admit(peer('RO')), { accepted: true, mayStore: false });
  assert.deepEqual(await policy(nodes, { 'dicom.scp_accept_any_aet': 'true' }).admit(peer('RO', '10.9.9.9')), { accepted: false });
  assert.deepEqual(await policy(nodes, { 'dicom.scp_accept_any_aet': 'true' }).admit(peer('ANYONE')), { accepted: true, mayStore: true });
  assert.deepEqual(await policy([], {}).admit(peer('ANYONE')), { accepted: false });
  assert.deepEqual(await policy([], { 'dicom.scp_allowed_aets': 'X@10.0.0.5' }).admit(peer('X')), { accepted: true, mayStore: true });
  assert.deepEqual(await policy([], { 'dicom.scp_allowed_aets': 'X@10.0.0.5' }).admit(peer('X', '10.0.0.6')), { accepted: false });
});
