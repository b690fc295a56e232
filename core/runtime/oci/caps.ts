/**
 * The credentials a container process starts from, built the way runc builds them before it
 * execs the program: the bounding set is cut to `capabilities.bounding`, the user is
 * switched (keeping capabilities), then effective/permitted/inheritable are set and each
 * ambient capability raised. The sentry's execve then applies Linux's transformation
 * (root: permitted = bounding | inheritable; others: the ambient set), so what the program
 * sees is what it would see under runc.
 */
import * as fs from 'node:fs';
import type { Credentials } from '../../kernel/api';
import { CAP_FULL, type CapSets, makeCreds, parseCapNames } from '../../kernel/caps';
import type { CapSet } from './spec';

export type SpecCaps = Partial<Record<CapSet, string[]>>;

/**
 * The sets before execve for config.json `process.capabilities` (absent: every set empty,
 * bounding included, as runc does). An effective capability that is not permitted,
 * an inheritable one outside the bounding set and an ambient one not both permitted and
 * inheritable cannot be had on Linux; they are left out.
 */
export function specCapSets(caps: SpecCaps | undefined): CapSets {
  const set = (k: CapSet) => parseCapNames(caps?.[k] ?? []).set;
  const capBnd = set('bounding');
  const capPrm = set('permitted');
  const capInh = set('inheritable') & capBnd;
  const capEff = set('effective') & capPrm;
  const capAmb = set('ambient') & capPrm & capInh;
  return { capEff, capPrm, capInh, capBnd, capAmb, securebits: 0 };
}

/** Credentials for a container process: its user and, before execve, its capability sets. */
export function containerCreds(
  uid: number,
  gid: number,
  additionalGids: number[] | undefined,
  caps: SpecCaps | undefined,
): Credentials {
  return makeCreds(uid, gid, additionalGids ?? [], specCapSets(caps));
}

/**
 * The capability sets of this (runsc) process when it runs as host root, from
 * /proc/self/status: `runsc do` gives the sandbox's root no capability a root caller lacks
 * (a container's bounding set, say). Undefined for an unprivileged caller (the sandbox's
 * root is then its own, with every capability, as gVisor's rootless do) or when the sets
 * cannot be read.
 */
export function callerCapSets(): CapSets | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const get = (k: string): bigint | undefined => {
    const m = new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(text);
    return m ? BigInt(`0x${m[1]}`) & CAP_FULL : undefined;
  };
  const capEff = get('CapEff'),
    capPrm = get('CapPrm'),
    capInh = get('CapInh'),
    capBnd = get('CapBnd'),
    capAmb = get('CapAmb');
  if (capEff === undefined || capPrm === undefined || capInh === undefined || capBnd === undefined)
    return undefined;
  return { capEff, capPrm, capInh, capBnd, capAmb: capAmb ?? 0n, securebits: 0 };
}
