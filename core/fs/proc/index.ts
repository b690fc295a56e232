/**
 * core/fs/proc: procfs over a ProcSource (the kernel's adapter is
 * core/kernel/proc-source.ts). `new ProcFilesystem(source)` makes a mountable instance.
 */
export * from './source';
export { ProcFilesystem, mayInspect, pidIno, procDirPid, PID_MAX, UTS_RELEASE, UTS_VERSION } from './procfs';
export { fdLinkTarget, fdLinkText, formatFdinfo, type ProcFdHooks } from './fdlinks';
export { type MagicLink, SnapshotFile, SynthDir, SynthFile, SynthFs, SynthLink } from './synth';
export * as procFormat from './format';
