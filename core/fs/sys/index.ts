/** core/fs/sys: a minimal read-only sysfs. */
export { cpuRange, SysFilesystem, type SysfsOptions } from './sysfs';
