import type { Admission, ScpPeer } from '../../dimse/scp.js';
import type { ConfigService } from '../system/config-service.js';
import type { PacsRepository } from './repository.js';

/** One entry of `dicom.scp_allowed_aets`: an AE title, optionally bound to an address (`AET@10.0.0.5`). */
export interface AllowedCaller {
  aet: string;
  address?: string;
}

/** `dicom.scp_allowed_aets` as entries: comma-separated, blanks ignored. */
export function parseAllowedCallers(value: string): AllowedCaller[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf('@');
      return at > 0 ? { aet: entry.slice(0, at).trim(), address: entry.slice(at + 1).trim() } : { aet: entry };
    });
}

/**
 * Who may associate with our SCP (docs/architecture.md, decisions: "Calling AE titles"):
 *
 * 1. an enabled PACS node whose AE title is the calling AE title, from the node's address unless
 *    `dicom.scp_check_node_address` is off; it may store if the node's `may_store` says so;
 * 2. otherwise an entry of `dicom.scp_allowed_aets` (`AET`, or `AET@address` bound to one
 *    address); these may store;
 * 3. otherwise anyone, if an operator switched `dicom.scp_accept_any_aet` on (health warns);
 * 4. nobody else: A-ASSOCIATE-RJ, calling AE title not recognized.
 *
 * A node's own settings win over the allow-list: a node with may_store off cannot store by also
 * being listed. AE titles compare exactly (DICOM AE titles are case-sensitive).
 */
export class CallingAePolicy {
  constructor(
    private readonly nodes: PacsRepository,
    private readonly configs: ConfigService,
  ) {}

  async admit(peer: ScpPeer): Promise<Admission> {
    const aet = peer.callingAet.trim();
    const nodes = await this.nodes.enabledByAet(aet);
    if (nodes.length > 0) {
      const checkAddress = await this.configs.getBoolean('dicom.scp_check_node_address');
      const matching = checkAddress ? nodes.filter((n) => n.address === peer.address) : nodes;
      if (matching.length > 0) return { accepted: true, mayStore: matching.some((n) => n.may_store === 1) };
    }
    const listed = parseAllowedCallers(await this.configs.getString('dicom.scp_allowed_aets'));
    if (listed.some((c) => c.aet === aet && (c.address === undefined || c.address === peer.address)))
      return { accepted: true, mayStore: true };
    // A node's AE title from another address is not let in by accept-any either: that is what the address check is for.
    if (nodes.length === 0 && (await this.configs.getBoolean('dicom.scp_accept_any_aet'))) return { accepted: true, mayStore: true };
    return { accepted: false };
  }
}
