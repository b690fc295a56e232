/**
 * Linux capabilities (capabilities(7)) for the sentry's credentials.
 *
 * A task's credentials carry five 64-bit capability sets (bit N = capability N):
 * - effective (capEff): what privilege checks consult — `capable(c, CAP_X)`;
 * - permitted (capPrm): the limit of what may be made effective (capset);
 * - inheritable (capInh): what may pass through execve to the new program;
 * - bounding (capBnd): a ceiling on what execve can grant; drop-only (PR_CAPBSET_DROP);
 * - ambient (capAmb): kept over execve of a program without file capabilities; always a
 *   subset of permitted ∩ inheritable (PR_CAP_AMBIENT).
 * and the securebits (PR_SET_SECUREBITS; keep-caps is one of them, PR_SET_KEEPCAPS).
 *
 * The transitions that Linux applies implicitly live here as pure functions on a
 * credentials object:
 * - `afterSetuid` (setuid/setreuid/setresuid): leaving uid 0 in all of real, effective and
 *   saved clears permitted and effective (unless keep-caps) and ambient; effective uid
 *   0 → nonzero clears effective; nonzero → 0 makes effective = permitted;
 * - `afterSetfsuid`: fsuid 0 → nonzero drops the filesystem capabilities from effective,
 *   nonzero → 0 raises those that are permitted;
 * - `execCreds` (execve): set-user/group-ID bits, then "root is all-powerful" for a
 *   program without file capabilities (the sentry has no file capabilities: the
 *   security.capability xattr is not consulted), ambient, no_new_privs.
 *
 * All sets are bigint (capabilities go beyond bit 31), never combined with JS bitwise
 * operators on Numbers.
 */
import type { Credentials } from './api';

export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;
export const CAP_KILL = 5;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;
export const CAP_LINUX_IMMUTABLE = 9;
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_BROADCAST = 11;
export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_IPC_LOCK = 14;
export const CAP_IPC_OWNER = 15;
export const CAP_SYS_MODULE = 16;
export const CAP_SYS_RAWIO = 17;
export const CAP_SYS_CHROOT = 18;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_PACCT = 20;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_BOOT = 22;
export const CAP_SYS_NICE = 23;
export const CAP_SYS_RESOURCE = 24;
export const CAP_SYS_TIME = 25;
export const CAP_SYS_TTY_CONFIG = 26;
export const CAP_MKNOD = 27;
export const CAP_LEASE = 28;
export const CAP_AUDIT_WRITE = 29;
export const CAP_AUDIT_CONTROL = 30;
export const CAP_SETFCAP = 31;
export const CAP_MAC_OVERRIDE = 32;
export const CAP_MAC_ADMIN = 33;
export const CAP_SYSLOG = 34;
export const CAP_WAKE_ALARM = 35;
export const CAP_BLOCK_SUSPEND = 36;
export const CAP_AUDIT_READ = 37;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;
export const CAP_CHECKPOINT_RESTORE = 40;
/** The highest capability number (/proc/sys/kernel/cap_last_cap). */
export const CAP_LAST_CAP = 40;

/** Every valid capability. */
export const CAP_FULL = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

/** Names as config.json and capsh spell them, by number. */
export const CAP_NAMES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The capabilities tied to the filesystem uid (CAP_FS_MASK). */
export const CAP_FS_MASK = [
  CAP_CHOWN,
  CAP_DAC_OVERRIDE,
  CAP_DAC_READ_SEARCH,
  CAP_FOWNER,
  CAP_FSETID,
  CAP_LINUX_IMMUTABLE,
  CAP_MKNOD,
  CAP_MAC_OVERRIDE,
].reduce((m, c) => m | (1n << BigInt(c)), 0n);

