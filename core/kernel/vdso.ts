/**
 * The vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu answered inside the
 * app without a trap (docs/vdso.md).
 *
 * One MemObject in the memory file holds two things, mapped into every address space at
 * exec, right above the stack as Linux places them:
 *   page 0      the parameter page, "[vvar]": read-only and shared, kept current here;
 *   pages 1..n  the vDSO image built from core/vdso/vdso.c, "[vdso]": read + execute,
 *               private (a debugger's breakpoint gets a private copy, see Vma.cow).
 * The image finds the parameter page one page below its ELF header.
 *
 * Clock model (core/vdso/params.h): CLOCK_MONOTONIC = base + (tsc - tscBase) * mult >> 32,
 * with `rdtsc` read in the app. The sentry answers the clock syscalls with the same formula
 * (clockNs), so the two paths agree to the nanosecond. The sentry steers the formula to
 * the host's CLOCK_MONOTONIC: every TICK_MS it samples (TSC, host clock), re-bases the
 * formula where it stands (never a backward step) and sets a rate that removes the
 * accumulated error over the next tick, within ±MAX_SLEW (as NTP slews a clock).
 *
 * Only used when the platform says the app's TSC is the host's (ptrace: yes) and the CPU
 * has an invariant TSC (constant_tsc + nonstop_tsc); otherwise no vDSO is mapped and glibc
 * makes the system calls, as it does on a kernel without a vDSO.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { coreNative } from '../native';
import type { MemoryFile } from '../mm/memfile';
import { MemObject } from '../mm/memobject';
import { PAGE_SIZE } from '../mm/memfile';
import { PROT_EXEC, PROT_READ, type MemoryManager } from '../mm/mm';

/** Base clocks of the parameter page (params.h TSV_CLK_*). */
export const VDSO_MONO = 0,
  VDSO_REAL = 1,
  VDSO_BOOT = 2;

const PARAMS_VERSION = 1;
const CLOCK_VALID = 1;
/** Offsets in the parameter page (params.h TSV_OFF_*; checked by static_assert in core.cc). */
const OFF_TSC_BASE = 8,
  OFF_MULT = 16,
  OFF_MONO_BASE = 24;

/** How often the sentry re-steers the clock formula. */
const TICK_MS = 500;
/** The largest rate correction applied in one tick (parts per unit). */
const MAX_SLEW = 0.0005;
/** An error beyond this is stepped (forward only) rather than slewed. */
const STEP_NS = 50_000_000n;

export interface VdsoLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The built image: core/vdso/build/vdso.so beside the compiled core (dist/core/kernel → repo). */
export function vdsoImagePath(): string {
  return path.resolve(__dirname, '..', '..', '..', 'core', 'vdso', 'build', 'vdso.so');
}

/** Why the host cannot use the TSC-based vDSO, or '' when it can. */
export function tscUnusableReason(cpuinfo?: string): string {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'latin1');
    } catch (e) {
      return `cannot read /proc/cpuinfo (${(e as Error).message})`;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1].trim().split(/\s+/) ?? [];
  for (const f of ['tsc', 'constant_tsc', 'nonstop_tsc'])
    if (!flags.includes(f)) return `the CPU lacks ${f} (no invariant TSC)`;
  return '';
}

interface Sample {
  tsc: bigint;
  mono: bigint;
  real: bigint;
  boot: bigint;
}

export class Vdso {
  /** Parameter page + image, one object; every mapping holds a reference. */
  private readonly obj: MemObject;
  /** Pages of the image (after the parameter page). */
  private readonly imagePages: number;
  /** The sentry's writable view of the parameter page. */
  private readonly page: Uint8Array;
  private readonly dv: DataView;
  private readonly anchor: Sample;
  private readonly timer: NodeJS.Timeout;
  private readonly fields = new BigInt64Array(11);
  private readonly sampleBuf = new BigInt64Array(4);
  private disposed = false;

  /**
   * The vDSO for one kernel, or undefined (logged) when this host or build cannot have one.
   * `cpu` is what getcpu reports.
   */
  static create(mf: MemoryFile, log: VdsoLogger, opts: { hostTsc: boolean; cpu?: number }): Vdso | undefined {
    const why = !opts.hostTsc ? 'the platform does not run the app on the host TSC' : tscUnusableReason();
    if (why) {
      log.debug({ reason: why }, 'vdso: not mapped; clock calls trap into the sentry');
      return undefined;
    }
    let image: Buffer;
    try {
      image = fs.readFileSync(vdsoImagePath());
    } catch (e) {
      log.warn(
        { path: vdsoImagePath(), err: (e as Error).message },
        'vdso: image not built (run `npm install` or `node scripts/build-native.js`); clock calls trap into the sentry',
      );
      return undefined;
    }
    return new Vdso(mf, image, opts.cpu ?? 0);
  }

