const MINUTE_MS = 60_000;
/** Addresses tracked before the oldest idle ones are dropped (a flood of addresses must not grow memory). */
const MAX_ADDRESSES = 10_000;

/**
 * How many guest tokens each client address was given in the last minute. Every guest token is a
 * session with its own upload and rate-limit shares, so minting them freely would multiply those
 * shares; `software_info` hands one out only while its address is under the limit. Kept in
 * memory per process (one per data directory), as the upload limiter is.
 */
export class GuestIssuance {
  private readonly issued = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one token for `address` if it got fewer than `perMinute` in the last minute; false otherwise. */
  tryTake(address: string, perMinute: number): boolean {
    const now = this.now();
    const recent = (this.issued.get(address) ?? []).filter((at) => now - at < MINUTE_MS);
    if (recent.length >= perMinute) {
      this.issued.set(address, recent);
      return false;
    }
    recent.push(now);
    this.issued.delete(address); // re-inserted last: the map's order is least recently used first
    this.issued.set(address, recent);
    for (const key of this.issued.keys()) {
      if (this.issued.size <= MAX_ADDRESSES) break;
      this.issued.delete(key);
    }
    return true;
  }
}