// securebits (PR_SET_SECUREBITS); each *_LOCKED bit is the one above its flag.
export const SECBIT_NOROOT = 1 << 0;
export const SECBIT_NOROOT_LOCKED = 1 << 1;
export const SECBIT_NO_SETUID_FIXUP = 1 << 2;
export const SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3;
export const SECBIT_KEEP_CAPS = 1 << 4;
export const SECBIT_KEEP_CAPS_LOCKED = 1 << 5;
export const SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6;
export const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7;
export const SECURE_ALL_BITS = 0x55;
export const SECURE_ALL_LOCKS = 0xaa;

/** The capability fields of Credentials (flat, so a spread copy is a deep copy). */
export interface CapSets {
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capBnd: bigint;
  capAmb: bigint;
  securebits: number;
}

/** 1n << cap for each capability, precomputed (privilege checks run on hot paths). */
const CAP_BITS: readonly bigint[] = Array.from({ length: 64 }, (_, i) => 1n << BigInt(i));

export function capBit(cap: number): bigint {
  return CAP_BITS[cap] ?? 1n << BigInt(cap);
}

/** Whether `cap` is a capability number this kernel knows (cap_valid). */
export function capValid(cap: number): boolean {
  return Number.isInteger(cap) && cap >= 0 && cap <= CAP_LAST_CAP;
}

/** capable(): whether the credentials have `cap` in their effective set. */
export function hasCap(c: Credentials, cap: number): boolean {
  return (c.capEff & CAP_BITS[cap]) !== 0n;
}

/** Capability check on a task's credentials (Linux's capable()). */
export function capable(t: { creds: Credentials }, cap: number): boolean {
  return (t.creds.capEff & CAP_BITS[cap]) !== 0n;
}

/**
 * The sets Linux gives a process of `uid` that a root parent started without changing its
 * capabilities: uid 0 has everything; any other uid has empty sets (what execve of a
 * program without file capabilities computes). The bounding set is full either way.
 */
export function defaultCaps(uid: number): CapSets {
  const all = uid === 0 ? CAP_FULL : 0n;
  return { capEff: all, capPrm: all, capInh: 0n, capBnd: CAP_FULL, capAmb: 0n, securebits: 0 };
}

/** Credentials for uid/gid (and supplementary groups) with Linux's default capabilities for that uid. */
export function makeCreds(
  uid: number,
  gid: number,
  groups: number[] = [],
  caps?: Partial<CapSets>,
): Credentials {
  return {
    uid,
    gid,
    euid: uid,
    egid: gid,
    suid: uid,
    sgid: gid,
    fsuid: uid,
    fsgid: gid,
    groups: [...groups],
    ...defaultCaps(uid),
    ...caps,
  };
}

/** Root with every capability (the sandbox's own operations, pid 1 of `runsc do`). */
export function rootCreds(): Credentials {
  return makeCreds(0, 0);
}

/**
 * The capability changes Linux makes when setuid/setreuid/setresuid change the uids
 * (cap_emulate_setxuid). `old` is the uids before the call; `c` has the new uids and is
 * updated in place. Nothing happens under SECBIT_NO_SETUID_FIXUP.
 */
export function afterSetuid(old: { uid: number; euid: number; suid: number }, c: Credentials): void {
  if (c.securebits & SECBIT_NO_SETUID_FIXUP) return;
  const wasRoot = old.uid === 0 || old.euid === 0 || old.suid === 0;
  const isRoot = c.uid === 0 || c.euid === 0 || c.suid === 0;
  if (wasRoot && !isRoot) {
    if (!(c.securebits & SECBIT_KEEP_CAPS)) {
      c.capPrm = 0n;
      c.capEff = 0n;
    }
    c.capAmb = 0n;
  }
  if (old.euid === 0 && c.euid !== 0) c.capEff = 0n;
  if (old.euid !== 0 && c.euid === 0) c.capEff = c.capPrm;
}