  private constructor(mf: MemoryFile, image: Uint8Array, cpu: number) {
    this.imagePages = Math.ceil(image.length / PAGE_SIZE);
    // The filler gives the image back to a private copy whose pages are discarded
    // (MADV_DONTNEED on [vdso] reads the original code again, as on Linux).
    this.obj = new MemObject(mf, (objOff, dst) => {
      // Object byte o holds image byte o - PAGE_SIZE (page 0 is the parameter page).
      const imgFrom = objOff - PAGE_SIZE;
      const dstStart = Math.max(0, -imgFrom);
      const srcStart = Math.max(0, imgFrom);
      if (srcStart < image.length && dstStart < dst.length)
        dst.set(image.subarray(srcStart, srcStart + dst.length - dstStart), dstStart);
    });
    this.page = this.obj.viewWithinExtent(0, PAGE_SIZE);
    this.dv = new DataView(this.page.buffer, this.page.byteOffset, PAGE_SIZE);
    this.cpu = cpu;
    // Calibrate: two samples a few milliseconds apart give a first rate; every tick then
    // measures the rate over the whole time since `anchor`, so it only gets better.
    this.anchor = this.sample();
    const until = process.hrtime.bigint() + 2_000_000n;
    while (process.hrtime.bigint() < until);
    const s = this.sample();
    this.publish(this.rateSince(s), 0n, s, true);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private readonly cpu: number;

  /** Map [vvar] and [vdso] into a fresh address space near `hint`; returns AT_SYSINFO_EHDR. */
  mapInto(mm: MemoryManager, hint: number): number {
    const len = (1 + this.imagePages) * PAGE_SIZE;
    const at = mm.isFree(hint, hint + len) ? hint : mm.findFree(len);
    mm.map({
      addr: at,
      len: PAGE_SIZE,
      prot: PROT_READ,
      fixed: true,
      shared: true,
      obj: this.obj.incRef(),
      objOff: 0,
      name: { special: '[vvar]' },
    });
    // Linux's [vvar] cannot be made writable (no VM_MAYWRITE): mprotect gives EACCES.
    const vvar = mm.findVma(at);
    if (vvar) vvar.mayWrite = false;
    mm.map({
      addr: at + PAGE_SIZE,
      len: this.imagePages * PAGE_SIZE,
      prot: PROT_READ | PROT_EXEC,
      fixed: true,
      shared: false,
      obj: this.obj.incRef(),
      objOff: PAGE_SIZE,
      name: { special: '[vdso]' },
    });
    // Shared by every process until one changes it (mprotect to writable copies it).
    const text = mm.findVma(at + PAGE_SIZE);
    if (text) text.cow = true;
    return at + PAGE_SIZE;
  }

  /** Nanoseconds on a base clock (VDSO_MONO/REAL/BOOT), exactly as the app's vDSO reads it. */
  clockNs(which: number): bigint {
    return coreNative().vdsoClock(this.page, which);
  }

  /** Stop steering the clock; mappings keep their reference to the object. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.timer);
    this.obj.decRef();
  }

  private sample(): Sample {
    const b = this.sampleBuf;
    coreNative().vdsoSample(b);
    return { tsc: b[0], mono: b[1], real: b[2], boot: b[3] };
  }

  /** ns per tick × 2^32, measured from the anchor to `s`. */
  private rateSince(s: Sample): number {
    const dt = Number(s.tsc - this.anchor.tsc);
    const dns = Number(s.mono - this.anchor.mono);
    return dt > 0 ? (dns / dt) * 2 ** 32 : 0;
  }

  /** Where the published formula stands at TSC `tsc`. */
  private formulaAt(tsc: bigint): bigint {
    const base = this.dv.getBigUint64(OFF_TSC_BASE, true);
    const mult = this.dv.getBigUint64(OFF_MULT, true);
    const mono = this.dv.getBigInt64(OFF_MONO_BASE, true);
    const d = tsc > base ? tsc - base : 0n;
    return mono + ((d * mult) >> 32n);
  }

  private tick(): void {
    if (this.disposed) return;
    const s = this.sample();
    const rate = this.rateSince(s);
    if (!(rate > 0)) return;
    const err = s.mono - this.formulaAt(s.tsc);
    let step = 0n;
    let slew = 0;
    if (err > STEP_NS)
      step = err; // far behind (host suspended?): jump forward
    else {
      // Remove the error over the next tick; a formula ahead of the host only slows down.
      slew = Number(err) / (TICK_MS * 1e6);
      slew = Math.max(-MAX_SLEW, Math.min(MAX_SLEW, slew));
    }
    this.publish(rate * (1 + slew), step, s, false);
  }

  /**
   * Write new parameters. `initial`: the formula starts at sample `s`; otherwise the native
   * side re-bases it at the TSC read inside the update (continuous, plus `step` ≥ 0).
   */
  private publish(mult: number, step: bigint, s: Sample, initial: boolean): void {
    const f = this.fields;
    f[0] = BigInt(CLOCK_VALID);
    f[1] = BigInt(Math.round(mult));
    f[2] = step;
    f[3] = s.real - s.mono;
    f[4] = s.boot - s.mono;
    f[5] = BigInt(this.cpu);
    f[6] = 0n;
    f[7] = BigInt(PARAMS_VERSION);
    f[8] = initial ? 1n : 0n;
    f[9] = s.tsc;
    f[10] = s.mono;
    coreNative().vdsoWrite(this.page, f);
  }
}
