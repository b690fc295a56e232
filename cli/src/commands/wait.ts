import { Args } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class Wait extends OciCommand {
  static override summary = 'Wait for a container\'s init to exit; print {"id", "exitStatus"}.';
  static override description =
    'exitStatus is the exit code, or 128+N when the init was killed by signal N. runsc wait itself exits 0.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags };

  async run(): Promise<void> {
    const { args } = await this.parse(Wait);
    const { wait } = await import('../../../core/runtime/oci/lifecycle');
    const exitStatus = await wait(await this.store(), args.id);
    process.stdout.write(`${JSON.stringify({ id: args.id, exitStatus })}\n`);
  }
}
