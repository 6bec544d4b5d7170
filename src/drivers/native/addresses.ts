import { BlockList, isIPv6 } from 'node:net';

/** Addresses or CIDR ranges (already validated) as a BlockList (node:net), or undefined when none. */
export function addressList(ranges: readonly string[] | undefined): BlockList | undefined {
  if (ranges === undefined || ranges.length === 0) return undefined;
  const list = new BlockList();
  for (const r of ranges) {
    const [ip = '', prefix] = r.split('/');
    const family = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(prefix), family);
  }
  return list;
}