/** The capability changes of setfsuid (and of any fsuid change): the filesystem set follows fsuid 0. */
export function afterSetfsuid(oldFsuid: number, c: Credentials): void {
  if (c.securebits & SECBIT_NO_SETUID_FIXUP) return;
  if (oldFsuid === 0 && c.fsuid !== 0) c.capEff &= ~CAP_FS_MASK;
  if (oldFsuid !== 0 && c.fsuid === 0) c.capEff |= c.capPrm & CAP_FS_MASK;
}

/** What execve needs to know of the program file for the credential transformation. */
export interface ExecFileIds {
  mode: number;
  uid: number;
  gid: number;
  /** The file lives on a nosuid mount: its set-ID bits are ignored. */
  nosuid: boolean;
}

const S_ISUID = 0o4000,
  S_ISGID = 0o2000,
  S_IXGRP = 0o010;

/**
 * The credentials after execve of a program with `file`'s ids (Linux's bprm_fill_uid and
 * cap_bprm_creds_from_file, for a file without file capabilities). Returns the new
 * credentials and whether the exec is "secure" (AT_SECURE: the program gained ids or
 * capabilities the caller did not already have).
 */
export function execCreds(
  old: Credentials,
  file: ExecFileIds | undefined,
  noNewPrivs: boolean,
): { creds: Credentials; secure: boolean } {
  const n: Credentials = { ...old, groups: [...old.groups] };
  // Set-user-ID / set-group-ID bits (ignored on nosuid mounts and under no_new_privs).
  if (file && !file.nosuid && !noNewPrivs) {
    if (file.mode & S_ISUID) n.euid = file.uid;
    if ((file.mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) n.egid = file.gid;
  }
  // Without file capabilities the new permitted set starts empty...
  n.capPrm = 0n;
  let effective = false;
  // ...except that root is all-powerful: pP' = bounding | inheritable, and pE' = pP' when euid is 0.
  if (!(old.securebits & SECBIT_NOROOT)) {
    if (n.euid === 0 || n.uid === 0) n.capPrm = old.capBnd | old.capInh;
    if (n.euid === 0) effective = true;
  }
  // "set-ID" compares the new effective ids with the old *real* ones (__is_setuid).
  const isSetid = n.euid !== old.uid || n.egid !== old.gid;
  const gained = (n.capPrm & ~old.capPrm) !== 0n;
  // no_new_privs: the program gets no ids and no capabilities the caller did not have.
  if ((isSetid || gained) && noNewPrivs) {
    n.euid = n.uid;
    n.egid = n.gid;
    n.capPrm &= old.capPrm;
  }
  n.suid = n.fsuid = n.euid;
  n.sgid = n.fsgid = n.egid;
  // A set-ID exec cancels the ambient set; pP' = pP' | pA'; pE' = root-effective ? pP' : pA'.
  if (isSetid) n.capAmb = 0n;
  n.capPrm |= n.capAmb;
  n.capEff = effective ? n.capPrm : n.capAmb;
  n.securebits &= ~SECBIT_KEEP_CAPS;
  const secure = isSetid || (n.uid !== 0 && (effective || (n.capPrm & ~n.capAmb) !== 0n));
  return { creds: n, secure };
}

/** A capability set as a list of names (logs, error messages). */
export function capNames(set: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i <= CAP_LAST_CAP; i++) if (set & capBit(i)) out.push(CAP_NAMES[i]);
  return out;
}

/**
 * Parse config.json capability names ("CAP_CHOWN", case-insensitive, "CAP_" optional as
 * runc accepts) into a set. Unknown names are returned in `unknown` for the caller to
 * reject or warn about.
 */
export function parseCapNames(names: readonly string[]): { set: bigint; unknown: string[] } {
  let set = 0n;
  const unknown: string[] = [];
  for (const raw of names) {
    const up = raw.toUpperCase();
    const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
    const i = CAP_NAMES.indexOf(name);
    if (i < 0) unknown.push(raw);
    else set |= capBit(i);
  }
  return { set, unknown };
}
