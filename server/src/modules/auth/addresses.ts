import net from 'node:net';

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.5`, how a dual-stack socket reports it) as plain IPv4. */
export function plainAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1] : ip;
}

/**
 * Whether `ip` is on a comma- or space-separated list of addresses and CIDR blocks. An empty list
 * allows every address; an entry that is neither an address nor a CIDR block matches nothing.
 */
export function addressAllowed(ip: string, list: string): boolean {
  const entries = list
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return true;
  const address = plainAddress(ip);
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
  if (!family) return false;
  const allowed = new net.BlockList();
  for (const entry of entries) {
    const [base, bits = ''] = entry.split('/', 2);
    const entryFamily = net.isIPv4(base) ? 'ipv4' : net.isIPv6(base) ? 'ipv6' : undefined;
    if (!entryFamily) continue;
    if (!entry.includes('/')) allowed.addAddress(base, entryFamily);
    else if (/^\d{1,3}$/.test(bits) && Number(bits) <= (entryFamily === 'ipv4' ? 32 : 128))
      allowed.addSubnet(base, Number(bits), entryFamily);
  }
  return allowed.check(address, family);
}
