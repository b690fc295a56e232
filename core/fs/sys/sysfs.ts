/**
 * A minimal sysfs (Linux's fs/sysfs over kernfs): what libc and common tools read.
 *
 *   /sys/devices/system/cpu/{online,possible,present,kernel_max}   "0-N"
 *   /sys/devices/system/cpu/cpuN/topology/{core_id,physical_package_id,
 *                                          thread_siblings_list,core_siblings_list}
 *   /sys/kernel/mm/transparent_hugepage/{enabled,defrag}          "always madvise [never]"
 *   /sys/fs/cgroup, /sys/class/net                                 empty directories
 *
 * Read-only: attributes stat as 0444 with st_size 4096 (as sysfs attributes do), and
 * opening one for writing fails with EACCES, even for root; creating a file is EACCES,
 * mkdir EPERM (as kernfs answers).
 */
import { EACCES } from '../../abi/errno';
import type { Inode } from '../../vfs/inode';
import { SYSFS_MAGIC } from '../../vfs/inode';
import { SynthDir, SynthFs } from '../proc/synth';

export interface SysfsOptions {
  /** Number of CPUs the sandbox has (cpu0 .. cpu{cpus-1}). */
  cpus: number;
}

/** "0-3" (or "0" for one CPU). */
export function cpuRange(n: number): string {
  return n <= 1 ? '0' : `0-${n - 1}`;
}

export class SysFilesystem extends SynthFs {
  private readonly rootDir: SynthDir;

  constructor(readonly opts: SysfsOptions) {
    super('sysfs', SYSFS_MAGIC);
    this.createErrno = EACCES;
    this.rootDir = new SynthDir(this, this.allocIno(), 0o555);
    this.build();
  }

  root(): Inode {
    return this.rootDir;
  }

  private attr(dir: SynthDir, name: string, text: string): void {
    dir.file(name, () => text + '\n', { denyWriteOpen: true, size: 4096 });
  }

  private build(): void {
    const n = Math.max(1, this.opts.cpus | 0);
    const all = cpuRange(n);
    const r = this.rootDir;
    r.dir('block', 0o755);
    r.dir('bus', 0o755);
    r.dir('class', 0o755).dir('net', 0o755);
    r.dir('dev', 0o755);
    const cpu = r.dir('devices', 0o755).dir('system', 0o755).dir('cpu', 0o755);
    this.attr(cpu, 'kernel_max', String(Math.max(n - 1, 8191)));
    this.attr(cpu, 'offline', '');
    this.attr(cpu, 'online', all);
    this.attr(cpu, 'possible', all);
    this.attr(cpu, 'present', all);
    for (let i = 0; i < n; i++) {
      const c = cpu.dir(`cpu${i}`, 0o755);
      const topo = c.dir('topology', 0o755);
      this.attr(topo, 'core_id', String(i));
      this.attr(topo, 'physical_package_id', '0');
      this.attr(topo, 'thread_siblings_list', String(i));
      this.attr(topo, 'core_siblings_list', all);
    }
    r.dir('firmware', 0o755);
    r.dir('fs', 0o755).dir('cgroup', 0o755);
    const thp = r.dir('kernel', 0o755).dir('mm', 0o755).dir('transparent_hugepage', 0o755);
    this.attr(thp, 'enabled', 'always madvise [never]');
    this.attr(thp, 'defrag', 'always defer defer+madvise madvise [never]');
    r.dir('module', 0o755);
    r.dir('power', 0o755);
  }
}
