import * as fs from 'node:fs';
import * as path from 'node:path';
import { Flags } from '@oclif/core';
import { RunscCommand } from '../base';

export default class Spec extends RunscCommand {
  static override summary = 'Write a default OCI config.json into the bundle folder.';
  static override description =
    'As `runc spec`: the config runs `sh` with a terminal in ./rootfs (read-only root), with proc, sysfs, devpts, a /dev tmpfs, /dev/shm and /dev/mqueue mounted. Edit it, then `runsc run ID`. Refuses to overwrite an existing config.json.';
  static override examples = [
    'mkdir -p bundle/rootfs && cd bundle && <%= config.bin %> spec',
    '<%= config.bin %> spec --bundle ./bundle --no-terminal -- /bin/echo hello',
  ];
  static override strict = false;
  static override flags = {
    bundle: Flags.string({
      char: 'b',
      description: 'The bundle folder. [default: the current folder]',
      helpValue: 'DIR',
    }),
    terminal: Flags.boolean({ allowNo: true, default: true, description: 'Set process.terminal.' }),
    rootless: Flags.string({
      description: 'Accepted for runc compatibility.',
      helpValue: 'BOOL',
      hidden: true,
    }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Spec);
    const { defaultSpec } = await import('../../../core/runtime/oci/spec');
    const dir = path.resolve(flags.bundle ?? '.');
    const file = path.join(dir, 'config.json');
    if (fs.existsSync(file))
      throw Object.assign(new Error(`File ${file} exists. Remove it first.`), { exitCode: 1 });
    const args = (argv as string[]).filter((a) => a !== '--');
    const spec = defaultSpec(args.length ? args : ['sh'], flags.terminal);
    try {
      fs.writeFileSync(file, `${JSON.stringify(spec, null, '\t')}\n`, { flag: 'wx' });
    } catch (e) {
      throw Object.assign(new Error(`cannot write ${file}: ${(e as Error).message}`), { exitCode: 1 });
    }
  }
}
